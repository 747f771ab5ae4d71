#include "pbxstate/netns/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "pbxstate/netns/child.h"

namespace pbxstate::netns {

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

Status RunCommand(const std::vector<std::string>& argv, Duration timeout, CommandResult* result) {
  assert(!argv.empty());
  assert(timeout > Duration::zero());
  *result = CommandResult{};
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::FailedPrecondition(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = -1;
  const Status started = StartProgram(argv, {}, pipe_fds[1], &pid);
  close(pipe_fds[1]);
  if (!started.ok()) {
    close(pipe_fds[0]);
    return started;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  bool open_pipe = true;
  while (open_pipe) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result->timed_out = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    const ssize_t got = read(pipe_fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      open_pipe = false;
      break;
    }
    const std::size_t room = kMaxCommandOutput - std::min(kMaxCommandOutput, result->output.size());
    result->output.append(buf, std::min(room, static_cast<std::size_t>(got)));
  }
  close(pipe_fds[0]);
  if (result->timed_out) kill(pid, SIGKILL);
  // The pipe closed (or the child was killed): the child is gone or going; reap it, bounded.
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid, &status, result->timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return Status::FailedPrecondition(std::string("waitpid: ") + std::strerror(errno));
    if (w == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        result->timed_out = true;
        continue;  // the next waitpid blocks: SIGKILL cannot be ignored
      }
      usleep(1000);
    }
  }
  if (WIFEXITED(status)) result->exit_code = WEXITSTATUS(status);
  return Status::Ok();
}

Status RunAllChecked(const std::vector<std::vector<std::string>>& argvs, Duration timeout) {
  struct Running {
    pid_t pid;
    int fd;
    std::string output;
  };
  std::vector<Running> running;
  Status first;
  for (const auto& argv : argvs) {
    assert(!argv.empty());
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      first = Status::FailedPrecondition(std::string("pipe: ") + std::strerror(errno));
      break;
    }
    pid_t pid = -1;
    first = StartProgram(argv, {}, fds[1], &pid);
    close(fds[1]);
    if (!first.ok()) {
      close(fds[0]);
      break;
    }
    running.push_back({pid, fds[0], {}});
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (std::size_t i = 0; i < running.size(); ++i) {
    Running& r = running[i];
    char buf[4096];
    bool timed_out = false;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      pollfd p{r.fd, POLLIN, 0};
      const int n = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
      if (n <= 0) continue;
      const ssize_t got = read(r.fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      if (r.output.size() < kMaxCommandOutput) {
        r.output.append(buf, std::min(kMaxCommandOutput - r.output.size(), static_cast<std::size_t>(got)));
      }
    }
    close(r.fd);
    if (timed_out) kill(r.pid, SIGKILL);
    int status = 0;
    while (waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!first.ok()) continue;
    if (timed_out) {
      first = Status::FailedPrecondition(JoinArgv(argvs[i]) + ": no answer in time");
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      first = Status::FailedPrecondition(JoinArgv(argvs[i]) + ": failed: " + r.output);
    }
  }
  return first;
}

Status RunChecked(const std::vector<std::string>& argv, Duration timeout, std::string* output) {
  CommandResult r;
  if (Status st = RunCommand(argv, timeout, &r); !st.ok()) return st;
  if (output != nullptr) *output = r.output;
  if (r.timed_out) {
    return Status::FailedPrecondition(JoinArgv(argv) + ": no answer within " +
                                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) + " ms");
  }
  if (r.exit_code != 0) {
    std::string out = r.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return Status::FailedPrecondition(JoinArgv(argv) + ": exit " + std::to_string(r.exit_code) +
                                      (out.empty() ? "" : ": " + out));
  }
  return Status::Ok();
}

}  // namespace pbxstate::netns
