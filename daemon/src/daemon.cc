#include "daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pbxstate/cluster_key.h"
#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::daemon {

using nlohmann::json;
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
    return 1;
  }

  // Said first, before the wait for corosync: an operator who forgot auth.key_file sees it among
  // the warnings whether or not corosync is up.
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

  auto log_fn = [this](LogLevel level, std::string_view message) { logger_->Log(level, message); };
  if (Status s = corosync::CpgEnv::Create(config_.cpg, log_fn, &env_); !s.ok()) {
    Log(LogLevel::kError, "cannot start: " + s.message());
    ::close(signal_fd);
    return 1;
  }
  if (Status s = WaitForCorosync(signal_fd); !s.ok()) {
    ::close(signal_fd);
    if (stop_requested_) {
      Log(LogLevel::kInfo, s.message());
      return 0;
    }
    Log(LogLevel::kError, "cannot start: " + s.message());
    return 1;
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
    return 1;
  }
  engine_->SetListener(this);
  env_->Attach(engine_.get());
  engine_->Start();

  server_ = std::make_unique<ControlServer>([this](std::string_view line) { return HandleRequest(line); }, log_fn);
  if (Status s = server_->Listen(config_.control_socket); !s.ok()) {
    Log(LogLevel::kError, "cannot open the control socket: " + s.message());
    env_->Leave(std::chrono::milliseconds(0));
    ::close(signal_fd);
    return 1;
  }
  Log(LogLevel::kInfo, "started: node " + std::to_string(ec.node_id) + " incarnation " + std::to_string(ec.incarnation) +
                           " group '" + config_.cpg.transport.group + "' control " + config_.control_socket);

  if (Status s = generate_timer_.Open(); !s.ok()) {
    Log(LogLevel::kError, "cannot create the load generator's timer: " + s.message());
    env_->Leave(std::chrono::milliseconds(0));
    ::close(signal_fd);
    return 1;
  }

  enum : std::uint64_t { kEnv = 1, kControl = 2, kSignal = 3, kGenerate = 4 };
  const int ep = epoll_create1(EPOLL_CLOEXEC);
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
  if (!loop_status.ok()) {
    Log(LogLevel::kError, "cannot build the event loop: " + loop_status.message());
    if (ep >= 0) ::close(ep);
    env_->Leave(std::chrono::milliseconds(0));
    ::close(signal_fd);
    return 1;
  }

  int exit_code = 0;
  while (!stop_requested_) {
    epoll_event events[8];
    const int n = epoll_wait(ep, events, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, std::string("epoll_wait: ") + std::strerror(errno));
      exit_code = 1;
      break;
    }
    for (int i = 0; i < n && !stop_requested_; ++i) {
      switch (events[i].data.u64) {
        case kEnv:
          env_->Dispatch();
          if (!env_->transport().fatal_error().empty()) {
            stop_requested_ = true;
            stop_reason_ = "transport: " + env_->transport().fatal_error();
            exit_code = 1;
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
  Log(exit_code == 0 ? LogLevel::kInfo : LogLevel::kError, "stopping (" + stop_reason_ + ")");
  Stop();
  ::close(ep);
  ::close(signal_fd);
  Log(LogLevel::kInfo, "stopped");
  return exit_code;
}

void Daemon::Stop() {
  server_->Publish(ResponseLine({{"event", "stopping"}, {"t_mono_ns", PosixMonoNs()}}));
  server_->Flush(config_.flush_timeout);
  env_->Leave(config_.flush_timeout);
  engine_->SetListener(nullptr);
  env_->Attach(nullptr);
  server_->Close();
}

// ---- control requests ------------------------------------------------------------------------

ControlServer::Reply Daemon::HandleRequest(std::string_view line) {
  ControlServer::Reply reply;
  auto parsed = ParseRequest(line);
  if (auto* err = std::get_if<ControlError>(&parsed)) {
    reply.line = ErrorLine(*err);
    return reply;
  }
  json response = Execute(std::get<Request>(parsed), &reply.subscribe);
  bool too_large = false;
  reply.line = ResponseLine(response, &too_large);
  // Only a successful subscribe turns the connection into an event stream.
  if (too_large || !response.value("ok", false)) reply.subscribe = false;
  return reply;
}

json Daemon::Execute(const Request& r, bool* subscribe) {
  auto refused = [](const Status& s) {
    const ControlError e = FromStatus(s);
    return json{{"ok", false}, {"code", std::string(ControlCodeName(e.code))}, {"error", e.message}};
  };
  switch (r.op) {
    case Op::kHello:
      return {{"ok", true},
              {"node", engine_->node_id()},
              {"label", std::string(engine_->config().label)},
              {"incarnation", engine_->incarnation()},
              {"pid", ::getpid()},
              {"group", config_.cpg.transport.group},
              {"members", engine_->Members()},
              {"view_id", env_->transport().view().view_id},
              {"authenticated", engine_->authenticated()}};
    case Op::kSetDevice: {
      const std::int64_t t = PosixMonoNs();
      if (Status s = engine_->SetDeviceState(r.device, r.state); !s.ok()) return refused(s);
      return {{"ok", true}, {"t_mono_ns", t}};
    }
    case Op::kSetMailbox: {
      const std::int64_t t = PosixMonoNs();
      if (Status s = engine_->SetMailbox(r.mailbox, r.counts); !s.ok()) return refused(s);
      return {{"ok", true}, {"t_mono_ns", t}};
    }
    case Op::kRegister: {
      RegistrationInfo info;
      info.contact = r.contact;
      info.expires = WallTime(Duration(r.expires_unix_ns));
      info.status = r.reachable ? ContactStatus::kReachable : ContactStatus::kUnreachable;
      info.rtt_us = r.rtt_us;
      const std::int64_t t = PosixMonoNs();
      if (Status s = engine_->SetRegistration(r.aor, info); !s.ok()) return refused(s);
      return {{"ok", true}, {"t_mono_ns", t}};
    }
    case Op::kUnregister: {
      const std::int64_t t = PosixMonoNs();
      if (Status s = engine_->RemoveRegistration(r.aor); !s.ok()) return refused(s);
      return {{"ok", true}, {"t_mono_ns", t}};
    }
    case Op::kDevice: {
      const auto contributions = engine_->DeviceContributions(r.device);
      return {{"ok", true},
              {"aggregate", StateOrNull(engine_->ClusterDeviceState(r.device))},
              {"contributions", ContributionsJson(contributions)}};
    }
    case Op::kMembers:
      return {{"ok", true},
              {"members", engine_->Members()},
              {"view_id", env_->transport().view().view_id},
              {"view_members", env_->transport().view().members}};
    case Op::kStats: {
      const ControlServerStats& cs = server_->stats();
      return {{"ok", true},
              {"engine", StatsJson(engine_->stats())},
              {"transport", TransportStats()},
              {"daemon",
               {{"control_connections", server_->connections()},
                {"connections_accepted", cs.connections_accepted},
                {"connections_refused", cs.connections_refused},
                {"requests", cs.requests},
                {"lines_too_long", cs.lines_too_long},
                {"subscribers", server_->subscribers()},
                {"subscribers_dropped", cs.subscribers_dropped},
                {"events_published", cs.events_published}}}};
    }
    case Op::kDump:
      return Dump();
    case Op::kSubscribe:
      *subscribe = true;
      return {{"ok", true}, {"t_mono_ns", PosixMonoNs()}};
    case Op::kSetKeys: {
      // Key rotation without a restart (engine/README.md "Authentication", "Rotation"): the
      // files are read with the same checks as at start; nothing changes unless all are good.
      std::vector<std::string> keys;
      for (const std::string* path : {&r.key_file, &r.previous_key_file}) {
        if (path->empty()) continue;
        std::string key;
        if (Status s = LoadClusterKey(*path, &key); !s.ok()) return refused(s);
        keys.push_back(std::move(key));
      }
      if (Status s = engine_->SetClusterKeys(std::move(keys)); !s.ok()) return refused(s);
      config_.key_file = r.key_file;
      config_.previous_key_file = r.previous_key_file;
      Log(LogLevel::kInfo, "set_keys: frames are now sent under the cluster key of " + r.key_file +
                               (r.previous_key_file.empty() ? std::string()
                                                            : "; frames under the key of " + r.previous_key_file +
                                                                  " are accepted too"));
      return {{"ok", true}, {"authenticated", engine_->authenticated()}};
    }
    case Op::kStop:
      stop_requested_ = true;
      stop_reason_ = "stop request";
      return {{"ok", true}};
    case Op::kGenerate:
    case Op::kGenerateResult:
    case Op::kWatch:
    case Op::kWatchResult:
      return ExecuteBench(r);
  }
  return {{"ok", false}, {"code", "bad_request"}, {"error", "unhandled op"}};
}

json Daemon::TransportStats() const {
  const corosync::CpgTransport& t = env_->transport();
  const corosync::CpgTransportStats& s = t.stats();
  return {{"group", t.config().group},
          {"connected", t.connected()},
          {"view_id", t.view().view_id},
          {"view_members", t.view().members},
          {"broadcasts_sent", s.broadcasts_sent},
          {"unicasts_sent", s.unicasts_sent},
          {"bytes_sent", s.bytes_sent},
          {"envelope_bytes_sent", s.envelope_bytes_sent},
          {"try_again", s.try_again},
          {"queued", s.queued},
          {"queue_full", s.queue_full},
          {"queue_frames", t.queue().frames()},
          {"queue_bytes", t.queue().bytes()},
          {"queue_max_frames", t.queue().max_frames()},
          {"queue_max_bytes", t.queue().max_bytes()},
          {"queue_peak_frames", t.queue().peak_frames()},
          {"too_large", s.too_large},
          {"unreachable", s.unreachable},
          {"dropped_disconnected", s.dropped_disconnected},
          {"messages_received", s.messages_received},
          {"bytes_received", s.bytes_received},
          {"own_messages", s.own_messages},
          {"frames_delivered", s.frames_delivered},
          {"unicast_not_for_us", s.unicast_not_for_us},
          {"unicast_not_for_us_bytes", s.unicast_not_for_us_bytes},
          {"envelope_errors", s.envelope_errors},
          {"from_ignored_member", s.from_ignored_member},
          {"duplicate_members", s.duplicate_members},
          {"confchgs", s.confchgs},
          {"totem_confchgs", s.totem_confchgs},
          {"views", s.views},
          {"connects", s.connects},
          {"reconnects", s.connects > 0 ? s.connects - 1 : 0},
          {"connect_failures", s.connect_failures},
          {"disconnects", s.disconnects},
          {"ring_id", json::array({s.ring_id_node, s.ring_id_seq})},
          {"wakeups", env_->stats().wakeups},
          {"frames_before_attach", env_->stats().frames_before_attach},
          {"random_seed", env_->random_seed()}};
}

json Daemon::Dump() const {
  const ViewDigest d = engine_->Digest();
  json devices = json::array();
  engine_->ForEachDevice([&](std::string_view device, std::optional<DeviceState> aggregate,
                             std::span<const DeviceContribution> contributions) {
    devices.push_back({{"device", std::string(device)},
                       {"aggregate", StateOrNull(aggregate)},
                       {"contributions", ContributionsJson(contributions)}});
  });
  json mailboxes = json::array();
  engine_->ForEachMailbox([&](std::string_view mailbox, const MailboxValue& v) {
    json m = MailboxJson(v);
    m["mailbox"] = std::string(mailbox);
    mailboxes.push_back(std::move(m));
  });
  json registrations = json::array();
  engine_->ForEachRegistration([&](std::string_view aor, const RegistrationView& r) {
    json j = RegistrationJson(r.info);
    j["aor"] = std::string(aor);
    j["node"] = r.node;
    j["version"] = VersionJson(r.version);
    registrations.push_back(std::move(j));
  });
  return {{"ok", true},
          {"node", engine_->node_id()},
          {"incarnation", engine_->incarnation()},
          {"digest", {{"hash", d.hash}, {"devices", d.devices}, {"mailboxes", d.mailboxes}, {"registrations", d.registrations}}},
          {"devices", std::move(devices)},
          {"mailboxes", std::move(mailboxes)},
          {"registrations", std::move(registrations)}};
}

// ---- events ----------------------------------------------------------------------------------

void Daemon::OnViewChange(const ViewChange& change) {
  if (probe_.active()) probe_.OnViewChange(change, PosixMonoNs());
  if (server_ == nullptr || server_->subscribers() == 0) return;
  server_->Publish(ResponseLine(ViewEvent(change, PosixMonoNs())));
}

void Daemon::OnMembersChanged(const std::vector<NodeId>& members) {
  std::string text = "live members:";
  for (NodeId n : members) text += " " + std::to_string(n);
  Log(LogLevel::kInfo, text);
  if (server_ == nullptr || server_->subscribers() == 0) return;
  server_->Publish(ResponseLine(
      {{"event", "members"}, {"t_mono_ns", PosixMonoNs()}, {"members", members}, {"view_id", env_->transport().view().view_id}}));
}

}  // namespace pbxstate::daemon
