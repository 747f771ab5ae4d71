// pbxstated: the pbxstate node daemon. See daemon/README.md.
//
//   pbxstated -c /etc/pbxstated.yaml          run
//   pbxstated -c /etc/pbxstated.yaml --check  validate the configuration and exit
#include <cstdio>
#include <cstring>
#include <string>

#include "daemon.h"
#include "daemon_config.h"
#include "logger.h"

namespace {
void Usage(FILE* out) {
  std::fprintf(out,
               "usage: pbxstated -c CONFIG.yaml [--check]\n"
               "  -c, --config PATH  configuration file (YAML; see daemon/README.md)\n"
               "  --check            validate the configuration and exit (0: valid, 2: invalid)\n");
}
}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--check") {
      check_only = true;
    } else if (arg == "-h" || arg == "--help") {
      Usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "pbxstated: unknown argument '%s'\n", arg.c_str());
      Usage(stderr);
      return 2;
    }
  }
  if (config_path.empty()) {
    Usage(stderr);
    return 2;
  }
  pbxstate::daemon::DaemonConfig config;
  if (auto s = pbxstate::daemon::LoadDaemonConfig(config_path, &config); !s.ok()) {
    std::fprintf(stderr, "pbxstated: %s\n", s.message().c_str());
    return 2;
  }
  if (check_only) {
    std::printf("pbxstated: %s is valid\n", config_path.c_str());
    return 0;
  }
  pbxstate::daemon::Logger logger;
  if (auto s = logger.Open(config.log_file, config.log_level); !s.ok()) {
    std::fprintf(stderr, "pbxstated: %s\n", s.message().c_str());
    return 2;
  }
  logger.Log(pbxstate::LogLevel::kInfo, "pbxstated starting with " + config_path);
  pbxstate::daemon::Daemon daemon(std::move(config), &logger);
  return daemon.Run();
}
