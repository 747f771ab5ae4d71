#include "netns_views.h"

#include <algorithm>
#include <utility>

#include "pbxstate/harness/slots.h"

namespace pbxstate::runner {

std::int64_t WallMapping::ToUnix(WallTime harness) const {
  return realtime_at_start_ns + (harness - kSimEpoch).count();
}

WallTime WallMapping::FromUnix(std::int64_t unix_ns) const {
  return kSimEpoch + Duration(unix_ns - realtime_at_start_ns);
}

std::optional<DeliveredView> HarnessMembership(const control::TransportViewEvent& event, std::int64_t mono_start_ns) {
  if (event.view_id == 0) return std::nullopt;
  DeliveredView v;
  v.t = Duration(std::max<std::int64_t>(event.t_mono_ns - mono_start_ns, 0));
  v.members = event.members;
  std::sort(v.members.begin(), v.members.end());
  return v;
}

control::OwnedViewChange HarnessViewChange(const control::ViewEvent& event, const WallMapping& wall) {
  control::OwnedViewChange out = event.view;
  auto mapped = [&wall](const std::optional<RegistrationInfo>& r) {
    std::optional<RegistrationInfo> m = r;
    if (m) m->expires = wall.FromUnix(m->expires);
    return m;
  };
  out.set_registrations(mapped(event.view.old_registration()), mapped(event.view.new_registration()));
  return out;
}

std::vector<control::OwnedViewChange> HarnessCatchUp(const control::DumpReply& dump, const WallMapping& wall) {
  std::vector<control::OwnedViewChange> out;
  auto remote = [&out](EntryKind kind, const std::string& key, NodeId origin, Version version) -> ViewChange& {
    control::OwnedViewChange& c = out.emplace_back();
    c.set_key(key);
    ViewChange& ch = c.mutable_change();
    ch.kind = kind;
    ch.cause = ChangeCause::kRemote;
    ch.origin = origin;
    ch.version = version;
    return ch;
  };
  for (const control::DumpReply::Device& d : dump.devices) {
    for (const DeviceContribution& c : d.contributions) {
      if (c.node == dump.node) continue;
      ViewChange& ch = remote(EntryKind::kDevice, d.name, c.node, c.version);
      ch.new_contribution = c.state;
      ch.new_aggregate = d.aggregate;
    }
  }
  for (const control::DumpReply::Registration& r : dump.registrations) {
    if (r.view.node == dump.node) continue;
    remote(EntryKind::kRegistration, r.aor, r.view.node, r.view.version);
    RegistrationInfo info = r.view.info;
    info.expires = wall.FromUnix(info.expires);
    out.back().set_registrations(std::nullopt, std::move(info));
  }
  for (const control::DumpReply::Mailbox& m : dump.mailboxes) {
    if (m.value.writer == dump.node) continue;
    remote(EntryKind::kMailbox, m.name, m.value.writer, Version{}).new_mailbox = m.value;
  }
  return out;
}

harness::FinalView HarnessFinalView(const control::DumpReply& dump, const EngineStats& stats, const WallMapping& wall) {
  harness::FinalView out;
  out.stats = stats;
  out.digest = dump.digest.hash;
  for (const control::DumpReply::Device& d : dump.devices) {
    // As FinalViewOf: only devices some node contributes to.
    if (!d.contributions.empty()) out.devices.push_back({d.name, d.aggregate, d.contributions});
  }
  for (const control::DumpReply::Registration& r : dump.registrations) {
    harness::FinalView::Registration reg{r.aor, r.view};
    reg.view.info.expires = wall.FromUnix(r.view.info.expires);
    out.registrations.push_back(std::move(reg));
  }
  for (const control::DumpReply::Mailbox& m : dump.mailboxes) out.mailboxes.push_back({m.name, m.value});
  // The instant the daemon's engine listed it, on the run's timeline: its expiries are judged then.
  out.read = harness::ReadInstant{wall.FromUnix(dump.as_of_from_unix_ns) - kSimEpoch,
                                  wall.FromUnix(dump.as_of_to_unix_ns) - kSimEpoch};
  return out;
}

}  // namespace pbxstate::runner
