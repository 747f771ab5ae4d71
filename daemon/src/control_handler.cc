// The daemon's side of the control protocol (daemon/CONTROL.md): a parsed request executed against
// the engine and the transport, answered with a typed reply; the engine's callbacks published as
// events. Parsing and encoding are the protocol library's (pbxstate/control/); this file only says
// what each op does.
#include <unistd.h>

#include <algorithm>

#include "daemon.h"
#include "pbxstate/check.h"
#include "pbxstate/cluster_key.h"
#include "pbxstate/control/events.h"
#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::daemon {

using corosync::PosixMonoNs;
namespace ctl = pbxstate::control;

ControlServer::Reply Daemon::HandleRequest(std::string_view line) {
  ControlServer::Reply reply;
  auto parsed = ctl::ParseRequest(line);
  if (auto* err = std::get_if<ctl::Error>(&parsed)) {
    reply.line = ctl::ErrorLine(*err);
    return reply;
  }
  const Outcome outcome = Execute(std::get<ctl::Request>(parsed), &reply.subscribe);
  if (auto* err = std::get_if<ctl::Error>(&outcome)) {
    reply.line = ctl::ErrorLine(*err);
    reply.subscribe = false;
    return reply;
  }
  bool too_large = false;
  reply.line = ctl::ResponseLine(ctl::EncodeReply(std::get<ctl::Reply>(outcome)), &too_large);
  // Only a successful subscribe turns the connection into an event stream, whose first event is
  // the transport view in force (a harness needs it to judge what came after).
  if (too_large) reply.subscribe = false;
  if (reply.subscribe) reply.line += ctl::EventLine(ctl::EncodeEvent(last_view_));
  return reply;
}

Daemon::Outcome Daemon::Execute(const ctl::Request& r, bool* subscribe) {
  using ctl::Op;
  const auto done = [](const Status& s, std::int64_t t) -> Outcome {
    if (!s.ok()) return ctl::FromStatus(s);
    return ctl::TimeReply{t};
  };
  switch (r.op) {
    case Op::kHello:
      return ctl::HelloReply{engine_->node_id(), std::string(engine_->config().label), engine_->incarnation(),
                             ::getpid(), config_.cpg.transport.group, engine_->Members(),
                             env_->transport().view().view_id, engine_->authenticated()};
    case Op::kSetDevice: {
      const std::int64_t t = PosixMonoNs();
      return done(engine_->SetDeviceState(r.device, r.state), t);
    }
    case Op::kRemoveDevice: {
      const std::int64_t t = PosixMonoNs();
      return done(engine_->RemoveDevice(r.device), t);
    }
    case Op::kSetMailbox: {
      const std::int64_t t = PosixMonoNs();
      return done(engine_->SetMailbox(r.mailbox, r.counts), t);
    }
    case Op::kRemoveMailbox: {
      const std::int64_t t = PosixMonoNs();
      return done(engine_->RemoveMailbox(r.mailbox), t);
    }
    case Op::kRegister: {
      RegistrationInfo info;
      info.contact = r.contact;
      info.expires = WallTime(Duration(r.expires_unix_ns));
      info.status = r.reachable ? ContactStatus::kReachable : ContactStatus::kUnreachable;
      info.rtt_us = r.rtt_us;
      info.path = r.path;
      info.user_agent = r.user_agent;
      const std::int64_t t = PosixMonoNs();
      return done(engine_->SetRegistration(r.aor, info), t);
    }
    case Op::kUnregister: {
      const std::int64_t t = PosixMonoNs();
      return done(engine_->RemoveRegistration(r.aor), t);
    }
    case Op::kRemoveContact: {
      const std::int64_t t = PosixMonoNs();
      return done(engine_->RemoveContact(r.aor, r.contact), t);
    }
    case Op::kDevice:
      return ctl::DeviceReply{engine_->ClusterDeviceState(r.device), engine_->DeviceContributions(r.device)};
    case Op::kLocate:
      return Locate(r.aor);
    case Op::kMembers:
      return ctl::MembersReply{engine_->Members(), env_->transport().view().view_id, env_->transport().view().members};
    case Op::kStats:
      return Stats();
    case Op::kDump:
      return Dump();
    case Op::kSubscribe:
      *subscribe = true;
      return ctl::TimeReply{PosixMonoNs()};
    case Op::kSetKeys: {
      // Key rotation without a restart (engine/README.md "Authentication", "Rotation"): the
      // files are read with the same checks as at start; nothing changes unless all are good.
      std::vector<std::string> keys;
      for (const std::string* path : {&r.key_file, &r.previous_key_file}) {
        if (path->empty()) continue;
        std::string key;
        if (Status s = LoadClusterKey(*path, &key); !s.ok()) return ctl::FromStatus(s);
        keys.push_back(std::move(key));
      }
      if (Status s = engine_->SetClusterKeys(std::move(keys)); !s.ok()) return ctl::FromStatus(s);
      config_.key_file = r.key_file;
      config_.previous_key_file = r.previous_key_file;
      Log(LogLevel::kInfo, "set_keys: frames are now sent under the cluster key of " + r.key_file +
                               (r.previous_key_file.empty() ? std::string()
                                                            : "; frames under the key of " + r.previous_key_file +
                                                                  " are accepted too"));
      return ctl::KeysReply{engine_->authenticated()};
    }
    case Op::kStop:
      stop_requested_ = true;
      stop_reason_ = "stop request";
      return ctl::StopReply{};
    case Op::kGenerate:
    case Op::kGenerateResult:
    case Op::kWatch:
    case Op::kWatchResult:
      return ExecuteBench(r);
  }
  return ctl::Error{ctl::ErrorCode::kBadRequest, "unhandled op"};
}

ctl::LocateReply Daemon::Locate(const std::string& aor) const {
  ctl::LocateReply out{engine_->Locate(aor), {}};
  // Location has no user agent; the same contact's RegistrationInfo has. Both are read from the
  // engine in this one call of the event loop, so every location has its registration.
  const std::vector<RegistrationView> contacts = engine_->Registrations(aor);
  out.user_agents.reserve(out.locations.size());
  for (const Location& l : out.locations) {
    auto it = std::find_if(contacts.begin(), contacts.end(), [&l](const RegistrationView& v) {
      return v.node == l.node && v.info.contact == l.contact;
    });
    PBXSTATE_CHECK(it != contacts.end());
    out.user_agents.push_back(it->info.user_agent);
  }
  return out;
}

ctl::StatsReply Daemon::Stats() const {
  ctl::StatsReply out;
  out.engine = engine_->stats();
  const corosync::CpgTransport& t = env_->transport();
  const corosync::CpgTransportStats& s = t.stats();
  ctl::TransportStats& o = out.transport;
  o.group = t.config().group;
  o.connected = t.connected();
  o.view_id = t.view().view_id;
  o.view_members = t.view().members;
  o.ring_id_node = s.ring_id_node;
  o.ring_id_seq = s.ring_id_seq;
  o.broadcasts_sent = s.broadcasts_sent;
  o.unicasts_sent = s.unicasts_sent;
  o.bytes_sent = s.bytes_sent;
  o.envelope_bytes_sent = s.envelope_bytes_sent;
  o.try_again = s.try_again;
  o.queued = s.queued;
  o.queue_full = s.queue_full;
  o.queue_frames = t.queue().frames();
  o.queue_bytes = t.queue().bytes();
  o.queue_max_frames = t.queue().max_frames();
  o.queue_max_bytes = t.queue().max_bytes();
  o.queue_peak_frames = t.queue().peak_frames();
  o.too_large = s.too_large;
  o.unreachable = s.unreachable;
  o.dropped_disconnected = s.dropped_disconnected;
  o.messages_received = s.messages_received;
  o.bytes_received = s.bytes_received;
  o.own_messages = s.own_messages;
  o.frames_delivered = s.frames_delivered;
  o.unicast_not_for_us = s.unicast_not_for_us;
  o.unicast_not_for_us_bytes = s.unicast_not_for_us_bytes;
  o.envelope_errors = s.envelope_errors;
  o.from_ignored_member = s.from_ignored_member;
  o.duplicate_members = s.duplicate_members;
  o.confchgs = s.confchgs;
  o.totem_confchgs = s.totem_confchgs;
  o.views = s.views;
  o.connects = s.connects;
  o.reconnects = s.connects > 0 ? s.connects - 1 : 0;
  o.connect_failures = s.connect_failures;
  o.disconnects = s.disconnects;
  o.wakeups = env_->stats().wakeups;
  o.frames_before_attach = env_->stats().frames_before_attach;
  o.random_seed = env_->random_seed();
  const ControlServerStats& cs = server_->stats();
  out.daemon = ctl::DaemonStats{server_->connections(), cs.connections_accepted, cs.connections_refused,
                                cs.requests,            cs.lines_too_long,       server_->subscribers(),
                                cs.subscribers_dropped, cs.events_published};
  return out;
}

ctl::DumpReply Daemon::Dump() {
  ctl::DumpReply out;
  out.node = engine_->node_id();
  out.incarnation = engine_->incarnation();
  // A wakeup delivered early is harmless (env.h): registrations due to expire by now are gone
  // before the listing, so the view is the engine's at an instant between the two readings of
  // its clock, not at whenever its timer last fired on a busy host.
  out.as_of_from_unix_ns = env_->WallNow().time_since_epoch().count();
  engine_->OnTimer();
  out.digest = engine_->Digest();
  engine_->ForEachDevice([&](std::string_view device, std::optional<DeviceState> aggregate,
                             std::span<const DeviceContribution> contributions) {
    out.devices.push_back({std::string(device), aggregate, {contributions.begin(), contributions.end()}});
  });
  engine_->ForEachMailbox([&](std::string_view mailbox, const MailboxValue& v) {
    out.mailboxes.push_back({std::string(mailbox), v});
  });
  engine_->ForEachRegistration([&](std::string_view aor, const RegistrationView& r) {
    out.registrations.push_back({std::string(aor), r});
  });
  out.as_of_to_unix_ns = env_->WallNow().time_since_epoch().count();
  return out;
}

// ---- events ----------------------------------------------------------------------------------

void Daemon::OnViewChange(const ViewChange& change) {
  if (probe_.active()) probe_.OnViewChange(change, PosixMonoNs());
  if (server_ == nullptr || server_->subscribers() == 0) return;
  server_->Publish(ctl::EventLine(ctl::EncodeViewChange(change, PosixMonoNs())));
}

void Daemon::OnMembership(const MembershipView& view) {
  // Stamped before the engine takes it: its departures and catch-up come after this instant.
  last_view_ = ctl::TransportViewEvent{PosixMonoNs(), view.view_id, view.members};
  std::sort(last_view_.members.begin(), last_view_.members.end());
  if (server_ != nullptr && server_->subscribers() > 0) server_->Publish(ctl::EventLine(ctl::EncodeEvent(last_view_)));
  engine_->OnMembership(view);
}

void Daemon::OnMembersChanged(const std::vector<NodeId>& members) {
  std::string text = "live members:";
  for (NodeId n : members) text += " " + std::to_string(n);
  Log(LogLevel::kInfo, text);
  if (server_ == nullptr || server_->subscribers() == 0) return;
  server_->Publish(ctl::EventLine(
      ctl::EncodeEvent(ctl::MembersEvent{PosixMonoNs(), members, env_->transport().view().view_id})));
}

}  // namespace pbxstate::daemon
