// The Python side of reports (reports/*.py, matplotlib from Debian's /usr/bin/python3), started
// from the command line. PBXSTATE_REPORTS_DIR overrides where the scripts are looked for; else an
// installed pbxstate finds them where the install put them (share/pbxstate/reports beside bin/),
// and the build tree's pbxstate in the source tree's reports/ folder (compiled in).
#pragma once

#include <string>
#include <vector>

namespace pbxstate::cli {

// Runs `/usr/bin/python3 <reports dir>/<script> <args...>` and waits for it. Its stdout is
// discarded when `quiet_stdout` (the scripts print the path they wrote; callers print their
// own line); stderr always passes through, so a script's error reaches the user. Returns true
// when it exited 0.
bool RunReportScript(const std::string& script, const std::vector<std::string>& args, bool quiet_stdout);

}  // namespace pbxstate::cli
