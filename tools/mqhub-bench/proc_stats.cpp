#include "tools/mqhub-bench/proc_stats.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace mqhub::bench {

std::optional<proc_sample> sample_process(int pid) {
  const std::string dir = pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid);
  proc_sample s;
  s.at = std::chrono::steady_clock::now();
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!std::getline(stat, line))
    return std::nullopt;
  // The command name may hold spaces and parentheses; fields are counted from the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long utime = 0;
  unsigned long stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state
    if (i == 14)
      utime = std::stoul(field);
    else if (i == 15)
      stime = std::stoul(field);
  }
  static const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  std::ifstream status(dir + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kib = std::stoull(line.substr(6));
      break;
    }
  }
  return s;
}

double cpu_percent(const proc_sample& from, const proc_sample& to) {
  const double wall = std::chrono::duration<double>(to.at - from.at).count();
  return wall > 0 ? 100.0 * (to.cpu_seconds - from.cpu_seconds) / wall : 0;
}

}  // namespace mqhub::bench
