#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "platform/base/error.h"
#include "platform/base/file_io.h"
#include "platform/base/stats.h"
#include "platform/base/trace.h"
#include "platform/sim/isolated_run.h"

using namespace npuvp;

TEST_CASE("sample_stats gives exact moments and close percentiles", "[base]") {
  sample_stats s;
  for (int i = 1; i <= 1000; ++i) s.add(i);
  CHECK(s.count() == 1000);
  CHECK(s.mean() == Approx(500.5));
  CHECK(s.min() == 1);
  CHECK(s.max() == 1000);
  CHECK(s.percentile(50) == Approx(500).epsilon(0.02));
  CHECK(s.percentile(99) == Approx(990).epsilon(0.02));
}

TEST_CASE("stats writer keeps unit and description", "[base]") {
  stats_writer w;
  w.scalar("npu.hbm_0", "reads", 12, "count", "read transactions");
  CHECK(w.value("npu.hbm_0", "reads") == 12);
  CHECK(w.json()["groups"]["npu.hbm_0"]["reads"]["unit"] == "count");
  CHECK_THROWS_AS(w.value("npu.hbm_0", "writes"), npuvp::error);
}

TEST_CASE("trace writer emits valid trace-event JSON with named tracks", "[base]") {
  const std::string path = "trace_test_" + std::to_string(::getpid()) + ".json";
  trace_writer t;
  const auto track = t.track("npu.hbm_0");
  t.complete(track, t.name("read"), 10.0, 5.0);
  t.write(path);
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in);
  std::remove(path.c_str());
  bool named = false, event = false;
  for (const auto& e : j["traceEvents"]) {
    named |= e["ph"] == "M" && e["name"] == "thread_name" && e["args"]["name"] == "npu.hbm_0";
    event |= e["ph"] == "X" && e["name"] == "read" && e["ts"].get<double>() == Approx(0.010);
  }
  CHECK(named);
  CHECK(event);
}

TEST_CASE("atomic write leaves no partial file on failure", "[base]") {
  CHECK_THROWS_AS(write_file_atomically("/nonexistent-dir/out.json", "{}"), npuvp::error);
  std::ifstream in("/nonexistent-dir/out.json.tmp");
  CHECK_FALSE(in.good());
}

TEST_CASE("output folders are created with their parents, or named in the error", "[base]") {
  const std::string root = "make_folder_test";
  std::filesystem::remove_all(root);
  make_folder(root + "/a/b");
  CHECK(std::filesystem::is_directory(root + "/a/b"));
  make_folder(root + "/a/b");  // already there: fine
  write_file_atomically(root + "/file", "x");
  try {
    make_folder(root + "/file/c");
    FAIL("no error for a folder under a file");
  } catch (const npuvp::error& e) {
    CHECK(std::string(e.what()).find("make_folder_test/file/c") != std::string::npos);
  }
  std::filesystem::remove_all(root);
}

TEST_CASE("isolated runs return results in order and report failures", "[base]") {
  std::vector<isolated_job> jobs;
  for (int i = 0; i < 5; ++i) jobs.push_back([i] { return nlohmann::json{{"i", i}, {"pid", ::getpid()}}; });
  const auto r = run_isolated(jobs, 2);
  REQUIRE(r.size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(r[i]["i"] == i);
    CHECK(r[i]["pid"] != ::getpid());
  }
  std::vector<isolated_job> bad = {[]() -> nlohmann::json { throw npuvp::error("boom"); }};
  CHECK_THROWS_WITH(run_isolated(bad, 1), Catch::Contains("boom"));
}

TEST_CASE("isolated runs name a child that died and stop the others", "[base]") {
  // Job 1 sleeps far longer than the test may take; job 2 is killed by a
  // signal (as by a crash) before it reports anything.
  const auto start = std::chrono::steady_clock::now();
  std::vector<isolated_job> jobs = {[] {
                                      ::sleep(60);
                                      return nlohmann::json();
                                    },
                                    []() -> nlohmann::json {
                                      ::kill(::getpid(), SIGKILL);
                                      return nlohmann::json();
                                    }};
  CHECK_THROWS_WITH(run_isolated(jobs, 2),
                    Catch::StartsWith("simulation 2 of 2 (process ") &&
                        Catch::EndsWith(") died with signal 9 (Killed) before reporting a result"));
  // The sleeping child was killed and reaped, not waited for.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  // A child that exits without writing its result.
  std::vector<isolated_job> silent = {[]() -> nlohmann::json { ::_exit(3); }};
  CHECK_THROWS_WITH(run_isolated(silent, 1), Catch::EndsWith(") exited with status 3 without a readable result"));
}
