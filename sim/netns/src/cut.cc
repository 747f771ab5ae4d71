#include "pbxstate/netns/cut.h"

#include <fstream>


namespace pbxstate::netns {

std::string CutScript(const std::vector<std::string>& drop_from) {
  // "table X" then "delete table X" removes any earlier table without failing when there is
  // none; the whole file is one transaction.
  std::string s = "table inet pbxstate_cut\ndelete table inet pbxstate_cut\n";
  s += "table inet pbxstate_cut {\n  chain input {\n    type filter hook input priority -10; policy accept;\n";
  if (!drop_from.empty()) {
    s += "    ip saddr { ";
    for (std::size_t i = 0; i < drop_from.size(); ++i) s += (i == 0 ? "" : ", ") + drop_from[i];
    s += " } counter drop\n";
  }
  s += "  }\n}\n";
  return s;
}

Status PrepareCut(const std::string& ns, const std::vector<std::string>& drop_from, const std::filesystem::path& script_path,
                  std::vector<std::string>* command) {
  std::ofstream f(script_path, std::ios::trunc);
  f << CutScript(drop_from);
  if (!f) return Status::FailedPrecondition(script_path.string() + ": cannot write");
  *command = {"ip", "netns", "exec", ns, "nft", "-f", script_path.string()};
  return Status::Ok();
}

}  // namespace pbxstate::netns
