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
#include "pbxstate/exit_status.h"

namespace {
using pbxstate::kExitInvalid;
using pbxstate::kExitOk;

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: pbxstated -c CONFIG.yaml [--check]\n"
               "  -c, --config PATH  configuration file (YAML; see daemon/README.md)\n"
               "  --check            validate the configuration and exit (%d: valid, %d: invalid)\n",
               kExitOk, kExitInvalid);
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
      return kExitOk;
    } else {
      std::fprintf(stderr, "pbxstated: unknown argument '%s'\n", arg.c_str());
      Usage(stderr);
      return kExitInvalid;
    }
  }
  if (config_path.empty()) {
    Usage(stderr);
    return kExitInvalid;
  }
  pbxstate::daemon::DaemonConfig config;
  if (auto s = pbxstate::daemon::LoadDaemonConfig(config_path, &config); !s.ok()) {
    std::fprintf(stderr, "pbxstated: %s\n", s.message().c_str());
    return kExitInvalid;
  }
  if (check_only) {
    std::printf("pbxstated: %s is valid\n", config_path.c_str());
    return kExitOk;
  }
  pbxstate::daemon::Logger logger;
  if (auto s = logger.Open(config.log_file, config.log_level); !s.ok()) {
    std::fprintf(stderr, "pbxstated: %s\n", s.message().c_str());
    return kExitInvalid;
  }
  logger.Log(pbxstate::LogLevel::kInfo, "pbxstated starting with " + config_path);
  pbxstate::daemon::Daemon daemon(std::move(config), &logger);
  return daemon.Run();
}
