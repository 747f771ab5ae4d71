// A long-lived child process (a corosync or a pbxstated of one namespace), in its own process
// group so a Ctrl-C at the terminal reaches pbxstate only, and with PR_SET_PDEATHSIG so it dies
// if the thread that started it ends (pbxstate killed outright: SIGKILL leaves no chance to tear
// down). Started without fork (child.cc says why): the other threads of pbxstate, the emulator's
// simulation among them, are not held while it starts.
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

// Starts argv (looked up in PATH) without fork: in its own process group, with SIGKILL as its
// death signal (PR_SET_PDEATHSIG: when the calling thread ends), stdin from /dev/null, stdout and
// stderr on `output_fd`, no other descriptor, every signal at its default and unblocked, in this
// process's environment plus `env` ("NAME=value", replacing a variable of that name). Returns once
// the program runs, its pid in `*pid` (the caller reaps it); fails, naming the program, when it is
// not in PATH or cannot be executed, or when the process cannot be made. Thread-safe.
Status StartProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env, int output_fd,
                    pid_t* pid);

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // StartProgram with stdout and stderr appended to `log`; fails as it does, or when the log
  // cannot be opened.
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
