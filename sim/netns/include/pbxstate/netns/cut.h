// Network cuts with nftables, inside one node's namespace: an `inet pbxstate_cut` table whose
// input chain drops every packet from the listed addresses. A partition puts, in each node,
// the addresses of the nodes it must not hear; a one-way cut A -> B puts A's addresses in B's
// nodes only (B still reaches A). The table goes away with the namespace.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pbxstate/status.h"

namespace pbxstate::netns {

// The nft script that makes the table hold exactly a drop of `drop_from` (no rule when empty),
// atomically (one nft transaction: the old table's rules are gone when the new ones apply).
std::string CutScript(const std::vector<std::string>& drop_from);

// Writes CutScript(drop_from) to `script_path`; returns the command that loads it in namespace
// `ns` (run it with RunChecked, or many at once with RunAllChecked).
Status PrepareCut(const std::string& ns, const std::vector<std::string>& drop_from, const std::filesystem::path& script_path,
                  std::vector<std::string>* command);

}  // namespace pbxstate::netns
