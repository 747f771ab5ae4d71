#include "report_scripts.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace pbxstate::cli {

bool RunReportScript(const std::string& script, const std::vector<std::string>& args, bool quiet_stdout) {
  const char* env = std::getenv("PBXSTATE_REPORTS_DIR");
  const std::string path = std::string(env != nullptr ? env : PBXSTATE_REPORTS_DIR) + "/" + script;
  std::vector<std::string> argv_storage = {"python3", path};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("pbxstate: fork");
    return false;
  }
  if (pid == 0) {
    if (quiet_stdout) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
    }
    execv("/usr/bin/python3", argv.data());
    std::perror("pbxstate: /usr/bin/python3");
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace pbxstate::cli
