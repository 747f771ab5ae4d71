#include "report_scripts.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "commands.h"

namespace pbxstate::cli {
namespace {

constexpr int kExecFailed = 127;  // the child's status when python3 could not be started

// Where reports/*.py are: $PBXSTATE_REPORTS_DIR; else, for an installed pbxstate, the folder the
// install put them in, relative to this program (PBXSTATE_REPORTS_FROM_BIN, from the install
// layout: bin/../share/pbxstate/reports); else the source tree's reports/ (compiled in; the build
// tree's pbxstate).
std::string ReportsDir() {
  if (const char* env = std::getenv("PBXSTATE_REPORTS_DIR"); env != nullptr) return env;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed = self.parent_path() / PBXSTATE_REPORTS_FROM_BIN;
    if (std::filesystem::is_directory(installed, ec)) return installed.lexically_normal().string();
  }
  return PBXSTATE_REPORTS_DIR;
}

}  // namespace

ScriptOutcome RunReportScript(const std::string& script, const std::vector<std::string>& args,
                              bool quiet_stdout) {
  const std::string path = ReportsDir() + "/" + script;
  std::vector<std::string> argv_storage = {"python3", path};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) return {false, "reports/" + script + " could not be started (fork failed)"};
  if (pid == 0) {
    if (quiet_stdout) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
    }
    execv("/usr/bin/python3", argv.data());
    std::perror("pbxstate: /usr/bin/python3");
    _exit(kExecFailed);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return {false, "reports/" + script + " could not be waited for"};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {true, ""};
  if (WIFEXITED(status) && WEXITSTATUS(status) == kExecFailed) {
    return {false, "/usr/bin/python3 could not be started"};
  }
  if (WIFEXITED(status)) {
    return {false,
            "reports/" + script + " exited with status " + std::to_string(WEXITSTATUS(status))};
  }
  return {false, "reports/" + script + " was killed by signal " + std::to_string(WTERMSIG(status))};
}

bool DrawRunPage(std::string_view command, const std::string& script, const std::string& dir,
                 const std::string& page, bool verdict_pass, const std::string& record_dir) {
  const ScriptOutcome outcome = RunReportScript(script, {dir}, true);
  if (outcome) return true;
  std::cerr << "pbxstate " << command << ": " << page << " could not be drawn (" << outcome.failure
            << "; its error is above)\n"
            << "pbxstate " << command << ": the run is complete and its verdict is "
            << (verdict_pass ? "PASS" : "FAIL") << " (run.json, junit.xml and the CSV files are in "
            << record_dir << "); exit status " << kExitInvalid << " because a page failed, not a check\n";
  return false;
}

}  // namespace pbxstate::cli
