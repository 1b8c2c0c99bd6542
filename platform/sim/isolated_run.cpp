#include "platform/sim/isolated_run.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "platform/base/error.h"

namespace npuvp {

namespace {

struct child {
  size_t job;
  int fd;
  std::string out;
};

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void run_child(const isolated_job& job, int fd) {
  int code = 0;
  nlohmann::json reply;
  try {
    reply = {{"ok", true}, {"result", job()}};
  } catch (const std::exception& e) {
    reply = {{"ok", false}, {"error", e.what()}};
    code = 1;
  }
  write_all(fd, reply.dump());
  ::close(fd);
  ::_exit(code);
}

}  // namespace

std::vector<nlohmann::json> run_isolated(const std::vector<isolated_job>& jobs, int parallel,
                                         const isolated_done& done) {
  std::vector<nlohmann::json> results(jobs.size());
  size_t finished = 0;
  std::map<pid_t, child> running;
  size_t next = 0;
  if (parallel < 1) parallel = 1;
  // Reads whatever the children wrote; when a child's pipe closes, reaps it.
  auto collect = [&] {
    std::vector<pollfd> fds;
    std::vector<pid_t> pids;
    for (auto& [pid, c] : running) {
      fds.push_back({c.fd, POLLIN, 0});
      pids.push_back(pid);
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) return;
      throw error(std::string("poll failed: ") + std::strerror(errno));
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      child& c = running.at(pids[i]);
      char buf[65536];
      const ssize_t n = ::read(c.fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        c.out.append(buf, static_cast<size_t>(n));
        continue;
      }
      ::close(c.fd);
      int status = 0;
      ::waitpid(pids[i], &status, 0);
      const child ended = std::move(c);
      running.erase(pids[i]);
      const std::string where = "simulation " + std::to_string(ended.job + 1) + " of " + std::to_string(jobs.size());
      // A child that died (crash, abort, kill) may have written part of a reply: trust none of it.
      if (WIFSIGNALED(status))
        throw error(where + " (process " + std::to_string(pids[i]) + ") died with signal " +
                    std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
                    ") before reporting a result");
      const auto reply = nlohmann::json::parse(ended.out, nullptr, false);
      if (reply.is_discarded() || !reply.is_object() || !reply.contains("ok"))
        throw error(where + " (process " + std::to_string(pids[i]) + ") exited with status " +
                    std::to_string(WEXITSTATUS(status)) + " without a readable result");
      if (!reply.at("ok").get<bool>()) throw error(where + ": " + reply.at("error").get<std::string>());
      results[ended.job] = reply.at("result");
      if (done) done(ended.job, results[ended.job], ++finished);
    }
  };
  // On an error, the other children's results are of no use: stop them and
  // reap them, so none outlives the caller.
  auto stop_running = [&] {
    for (auto& [pid, c] : running) {
      ::kill(pid, SIGKILL);
      ::close(c.fd);
      ::waitpid(pid, nullptr, 0);
    }
    running.clear();
  };
  auto run_all = [&] {
    while (next < jobs.size() || !running.empty()) {
      while (next < jobs.size() && static_cast<int>(running.size()) < parallel) {
        int fds[2];
        if (::pipe(fds) != 0) throw error(std::string("pipe failed: ") + std::strerror(errno));
        const pid_t pid = ::fork();
        if (pid < 0) throw error(std::string("fork failed: ") + std::strerror(errno));
        if (pid == 0) {
          ::close(fds[0]);
          run_child(jobs[next], fds[1]);
        }
        ::close(fds[1]);
        running.emplace(pid, child{next, fds[0], {}});
        ++next;
      }
      collect();
    }
  };
  try {
    run_all();
  } catch (...) {
    stop_running();
    throw;
  }
  return results;
}

isolated_done progress_lines(std::vector<std::string> names) {
  return [names = std::move(names)](size_t job, const nlohmann::json& r, size_t finished) {
    std::ostringstream line;
    line << "TLM " << finished << "/" << names.size() << " (" << std::fixed << std::setprecision(1)
         << r.value("wall_s", 0.0) << " s): " << names[job] << "\n";
    std::cerr << line.str() << std::flush;
  };
}

}  // namespace npuvp
