#include <sys/resource.h>

#include <cstdio>
#include <exception>

#include "tools/mqhub-bench/connect_storm.hpp"
#include "tools/mqhub-bench/options.hpp"
#include "tools/mqhub-bench/report.hpp"
#include "tools/mqhub-bench/scenario_runner.hpp"

namespace {

// A connect storm needs a descriptor per connection; the soft limit is often far below the hard one.
void raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mqhub::bench;
  const options o = parse_options(argc, argv);
  raise_file_limit();
  try {
    const run_result r = o.kind == scenario::connect_storm ? run_connect_storm(o) : run_messages(o);
    if (o.json)
      print_json(o, r);
    else
      print_table(o, r);
    return r.error.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mqhub-bench: %s\n", e.what());
    return 1;
  }
}
