// Running the system's network tools (ip, tc, nft, corosync-quorumtool) as short-lived child
// processes: argv only (never a shell), a deadline, and a bound on what is kept of their output.
#pragma once

#include <string>
#include <vector>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

// Output kept per command; the rest is read and dropped (the command never blocks on a full pipe).
inline constexpr std::size_t kMaxCommandOutput = 64 * 1024;

struct CommandResult {
  int exit_code = -1;       // -1: killed (timeout) or not started
  std::string output;       // stdout and stderr interleaved, at most kMaxCommandOutput bytes
  bool timed_out = false;
};

// Runs argv[0] (looked up in PATH) with `argv`, started as StartProgram starts it (child.h: no
// fork, stdin from /dev/null), and waits at most `timeout`; past it the command is killed
// (SIGKILL) and reaped. Returns an error only when the command could not be started (not found,
// not executable); the exit code is in `result`.
Status RunCommand(const std::vector<std::string>& argv, Duration timeout, CommandResult* result);

// RunCommand that also fails (naming the command and quoting its output) unless it exits 0.
Status RunChecked(const std::vector<std::string>& argv, Duration timeout, std::string* output = nullptr);

// Runs every command at once (each as RunChecked would, all within one `timeout`), so a change
// meant for many namespaces lands in all of them within one command's time. Fails with the
// first failure, after every command has finished or been killed.
Status RunAllChecked(const std::vector<std::vector<std::string>>& argvs, Duration timeout);

// "ip netns add x" for messages.
std::string JoinArgv(const std::vector<std::string>& argv);

}  // namespace pbxstate::netns
