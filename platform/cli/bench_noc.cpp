// `npuvp bench noc`: synthetic traffic on the mesh alone (no cores, no NIs):
// latency and throughput at one injection rate, or a latency-load sweep up to
// saturation, and the simulator's speed in flits per wall-clock second.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "models/noc/noc_mesh.h"
#include "models/noc/noc_synthetic_traffic.h"
#include "platform/base/error.h"
#include "platform/base/file_io.h"
#include "platform/base/stopwatch.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"
#include "platform/sim/isolated_run.h"

namespace npuvp::cli {

namespace {

struct bench_setup {
  hw_config hw;
  noc_synthetic_config traffic;
};

// Mean zero-load latency of the pattern (closed formula of noc_mesh, averaged
// over the sources and, for random patterns, over their destination mix).
double pattern_zero_load(noc_mesh& mesh, noc_synthetic_traffic& gen, const std::string& pattern, uint32_t flits) {
  const int w = mesh.width(), h = mesh.height();
  double sum = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const noc_endpoint src = mesh.core_port(x, y);
      auto zl = [&](int node) { return static_cast<double>(mesh.zero_load_cycles(src, {node, 0}, flits)); };
      if (pattern == "uniform" || pattern == "hotspot") {
        double u = 0;
        for (int n = 0; n < w * h; ++n) u += zl(n);
        u /= w * h;
        sum += pattern == "hotspot" ? 0.8 * u + 0.2 * zl((h / 2) * w + w / 2) : u;  // hotspot share 0.2
      } else {
        sum += zl(gen.destination(x, y));
      }
    }
  return sum / (w * h);
}

// One simulation in this process's kernel.
nlohmann::json run_point(const bench_setup& s, const std::string& stats_file) {
  noc_mesh mesh(s.hw.name.c_str(), s.hw.noc, s.hw.mesh.width, s.hw.mesh.height);
  noc_synthetic_traffic gen(mesh, s.traffic);
  const double zero_load = pattern_zero_load(mesh, gen, s.traffic.pattern, static_cast<uint32_t>(s.traffic.packet_flits));
  // The traffic generator ends the run with sc_stop(); that is not news.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  const stopwatch clock;
  const std::clock_t cpu0 = std::clock();
  sc_core::sc_start();
  const double cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  const double wall = clock.seconds();
  mesh.check();
  if (!stats_file.empty()) {
    stats_writer w;
    w.meta("seed", s.traffic.seed);
    w.meta("pattern", s.traffic.pattern);
    w.meta("rate", s.traffic.rate);
    mesh.report_stats(w);
    w.write(stats_file);
  }
  return {{"rate", s.traffic.rate},
          {"offered", gen.offered_rate()},
          {"accepted", gen.accepted_rate()},
          {"mean_latency_cycles", gen.latency().mean()},
          {"p99_latency_cycles", gen.latency().percentile(99)},
          {"measured_packets", gen.latency().count()},
          {"drained", gen.drained()},
          {"zero_load_cycles", zero_load},
          {"cycles", mesh.cycles() + 1},
          {"flits", mesh.flits_accepted()},
          {"wall_seconds", wall},
          {"cpu_seconds", cpu},
          {"flits_per_second", wall > 0 ? static_cast<double>(mesh.flits_accepted()) / wall : 0.0},
          {"flits_per_cpu_second", cpu > 0 ? static_cast<double>(mesh.flits_accepted()) / cpu : 0.0}};
}

// One point simulated `repeat` times, one after another, each in a fresh
// process (a SystemC kernel elaborates once). The runs must agree on every
// result (the simulation is deterministic); the speed reported is the
// fastest run's, the one the rest of the machine disturbed least (as the
// cross-check times the perfmodel), and every run's speed is listed.
// `stats_file` is written by the first run.
nlohmann::json timed_point(const bench_setup& s, int repeat, const std::string& stats_file) {
  std::vector<isolated_job> jobs;
  for (int k = 0; k < repeat; ++k)
    jobs.push_back([s, k, stats_file] { return run_point(s, k == 0 ? stats_file : std::string()); });
  const std::vector<nlohmann::json> runs = run_isolated(jobs, 1);
  static const char* speed_fields[] = {"wall_seconds", "cpu_seconds", "flits_per_second", "flits_per_cpu_second"};
  auto results = [](nlohmann::json p) {
    for (const char* f : speed_fields) p.erase(f);
    return p;
  };
  const nlohmann::json first = results(runs.front());
  nlohmann::json best = runs.front(), speeds = nlohmann::json::array();
  for (const nlohmann::json& r : runs) {
    if (results(r) != first)
      throw error("bench noc: two runs of the same point gave different results:\n" + first.dump() + "\n" +
                  results(r).dump());
    speeds.push_back(r["flits_per_second"]);
    if (r["wall_seconds"].get<double>() < best["wall_seconds"].get<double>())
      for (const char* f : speed_fields) best[f] = r[f];
  }
  best["runs_flits_per_second"] = speeds;
  return best;
}

// The speed of a timed_point: best and every run.
std::string speed_text(const nlohmann::json& p) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << p["flits_per_second"].get<double>() / 1e6 << " Mflit/s wall-clock";
  const auto& runs = p["runs_flits_per_second"];
  if (runs.size() > 1) {
    out << ", the best of " << runs.size() << " runs (";
    for (size_t k = 0; k < runs.size(); ++k) out << (k ? ", " : "") << runs[k].get<double>() / 1e6;
    out << ")";
  }
  return out.str();
}

// Saturated: the network accepts clearly less than offered, or the measured
// packets could not all be delivered within the drain limit.
bool saturated(const nlohmann::json& p) {
  return p["accepted"].get<double>() < 0.95 * p["offered"].get<double>() || !p["drained"].get<bool>();
}

void print_point(const nlohmann::json& p) {
  std::cout << std::fixed << std::setprecision(4) << "  rate " << std::setw(7) << p["rate"].get<double>()
            << "  offered " << std::setw(7) << p["offered"].get<double>() << "  accepted " << std::setw(7)
            << p["accepted"].get<double>() << " flits/node/cycle" << std::setprecision(1) << "  latency mean "
            << std::setw(8) << p["mean_latency_cycles"].get<double>() << " p99 " << std::setw(8)
            << p["p99_latency_cycles"].get<double>() << " cycles" << std::setprecision(2) << "  speed "
            << p["flits_per_second"].get<double>() / 1e6 << " Mflit/s" << (p["drained"].get<bool>() ? "" : "  (not drained)")
            << "\n";
}

}  // namespace

int bench_noc(const std::vector<std::string>& args) {
  po::options_description desc("bench noc options");
  std::string mesh_text, pattern = "uniform", hw_file, routing, csv, stats_file;
  double rate = 0;
  int packet_flits = 0, vcs = 0, buffer_flits = 0, router_cycles = 0, link_cycles = 0, repeat = 3;
  uint64_t warmup = 1000, measure = 3000, seed = 0;
  desc.add_options()("mesh", po::value(&mesh_text), "mesh size WxH (default: from the hardware file)")(
      "pattern", po::value(&pattern)->default_value(pattern),
      "traffic: uniform (random destination, self included) | transpose ((x,y)->(y,x)) | bitcomp "
      "((x,y)->(W-1-x,H-1-y)) | hotspot (20% to the centre router, rest uniform) | neighbor ((x,y)->(x+1 mod W,y))")(
      "rate", po::value(&rate), "offered load R in flits per node per cycle (Bernoulli packet injection at R/N)")(
      "packet-flits", po::value(&packet_flits), "packet size N in flits, header included (default: noc.packet_flits)")(
      "hw", po::value(&hw_file), "hardware YAML (default: built-in defaults = scenarios/hw/npu_4x4.yaml NoC)")(
      "vcs", po::value(&vcs), "virtual channels per port (overrides noc.vcs)")(
      "buffer-flits", po::value(&buffer_flits), "input buffer per VC in flits (overrides noc.buffer_flits)")(
      "router-cycles", po::value(&router_cycles), "router pipeline latency (overrides noc.router_cycles)")(
      "link-cycles", po::value(&link_cycles), "link latency (overrides noc.link_cycles)")(
      "routing", po::value(&routing), "xy | yx (overrides noc.routing)")(
      "warmup-cycles", po::value(&warmup)->default_value(warmup), "cycles before the measurement window")(
      "measure-cycles", po::value(&measure)->default_value(measure),
      "measurement window: packets created in it are measured, then drained")(
      "seed", po::value(&seed), "random seed (default: the hardware file's seed)")(
      "repeat", po::value(&repeat)->default_value(repeat),
      "simulate the timed point (the single run, or --sweep's speed point) this many times, each in a fresh "
      "process: the results must agree, the speed printed is the fastest run's and every run's is listed")(
      "sweep", "raise the rate from low load to past saturation, one fresh simulation per point (2 in parallel)")(
      "csv", po::value(&csv), "with --sweep: write the latency-load curve as CSV")(
      "stats", po::value(&stats_file), "without --sweep: write the NoC statistics JSON")(
      "json", "print the results as JSON");
  po::variables_map vm;
  if (!parse("npuvp bench noc [--mesh WxH] [--pattern P] (--rate R | --sweep) [options]", desc, args, vm)) return 0;
  const bool sweep = vm.count("sweep") > 0, json = vm.count("json") > 0;
  if (!sweep && !vm.count("rate")) throw usage_error("give --rate R or --sweep");
  if (!csv.empty() && !sweep) throw usage_error("--csv needs --sweep");
  if (!stats_file.empty() && sweep) throw usage_error("--stats is for a single run, not --sweep");
  if (repeat < 1 || repeat > 100) throw usage_error("--repeat expects 1 to 100 runs, got " + std::to_string(repeat));
  check_writable(csv);
  check_writable(stats_file);

  bench_setup s;
  if (!hw_file.empty()) s.hw = load_hw_config(hw_file);
  if (vm.count("mesh")) {
    char x = 0;
    std::istringstream in(mesh_text);
    int w = 0, h = 0;
    if (!(in >> w >> x >> h) || (x != 'x' && x != 'X') || !in.eof() || w < 1 || h < 1 || w > 64 || h > 64)
      throw usage_error("--mesh expects WxH with 1..64 routers per side, got '" + mesh_text + "'");
    s.hw.mesh.width = w;
    s.hw.mesh.height = h;
  }
  if (vm.count("vcs")) s.hw.noc.vcs = vcs;
  if (vm.count("buffer-flits")) s.hw.noc.buffer_flits = buffer_flits;
  if (vm.count("router-cycles")) s.hw.noc.router_cycles = router_cycles;
  if (vm.count("link-cycles")) s.hw.noc.link_cycles = link_cycles;
  if (vm.count("routing")) s.hw.noc.routing = routing;
  if (vm.count("packet-flits")) s.hw.noc.packet_flits = packet_flits;
  // Re-validate the overridden sections through the same tables as the YAML.
  s.hw.noc = config::read<noc_config>(config::parse_yaml(config::to_json(s.hw.noc).dump(), "command line"),
                                      "command line", "noc");
  s.hw.mesh = config::read<mesh_config>(config::parse_yaml(config::to_json(s.hw.mesh).dump(), "command line"),
                                        "command line", "mesh");
  s.traffic.pattern = pattern;
  s.traffic.packet_flits = s.hw.noc.packet_flits;
  s.traffic.warmup_cycles = warmup;
  s.traffic.measure_cycles = measure;
  s.traffic.seed = vm.count("seed") ? seed : static_cast<uint64_t>(s.hw.seed);
  const int w = s.hw.mesh.width, h = s.hw.mesh.height;
  const double bisection = 4.0 / std::max(w, h);
  const double max_rate = s.hw.noc.link_flits_per_cycle;  // the injection link's capacity

  std::ostringstream head;
  head << "NoC benchmark: " << w << "x" << h << " mesh, " << pattern << " traffic, " << s.traffic.packet_flits
       << "-flit packets, " << s.hw.noc.vcs << " VCs x " << s.hw.noc.buffer_flits << " flits, router "
       << s.hw.noc.router_cycles << " + link " << s.hw.noc.link_cycles << " cycles, " << s.hw.noc.routing
       << " routing, mode " << s.hw.noc.mode << (s.hw.noc.mode == "lt" ? " (ignores contention)" : "")
       << ", seed " << s.traffic.seed << ", warmup " << warmup << " + measure " << measure << " cycles\n";

  if (!sweep) {
    s.traffic.rate = rate;
    const auto p = timed_point(s, repeat, stats_file);
    if (json) {
      std::cout << nlohmann::json{{"setup", config::to_json(s.hw)}, {"pattern", pattern}, {"seed", s.traffic.seed},
                                  {"result", p}}.dump(2)
                << "\n";
      return 0;
    }
    std::cout << head.str() << std::fixed << std::setprecision(4)
              << "offered throughput:  " << p["offered"].get<double>()
              << " flits/node/cycle\naccepted throughput: " << p["accepted"].get<double>() << " flits/node/cycle\n"
              << std::setprecision(1) << "packet latency:      mean " << p["mean_latency_cycles"].get<double>()
              << ", p99 " << p["p99_latency_cycles"].get<double>() << " cycles (creation to last flit, "
              << p["measured_packets"].get<uint64_t>() << " packets"
              << (p["drained"].get<bool>() ? "" : ", NOT all drained") << "; zero-load "
              << p["zero_load_cycles"].get<double>() << ")\n"
              << "simulator speed:     " << speed_text(p) << " (" << p["flits"].get<uint64_t>() << " flits, "
              << p["cycles"].get<uint64_t>() << " cycles in " << std::setprecision(3) << p["wall_seconds"].get<double>()
              << " s wall, " << p["cpu_seconds"].get<double>() << " s CPU = " << std::setprecision(2)
              << p["flits_per_cpu_second"].get<double>() / 1e6 << " Mflit/s per CPU second)\n";
    return 0;
  }

  // Sweep: rates in steps of 1/16 of the uniform bisection bound (capped by
  // the injection link), two fresh kernels at a time, until two points are
  // saturated.
  const double step = std::min(bisection, max_rate) / 16;
  std::vector<nlohmann::json> points;
  int saturated_points = 0;
  if (!json) std::cout << head.str() << "sweep (rate step " << step << " flits/node/cycle):\n";
  for (int i = 1; saturated_points < 2 && step * i <= max_rate + 1e-9; i += 2) {
    std::vector<isolated_job> jobs;
    for (int k = 0; k < 2 && step * (i + k) <= max_rate + 1e-9; ++k) {
      bench_setup point = s;
      point.traffic.rate = step * (i + k);
      jobs.push_back([point] { return run_point(point, ""); });
    }
    for (auto& p : run_isolated(jobs, 2)) {
      if (!json) print_point(p);
      saturated_points += saturated(p);
      points.push_back(std::move(p));
    }
  }
  double sat = 0, knee = 0;
  const double zero_load = points.front()["zero_load_cycles"].get<double>();
  for (const auto& p : points) {
    sat = std::max(sat, p["accepted"].get<double>());
    if (p["mean_latency_cycles"].get<double>() <= 3 * zero_load) knee = std::max(knee, p["accepted"].get<double>());
  }
  // Simulator speed at half the saturation throughput, longer window.
  bench_setup half = s;
  half.traffic.rate = sat / 2;
  half.traffic.measure_cycles = std::max<uint64_t>(measure, 20000);
  const auto speed = timed_point(half, repeat, "");

  if (!csv.empty()) {
    std::ostringstream out;
    out << "rate,offered,accepted,mean_latency_cycles,p99_latency_cycles,flits_per_second\n";
    for (const auto& p : points)
      out << p["rate"].get<double>() << "," << p["offered"].get<double>() << "," << p["accepted"].get<double>() << ","
          << p["mean_latency_cycles"].get<double>() << "," << p["p99_latency_cycles"].get<double>() << ","
          << p["flits_per_second"].get<double>() << "\n";
    write_file_atomically(csv, out.str());
  }
  if (json) {
    std::cout << nlohmann::json{{"setup", config::to_json(s.hw)},
                                {"pattern", pattern},
                                {"seed", s.traffic.seed},
                                {"points", points},
                                {"saturation_throughput", sat},
                                {"saturation_definition", "maximum accepted throughput over the sweep"},
                                {"knee_throughput", knee},
                                {"knee_definition", "highest accepted throughput with mean latency <= 3x zero-load"},
                                {"uniform_bisection_bound", bisection},
                                {"speed_at_half_saturation", speed}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << std::fixed << std::setprecision(4) << "zero-load latency (closed formula, pattern average): "
            << std::setprecision(1) << zero_load << " cycles\n"
            << std::setprecision(4) << "saturation throughput: " << sat
            << " flits/node/cycle (definition: maximum accepted throughput over the sweep)\n"
            << "knee: " << knee << " flits/node/cycle (highest accepted throughput with mean latency <= 3x zero-load)\n"
            << "uniform bisection bound 4/k = " << bisection << " flits/node/cycle";
  if (pattern == "uniform") std::cout << (sat < bisection ? " (saturation is below it)" : " (saturation is NOT below it)");
  std::cout << "\n"
            << std::setprecision(2) << "simulator speed at half saturation (rate " << std::setprecision(4) << sat / 2
            << "): " << speed_text(speed) << " (" << speed["flits"].get<uint64_t>() << " flits in "
            << std::setprecision(3) << speed["wall_seconds"].get<double>() << " s wall, "
            << speed["cpu_seconds"].get<double>() << " s CPU = " << std::setprecision(2)
            << speed["flits_per_cpu_second"].get<double>() / 1e6 << " Mflit/s per CPU second; target 2 Mflit/s)\n";
  if (!csv.empty()) std::cout << "wrote " << csv << "\n";
  return 0;
}

}  // namespace npuvp::cli
