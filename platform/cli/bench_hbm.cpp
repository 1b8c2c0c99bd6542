// `npuvp bench hbm`: one HBM channel driven by a synthetic traffic generator;
// prints bandwidth, latency, row-buffer behaviour and simulator speed. --sweep
// raises the offered load past saturation, one fresh kernel per point.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <systemc>

#include "models/hbm/hbm_channel.h"
#include "models/hbm/hbm_traffic_gen.h"
#include "platform/base/file_io.h"
#include "platform/base/stopwatch.h"
#include "platform/base/trace.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"
#include "platform/sim/isolated_run.h"

namespace npuvp::cli {

namespace {

struct bench_options {
  std::string preset = "hbm2e", pattern = "seq", mode = "at";
  double read_ratio = 1.0, load = 0;
  int outstanding = 64;
  uint64_t request_bytes = 64, requests = 200000, seed = 1, stride = 4096;
  std::string stats_path, trace_path;  // single run only; empty: not written
};

// One simulation in this process's SystemC kernel; returns its figures.
nlohmann::json run_one(const bench_options& o) {
  const hbm_config cfg =
      parse_hw_config("hbm:\n  preset: " + o.preset + "\n  mode: " + o.mode + "\n", "npuvp bench hbm").hbm;
  trace_writer trace;
  hbm_channel channel("hbm", cfg, false, o.trace_path.empty() ? nullptr : &trace);
  hbm_traffic_config tc;
  tc.pattern = o.pattern;
  tc.read_ratio = o.read_ratio;
  tc.request_bytes = o.request_bytes;
  tc.load = o.load;
  tc.outstanding = o.outstanding;
  tc.requests = o.requests;
  tc.seed = o.seed;
  tc.stride = o.stride;
  tc.capacity = channel.capacity_bytes();
  tc.peak_gbps = cfg.peak_gbps();
  hbm_traffic_gen traffic("traffic", tc);
  traffic.mem_out.bind(channel.port_in);

  const stopwatch clock;
  sc_core::sc_start();
  const double wall_s = clock.seconds();
  if (traffic.completed() != o.requests)
    throw simulation_error("npuvp bench hbm: only " + std::to_string(traffic.completed()) + " of " +
                           std::to_string(o.requests) + " requests completed");

  stats_writer stats;
  channel.report_stats(stats);
  stats.meta("command", "bench hbm");
  stats.meta("seed", o.seed);
  stats.meta("hbm", config::to_json(cfg));
  if (!o.stats_path.empty()) stats.write(o.stats_path);
  if (!o.trace_path.empty()) trace.write(o.trace_path);
  const double span = traffic.last_done_ns() - traffic.first_issue_ns();
  const double achieved = span > 0 ? static_cast<double>(traffic.bytes()) / span : 0.0;
  const auto& lat = traffic.read_latency();
  nlohmann::json j = {
      {"preset", o.preset},
      {"mode", o.mode},
      {"pattern", o.pattern},
      {"read_ratio", o.read_ratio},
      {"request_bytes", o.request_bytes},
      {"requests", o.requests},
      {"seed", o.seed},
      {"peak_gbps", cfg.peak_gbps()},
      {"achieved_gbps", achieved},
      {"efficiency", achieved / cfg.peak_gbps()},
      {"mean_latency_ns", lat.mean()},
      {"p50_latency_ns", lat.percentile(50)},
      {"p99_latency_ns", lat.percentile(99)},
      {"simulated_ns", sc_core::sc_time_stamp().to_seconds() * 1e9},
      {"wall_s", wall_s},
      {"transactions_per_s", wall_s > 0 ? static_cast<double>(o.requests) / wall_s : 0.0},
  };
  if (o.load > 0) {
    j["offered_load"] = o.load;
    j["offered_gbps"] = o.load * cfg.peak_gbps();
  } else {
    j["outstanding"] = o.outstanding;
  }
  if (cfg.mode == "at") {
    for (const char* k : {"row_hits", "row_misses", "row_conflicts", "row_hit_rate", "refreshes"})
      j[k] = stats.value("hbm", k);
  } else {
    j["approximation"] = stats.json().at("groups").at("hbm").at("approximation").at("value");
  }
  return j;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

void print_run(const nlohmann::json& r) {
  std::cout << "npuvp bench hbm: preset " << r["preset"].get<std::string>() << ", mode " << r["mode"].get<std::string>()
            << ", pattern " << r["pattern"].get<std::string>() << ", read ratio " << fixed(r["read_ratio"], 2) << ", "
            << r["request_bytes"] << " B requests, ";
  if (r.contains("offered_load"))
    std::cout << "open loop at " << fixed(r["offered_load"], 2) << " of peak (" << fixed(r["offered_gbps"], 2)
              << " GB/s)";
  else
    std::cout << "closed loop, " << r["outstanding"] << " outstanding";
  std::cout << ", " << r["requests"] << " requests, seed " << r["seed"] << "\n";
  std::cout << "  peak bandwidth      " << fixed(r["peak_gbps"], 2) << " GB/s\n"
            << "  achieved bandwidth  " << fixed(r["achieved_gbps"], 2) << " GB/s (efficiency "
            << fixed(100 * r["efficiency"].get<double>(), 1) << "% of peak)\n"
            << "  read latency        mean " << fixed(r["mean_latency_ns"], 1) << " ns, p50 "
            << fixed(r["p50_latency_ns"], 1) << " ns, p99 " << fixed(r["p99_latency_ns"], 1) << " ns\n";
  if (r.contains("row_hits")) {
    const auto count = [&](const char* k) { return static_cast<uint64_t>(r[k].get<double>()); };
    std::cout << "  row buffer          " << count("row_hits") << " hits, " << count("row_misses") << " misses, "
              << count("row_conflicts") << " conflicts (bursts; hit rate "
              << fixed(100 * r["row_hit_rate"].get<double>(), 1) << "%)\n"
              << "  refreshes           " << count("refreshes") << "\n";
  } else {
    std::cout << "  note                " << r["approximation"].get<std::string>() << "\n";
  }
  char speed[32];
  std::snprintf(speed, sizeof speed, "%.3g", r["transactions_per_s"].get<double>());
  std::cout << "  simulated time      " << fixed(r["simulated_ns"].get<double>() / 1000, 3) << " us\n"
            << "  wall-clock time     " << fixed(r["wall_s"], 3) << " s\n"
            << "  simulator speed     " << speed << " transactions per wall-clock second\n";
}

}  // namespace

int bench_hbm(const std::vector<std::string>& args) {
  bench_options o;
  std::string csv = "hbm_sweep.csv";
  po::options_description desc("bench hbm options");
  desc.add_options()("preset", po::value(&o.preset)->default_value(o.preset), "HBM generation: hbm2, hbm2e or hbm3")(
      "mode", po::value(&o.mode)->default_value(o.mode), "channel model: at (4-phase, banks, refresh) or lt")(
      "pattern", po::value(&o.pattern)->default_value(o.pattern), "addresses: seq, random or stride")(
      "read-ratio", po::value(&o.read_ratio)->default_value(o.read_ratio), "fraction of reads, 0..1")(
      "request-bytes", po::value(&o.request_bytes)->default_value(o.request_bytes), "bytes per request")(
      "load", po::value(&o.load), "open loop: offered load as a fraction of peak (Poisson arrivals)")(
      "outstanding", po::value(&o.outstanding)->default_value(o.outstanding),
      "closed loop: requests in flight (used when --load is not given)")(
      "requests", po::value(&o.requests)->default_value(o.requests), "requests per run")(
      "seed", po::value(&o.seed)->default_value(o.seed), "seed of addresses, read/write choice and arrivals")(
      "stride", po::value(&o.stride)->default_value(o.stride), "bytes between requests for --pattern stride")(
      "sweep", "open-loop sweep of offered load 0.01 .. 1.2 (one fresh simulation per point, 2 in parallel)")(
      "csv", po::value(&csv)->default_value(csv), "sweep output CSV")(
      "stats", po::value(&o.stats_path), "single run: write the channel's statistics JSON to this file")(
      "trace", po::value(&o.trace_path), "single run: write a Perfetto trace (one event per request and refresh)")(
      "json", "print the figures as one JSON object (sweep: an array)");
  po::variables_map vm;
  if (!parse("npuvp bench hbm [--preset P] [--pattern seq|random|stride] [--read-ratio F] [--request-bytes B] "
             "[--load F | --outstanding K] [--requests N] [--seed S] [--stride B] [--mode at|lt] [--sweep] "
             "[--csv FILE] [--stats FILE] [--trace FILE] [--json]",
             desc, args, vm))
    return 0;
  if (o.pattern != "seq" && o.pattern != "random" && o.pattern != "stride")
    throw usage_error("--pattern must be seq, random or stride, not '" + o.pattern + "'");
  if (o.read_ratio < 0 || o.read_ratio > 1) throw usage_error("--read-ratio must lie in 0..1");
  if (o.request_bytes == 0) throw usage_error("--request-bytes must be positive");
  if (o.requests == 0) throw usage_error("--requests must be positive");
  if (o.stride == 0) throw usage_error("--stride must be positive");
  if (vm.count("load") && !vm["outstanding"].defaulted())
    throw usage_error("give either --load (open loop) or --outstanding (closed loop), not both");
  if (vm.count("load") && o.load <= 0) throw usage_error("--load must be positive");
  if (o.outstanding < 1) throw usage_error("--outstanding must be >= 1");
  const bool json = vm.count("json") > 0;

  if (!vm.count("sweep")) {
    check_writable(o.stats_path);
    check_writable(o.trace_path);
    const auto r = run_one(o);
    if (json)
      std::cout << r.dump(2) << "\n";
    else
      print_run(r);
    return 0;
  }
  if (vm.count("load")) throw usage_error("--sweep chooses the offered loads itself; drop --load");
  if (!o.stats_path.empty() || !o.trace_path.empty())
    throw usage_error("--stats and --trace describe one run; drop them with --sweep");
  check_writable(csv);
  const std::vector<double> loads = {0.01, 0.05, 0.1,  0.2, 0.3,  0.4, 0.5, 0.6,
                                     0.7,  0.8,  0.85, 0.9, 0.95, 1.0, 1.1, 1.2};
  std::vector<isolated_job> jobs;
  for (double l : loads) {
    bench_options p = o;
    p.load = l;
    jobs.push_back([p] { return run_one(p); });
  }
  const auto results = run_isolated(jobs, 2);
  std::ostringstream out;
  out << "offered_load,offered_gbps,achieved_gbps,mean_latency_ns,p50_latency_ns,p99_latency_ns\n";
  for (const auto& r : results)
    out << r["offered_load"].get<double>() << "," << fixed(r["offered_gbps"], 4) << "," << fixed(r["achieved_gbps"], 4)
        << "," << fixed(r["mean_latency_ns"], 3) << "," << fixed(r["p50_latency_ns"], 3) << ","
        << fixed(r["p99_latency_ns"], 3) << "\n";
  write_file_atomically(csv, out.str());
  if (json) {
    std::cout << nlohmann::json(results).dump(2) << "\n";
    return 0;
  }
  std::cout << "npuvp bench hbm --sweep: preset " << o.preset << ", mode " << o.mode << ", pattern " << o.pattern
            << ", read ratio " << fixed(o.read_ratio, 2) << ", " << o.request_bytes << " B requests, " << o.requests
            << " requests per point, seed " << o.seed << ", peak " << fixed(results[0]["peak_gbps"], 2) << " GB/s\n";
  std::cout << "  load  offered GB/s  achieved GB/s  mean ns    p50 ns     p99 ns\n";
  for (const auto& r : results) {
    std::cout << "  " << std::setw(4) << fixed(r["offered_load"], 2) << "  " << std::setw(12)
              << fixed(r["offered_gbps"], 2) << "  " << std::setw(13) << fixed(r["achieved_gbps"], 2) << "  "
              << std::setw(9) << fixed(r["mean_latency_ns"], 1) << "  " << std::setw(9) << fixed(r["p50_latency_ns"], 1)
              << "  " << std::setw(9) << fixed(r["p99_latency_ns"], 1) << "\n";
  }
  std::cout << "  wrote " << csv << "\n";
  return 0;
}

}  // namespace npuvp::cli
