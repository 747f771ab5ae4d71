// A long-lived child process (a corosync or a pbxstated of one namespace), in its own process
// group so a Ctrl-C at the terminal reaches pbxstate only, and with PR_SET_PDEATHSIG so it dies
// if pbxstate is killed outright (SIGKILL leaves no chance to tear down).
//
// Contract: Spawn when no child is running (again once it exited or was killed); Signal/Kill
// any number of times; the destructor kills (SIGKILL) and
// reaps a child that is still running. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv (looked up in PATH) with stdin from /dev/null and stdout and stderr appended
  // to `log`, in this process's environment plus `env` ("NAME=value", replacing a variable of
  // that name). Fails when the log cannot be opened or fork fails; a program that cannot be
  // executed exits 127 (see Running / the log).
  Status Spawn(const std::vector<std::string>& argv, const std::filesystem::path& log,
               const std::vector<std::string>& env = {});

  // True while the child has not been reaped (checks without blocking).
  bool Running();
  // Sends `signal` to the child's whole process group.
  void Signal(int signal);
  // SIGKILL to the process group, then reaps the child, waiting at most `timeout` (SIGKILL
  // cannot be caught; a child still there after it is stuck in the kernel and is reported).
  Status Kill(Duration timeout);
  // Waits at most `timeout` for the child to exit by itself; false if it is still running.
  bool WaitExit(Duration timeout);

  pid_t pid() const { return pid_; }
  // The exit status as waitpid gave it, once reaped.
  int wait_status() const { return wait_status_; }

 private:
  pid_t pid_ = -1;       // -1: none, or reaped
  int wait_status_ = 0;
};

}  // namespace pbxstate::netns
