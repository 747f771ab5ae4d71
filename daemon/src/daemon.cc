#include "daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pbxstate/control/events.h"
#include "pbxstate/corosync/posix_clock.h"
#include "pbxstate/exit_status.h"

namespace pbxstate::daemon {

using corosync::PosixMonoNs;

Daemon::Daemon(DaemonConfig config, Logger* logger) : config_(std::move(config)), logger_(logger) {}

Daemon::~Daemon() {
  if (engine_ != nullptr) engine_->SetListener(nullptr);
  if (env_ != nullptr) env_->Attach(nullptr);
}

Status Daemon::WaitForCorosync(int signal_fd) {
  const std::int64_t deadline = PosixMonoNs() + config_.connect_timeout.count();
  Duration backoff = config_.cpg.transport.reconnect_min;
  std::int64_t next_log = 0;
  while (true) {
    Status s = env_->Connect();
    if (s.ok()) return s;
    if (!env_->transport().fatal_error().empty()) return s;
    const std::int64_t now = PosixMonoNs();
    if (now >= deadline) {
      return Status::FailedPrecondition(s.message() + "; gave up after corosync.connect_timeout_ms");
    }
    if (now >= next_log) {
      Log(LogLevel::kWarning, "waiting for corosync: " + s.message());
      next_log = now + 5'000'000'000;
    }
    pollfd p{signal_fd, POLLIN, 0};
    const auto wait_ms = std::min<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count(),
                                                (deadline - now) / 1'000'000 + 1);
    if (::poll(&p, 1, static_cast<int>(wait_ms)) > 0) {
      signalfd_siginfo info{};
      const ssize_t r = ::read(signal_fd, &info, sizeof info);
      (void)r;
      if (info.ssi_signo == SIGHUP) {
        if (Status rs = logger_->Reopen(); !rs.ok()) Log(LogLevel::kError, "SIGHUP: " + rs.message());
        Log(LogLevel::kInfo, "log reopened (SIGHUP)");
        continue;
      }
      stop_requested_ = true;
      stop_reason_ = std::string("signal ") + strsignal(static_cast<int>(info.ssi_signo));
      return Status::FailedPrecondition("stopped by " + stop_reason_ + " while waiting for corosync");
    }
    backoff = std::min(backoff * 2, config_.cpg.transport.reconnect_max);
  }
}

namespace {
// The event loop's sources, as epoll_event tags.
enum : std::uint64_t { kEnv = 1, kControl = 2, kSignal = 3, kGenerate = 4 };
}  // namespace

// Said first, before the wait for corosync: an operator who forgot auth.key_file sees it among
// the warnings whether or not corosync is up.
void Daemon::LogAuthentication() {
  if (!config_.engine.cluster_keys.empty()) {
    Log(LogLevel::kInfo, "frames are authenticated with the cluster key of " + config_.key_file +
                             (config_.previous_key_file.empty()
                                  ? std::string()
                                  : "; frames under the key of " + config_.previous_key_file + " are accepted too"));
  } else {
    Log(LogLevel::kWarning,
        "no auth.key_file: cluster traffic is UNAUTHENTICATED; any process that can join CPG group '" +
            config_.cpg.transport.group + "' can change every state of this cluster");
  }
}

Status Daemon::BuildLoop(int signal_fd, int* ep_out) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  *ep_out = ep;
  Status loop_status = ep >= 0 ? Status::Ok() : Status::FailedPrecondition(std::string("epoll_create1: ") + std::strerror(errno));
  for (auto [fd, tag] : {std::pair<int, std::uint64_t>{env_->fd(), kEnv}, {server_->fd(), kControl}, {signal_fd, kSignal},
                         {generate_timer_.fd(), kGenerate}}) {
    if (!loop_status.ok()) break;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      loop_status = Status::FailedPrecondition(std::string("epoll_ctl(add): ") + std::strerror(errno));
    }
  }
  return loop_status;
}

int Daemon::Serve(int ep, int signal_fd) {
  int exit_code = kExitOk;
  while (!stop_requested_) {
    epoll_event events[8];
    const int n = epoll_wait(ep, events, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, std::string("epoll_wait: ") + std::strerror(errno));
      exit_code = kExitFailed;
      break;
    }
    for (int i = 0; i < n && !stop_requested_; ++i) {
      switch (events[i].data.u64) {
        case kEnv:
          env_->Dispatch();
          if (!env_->transport().fatal_error().empty()) {
            stop_requested_ = true;
            stop_reason_ = "transport: " + env_->transport().fatal_error();
            exit_code = kExitFailed;
          }
          break;
        case kControl:
          server_->Dispatch();
          break;
        case kSignal: {
          signalfd_siginfo info{};
          if (::read(signal_fd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) break;
          if (info.ssi_signo == SIGHUP) {
            if (Status s = logger_->Reopen(); !s.ok()) Log(LogLevel::kError, "SIGHUP: " + s.message());
            Log(LogLevel::kInfo, "log reopened (SIGHUP)");
            break;
          }
          stop_requested_ = true;
          stop_reason_ = std::string("signal ") + strsignal(static_cast<int>(info.ssi_signo));
          break;
        }
        case kGenerate:
          RunGenerator();
          break;
        default: break;
      }
    }
  }
  return exit_code;
}

int Daemon::Run() {
  // SIGTERM and SIGINT arrive through a signalfd in the loop; SIGPIPE is ignored (a control client
  // that vanishes is an EPIPE on one connection, not the daemon's death).
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);  // reopen the log file (logrotate)
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  const int signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) {
    Log(LogLevel::kError, std::string("signalfd: ") + std::strerror(errno));
    return kExitFailed;
  }

  LogAuthentication();

  auto log_fn = [this](LogLevel level, std::string_view message) { logger_->Log(level, message); };
  if (Status s = corosync::CpgEnv::Create(config_.cpg, log_fn, &env_); !s.ok()) {
    Log(LogLevel::kError, "cannot start: " + s.message());
    ::close(signal_fd);
    return kExitFailed;
  }
  if (Status s = WaitForCorosync(signal_fd); !s.ok()) {
    ::close(signal_fd);
    if (stop_requested_) {
      Log(LogLevel::kInfo, s.message());
      return kExitOk;
    }
    Log(LogLevel::kError, "cannot start: " + s.message());
    return kExitFailed;
  }
  logger_->SetNode(env_->local_node());

  EngineConfig ec = config_.engine;
  ec.node_id = env_->local_node();
  ec.membership = MembershipSource::kTransport;
  const auto wall_us = std::chrono::duration_cast<std::chrono::microseconds>(env_->WallNow().time_since_epoch()).count();
  ec.incarnation = static_cast<std::uint64_t>(std::max<std::int64_t>(wall_us, 1));
  if (ec.label.empty()) ec.label = "node" + std::to_string(ec.node_id);
  if (Status s = Engine::Create(ec, env_.get(), &engine_); !s.ok()) {
    Log(LogLevel::kError, "cannot create the engine: " + s.ToString());
    ::close(signal_fd);
    // The file passed --check, so what the engine refuses depends on this node: engine.node_sites
    // without this corosync node id (with relays). A configuration error all the same.
    return s.code() == Status::Code::kInvalidArgument ? kExitInvalid : kExitFailed;
  }
  engine_->SetListener(this);
  env_->AttachUpcalls(this);
  engine_->Start();

  server_ = std::make_unique<ControlServer>([this](std::string_view line) { return HandleRequest(line); }, log_fn);
  if (Status s = server_->Listen(config_.control_socket); !s.ok()) {
    Log(LogLevel::kError, "cannot open the control socket: " + s.message());
    env_->Leave(std::chrono::milliseconds(0));
    ::close(signal_fd);
    return kExitFailed;
  }
  Log(LogLevel::kInfo, "started: node " + std::to_string(ec.node_id) + " incarnation " + std::to_string(ec.incarnation) +
                           " group '" + config_.cpg.transport.group + "' control " + config_.control_socket);

  if (Status s = generate_timer_.Open(); !s.ok()) {
    Log(LogLevel::kError, "cannot create the load generator's timer: " + s.message());
    env_->Leave(std::chrono::milliseconds(0));
    ::close(signal_fd);
    return kExitFailed;
  }

  int ep = -1;
  const Status loop_status = BuildLoop(signal_fd, &ep);
  if (!loop_status.ok()) {
    Log(LogLevel::kError, "cannot build the event loop: " + loop_status.message());
    if (ep >= 0) ::close(ep);
    env_->Leave(std::chrono::milliseconds(0));
    ::close(signal_fd);
    return kExitFailed;
  }

  // Ready only now: CPG joined, the control socket listening, the loop built. Outside systemd
  // (no NOTIFY_SOCKET) this does nothing.
  sd_notify(0, ("READY=1\nSTATUS=node " + std::to_string(ec.node_id) + ", group '" + config_.cpg.transport.group + "'").c_str());

  const int exit_code = Serve(ep, signal_fd);
  Log(exit_code == kExitOk ? LogLevel::kInfo : LogLevel::kError, "stopping (" + stop_reason_ + ")");
  sd_notify(0, "STOPPING=1");
  Stop();
  ::close(ep);
  ::close(signal_fd);
  Log(LogLevel::kInfo, "stopped");
  return exit_code;
}

void Daemon::Stop() {
  server_->Publish(control::EventLine(control::EncodeEvent(control::StoppingEvent{PosixMonoNs()})));
  server_->Flush(config_.flush_timeout);
  env_->Leave(config_.flush_timeout);
  engine_->SetListener(nullptr);
  env_->Attach(nullptr);
  server_->Close();
}

}  // namespace pbxstate::daemon
