// ChildProcess (child.h): a process started without fork().
//
// Why not fork (sim/emu/README.md, "The lag spikes, traced"): fork copies the harness's page
// tables under its address space's lock, and every thread of the harness that touches memory
// meanwhile waits; in an emu run the simulation thread waited 9.3 ms behind a daemon's restart.
// clone(CLONE_VM | CLONE_VFORK) shares the address space instead: nothing is copied, the calling
// thread sleeps until the child has exec'd, every other thread runs on. The child runs on a stack
// of its own in the parent's memory, so it makes only async-signal-safe calls, writes nothing
// the parent reads but ChildArgs::exec_errno, and never runs a handler of the parent's (signals
// are blocked across the clone and every handler is reset before they are unblocked). glibc's
// posix_spawn does the same, but cannot set the death signal.
#include "pbxstate/netns/child.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace pbxstate::netns {

ChildProcess::~ChildProcess() {
  if (pid_ > 0) (void)Kill(std::chrono::seconds(5));
}

namespace {

// The child's stack: it sets up descriptors and signals, then execs; a few hundred bytes used.
constexpr std::size_t kChildStack = 64 * 1024;

// environ with `overrides` ("NAME=value") replacing or adding variables.
std::vector<std::string> Environment(const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  auto name_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    bool replaced = false;
    for (const std::string& o : overrides) replaced = replaced || name_of(o) == name_of(kv);
    if (!replaced) out.push_back(kv);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

// execvp's search, done before the clone (the child may not allocate): `file` itself when it
// names a path, else the first executable regular file of that name in PATH; empty when none.
std::string FindProgram(const std::string& file) {
  if (file.find('/') != std::string::npos) return file;
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/bin:/usr/bin";
  for (std::size_t from = 0; from <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', from), dirs.size());
    const std::string dir = end > from ? dirs.substr(from, end - from) : ".";
    const std::string candidate = dir + "/" + file;
    struct stat st{};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    from = end + 1;
  }
  return {};
}

// What the child reads (and exec_errno, which it writes), in the parent's memory.
struct ChildArgs {
  const char* program;
  char* const* argv;
  char* const* envp;
  int output_fd;
  pid_t parent;
  int exec_errno;  // set by the child when execve failed
};

// The child, up to execve: async-signal-safe calls only.
int ChildMain(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  // Every handler the parent installed would run on the parent's memory; the ignored signals would
  // stay ignored in the program: all to their default while still blocked (glibc's internal
  // signals are refused with EINVAL, which is fine: they are its own).
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != a->parent) _exit(126);  // the parent died before the line above
  const int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  dup2(a->output_fd, STDOUT_FILENO);
  dup2(a->output_fd, STDERR_FILENO);
  close_range(3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(a->program, a->argv, a->envp);
  a->exec_errno = errno;
  _exit(127);
}

}  // namespace

Status StartProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env, int output_fd,
                    pid_t* pid_out) {
  assert(!argv.empty());
  const std::string program = FindProgram(argv[0]);
  if (program.empty()) return Status::FailedPrecondition(argv[0] + ": not found in PATH");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::vector<std::string> environment = Environment(env);
  std::vector<char*> envp;
  for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ChildArgs child{program.c_str(), args.data(), envp.data(), output_fd, getpid(), 0};
  const std::unique_ptr<char[]> stack(new char[kChildStack]);
  // The stack grows down from its end, 16-byte aligned as the ABI wants.
  void* top = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(stack.get() + kChildStack) & ~std::uintptr_t{15});
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  const pid_t pid = clone(ChildMain, top, CLONE_VM | CLONE_VFORK | SIGCHLD, &child);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Status::FailedPrecondition(std::string("clone: ") + std::strerror(clone_errno));
  if (child.exec_errno != 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return Status::FailedPrecondition("cannot execute " + program + ": " + std::strerror(child.exec_errno));
  }
  *pid_out = pid;  // the child has exec'd (this thread slept until then): its group exists
  return Status::Ok();
}

Status ChildProcess::Spawn(const std::vector<std::string>& argv, const std::filesystem::path& log,
                           const std::vector<std::string>& env) {
  assert(pid_ < 0 && "a child is running");
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::FailedPrecondition(log.string() + ": " + std::strerror(errno));
  pid_t pid = -1;
  const Status st = StartProgram(argv, env, log_fd, &pid);
  close(log_fd);
  if (!st.ok()) return st;
  pid_ = pid;
  wait_status_ = 0;
  return Status::Ok();
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t w = waitpid(pid_, &status, WNOHANG);
  if (w == pid_) {
    wait_status_ = status;
    pid_ = -1;
    return false;
  }
  return true;
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) kill(-pid_, sig);
}

bool ChildProcess::WaitExit(Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    usleep(2000);
  }
  return true;
}

Status ChildProcess::Kill(Duration timeout) {
  if (pid_ <= 0) return Status::Ok();
  const pid_t pid = pid_;
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);  // in case it left its group
  if (!WaitExit(timeout)) {
    return Status::FailedPrecondition("process " + std::to_string(pid) + " did not exit after SIGKILL");
  }
  return Status::Ok();
}

}  // namespace pbxstate::netns
