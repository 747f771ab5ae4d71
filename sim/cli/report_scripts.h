// The Python side of reports (reports/*.py, matplotlib from Debian's /usr/bin/python3), started
// from the command line. PBXSTATE_REPORTS_DIR overrides where the scripts are looked for; else an
// installed pbxstate finds them where the install put them (share/pbxstate/reports beside bin/),
// and the build tree's pbxstate in the source tree's reports/ folder (compiled in).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pbxstate::cli {

// What became of a report script: it wrote its page, or why not.
struct ScriptOutcome {
  bool ok = false;
  // When not ok: "reports/html_report.py exited with status 2", "... was killed by signal 9",
  // "/usr/bin/python3 could not be started".
  std::string failure;
  explicit operator bool() const { return ok; }
};

// Runs `/usr/bin/python3 <reports dir>/<script> <args...>` and waits for it. Its stdout is
// discarded when `quiet_stdout` (the scripts print the path they wrote; callers print their
// own line); stderr always passes through, so a script's error (one line: file, line and what
// is wrong, reports/runrecord.py run_script) reaches the user.
ScriptOutcome RunReportScript(const std::string& script, const std::vector<std::string>& args,
                              bool quiet_stdout);

// For `run` and `check`, whose runs completed: draws `page` with `script` (given `dir`; its
// stdout discarded) and returns true. When it cannot be drawn, prints which page, why, the
// verdict (PASS or FAIL) and that the record in `record_dir` is complete, and returns false. The
// caller then exits kExitInvalid whatever the verdict (scenarios/README.md, "Exit status"), so a
// failed page is never mistaken for the verdict's 0 or 1; the verdict is in this message,
// run.json and junit.xml.
bool DrawRunPage(std::string_view command, const std::string& script, const std::string& dir,
                 const std::string& page, bool verdict_pass, const std::string& record_dir);

}  // namespace pbxstate::cli
