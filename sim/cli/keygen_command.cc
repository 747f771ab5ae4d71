// pbxstate keygen FILE: writes a new cluster key file (engine/README.md "Authentication").
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "pbxstate/cluster_key.h"

namespace pbxstate::cli {

void AddKeygenCommand(CLI::App& app, Action& chosen) {
  auto file = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "keygen",
      "Write a new cluster key to FILE: 32 random bytes from libsodium, mode 0600. FILE must not exist.\n"
      "Give the same file to every node (EngineConfig::cluster_keys); keep it secret.");
  cmd->add_option("FILE", *file, "the key file to create")->required();
  cmd->callback([&chosen, file]() {
    chosen = [file]() {
      const Status s = WriteNewClusterKeyFile(*file);
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.message().c_str());
        return kExitInvalid;
      }
      std::printf("%s: new cluster key (32 bytes, mode 0600)\n", file->c_str());
      return kExitOk;
    };
  });
}

}  // namespace pbxstate::cli
