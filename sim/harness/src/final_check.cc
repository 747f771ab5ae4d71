// The final check: each live node's final view against the oracle (lost and stale entries,
// versions, aggregates, members, the engine's point queries against its own listing).
#include <algorithm>
#include <cassert>
#include <map>
#include <set>

#include "pbxstate/harness/recorder.h"
#include "recorder_impl.h"

namespace pbxstate::harness {
namespace {

std::string Seconds(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g s", static_cast<double>(ns) / 1e9);
  return buf;
}

std::string StateText(const std::optional<DeviceState>& s) { return s ? std::string(DeviceStateName(*s)) : "none"; }

// The engine's point queries must say what its listing says.
void CheckPointQueries(const Engine& engine, FinalView* v) {
  auto note = [&](std::string what) { v->inconsistencies.push_back(std::move(what)); };
  for (const FinalView::Device& d : v->devices) {
    const std::optional<DeviceState> point = engine.ClusterDeviceState(d.name);
    if (point != d.aggregate) {
      note("ClusterDeviceState(" + d.name + ") is " + StateText(point) + " but ForEachDevice lists " +
           StateText(d.aggregate));
    }
  }
  for (const FinalView::Mailbox& m : v->mailboxes) {
    const std::optional<MailboxValue> point = engine.Mailbox(m.mailbox);
    if (!point || *point != m.value) note("Mailbox(" + m.mailbox + ") disagrees with ForEachMailbox");
  }
  std::map<std::string, std::vector<std::pair<NodeId, std::string>>> listed;
  for (const FinalView::Registration& r : v->registrations) listed[r.aor].emplace_back(r.view.node, r.view.info.contact);
  for (auto& [aor, contacts] : listed) {
    std::vector<std::pair<NodeId, std::string>> point;
    for (const RegistrationView& r : engine.Registrations(aor)) point.emplace_back(r.node, r.info.contact);
    std::sort(contacts.begin(), contacts.end());
    std::sort(point.begin(), point.end());
    if (point != contacts) note("Registrations(" + aor + ") lists other contacts than ForEachRegistration");
  }
}

}  // namespace

FinalView FinalViewOf(const Engine& engine) {
  FinalView v;
  v.stats = engine.stats();
  v.digest = engine.Digest().hash;
  engine.ForEachDevice([&](std::string_view device, std::optional<DeviceState> aggregate,
                           std::span<const DeviceContribution> cs) {
    v.devices.push_back({std::string(device), aggregate, std::vector<DeviceContribution>(cs.begin(), cs.end())});
  });
  engine.ForEachRegistration([&](std::string_view aor, const RegistrationView& r) {
    v.registrations.push_back({std::string(aor), r});
  });
  engine.ForEachMailbox([&](std::string_view mailbox, const MailboxValue& m) {
    v.mailboxes.push_back({std::string(mailbox), m});
  });
  std::vector<NodeId> members = engine.Members();
  std::sort(members.begin(), members.end());
  v.members = std::move(members);
  CheckPointQueries(engine, &v);
  return v;
}

void RunRecorder::Impl::CheckFinalView(NodeId n, const FinalView& e, Duration end, std::uint64_t* lost,
                                       std::uint64_t* stale, RunResult* r) {
  auto note = [&](std::string what) { NoteDiscrepancy(r, n, std::move(what)); };
  // What the node shows, by slot, and how to say it.
  std::map<SlotId, std::pair<ValueHash, std::string>> shown;
  auto show = [&](SlotId s, ValueHash v, std::string text) {
    if (!shown.emplace(s, std::make_pair(v, std::move(text))).second) {
      ++*stale;
      note("lists " + DescribeSlot(s) + " twice");
    }
  };
  for (const FinalView::Device& d : e.devices) {
    std::vector<DeviceState> states;
    for (const DeviceContribution& c : d.contributions) {
      show(slots.Intern(EntryKind::kDevice, d.name, c.node), DeviceValue(c.state, c.version.incarnation),
           std::string(DeviceStateName(c.state)) + " (incarnation " + std::to_string(c.version.incarnation) + ")");
      states.push_back(c.state);
    }
    // The aggregate, recomputed by the oracle's own rules from the contributions shown (each
    // contribution is checked on its own below).
    const std::optional<DeviceState> want = OracleAggregate(states);
    if (d.aggregate != want) {
      ++*stale;
      note("wrong aggregate for device " + d.name + ": shows " + StateText(d.aggregate) + ", its contributions make " +
           StateText(want));
    }
  }
  for (const FinalView::Registration& reg : e.registrations) {
    const RegistrationView& v = reg.view;
    const std::int64_t expires = v.info.expires.time_since_epoch().count() - kSimEpochNs;
    show(slots.Intern(EntryKind::kRegistration, RegistrationSlotKey(reg.aor, v.info.contact), v.node),
         RegistrationValue(v.info.contact, v.info.path, v.info.user_agent, expires, v.info.status,
                           v.version.incarnation),
         std::string(v.info.status == ContactStatus::kReachable ? "reachable" : "unreachable") + ", expiring at " +
             Seconds(expires) + " (incarnation " + std::to_string(v.version.incarnation) + ")");
  }
  for (const FinalView::Mailbox& mb : e.mailboxes) {
    const MailboxCounts& c = mb.value.counts;
    show(slots.Intern(EntryKind::kMailbox, mb.mailbox, kNoNode), MailboxValueHash(mb.value),
         std::to_string(c.new_messages) + "/" + std::to_string(c.old_messages) + "/" + std::to_string(c.urgent_messages) +
             " by node " + std::to_string(mb.value.writer) + " (hlc " + std::to_string(mb.value.hlc.physical_ns) + "." +
             std::to_string(mb.value.hlc.logical) + ")");
  }
  // Read after the end (a daemon's dump): its registrations are judged at the instant it was read.
  std::optional<ReadInstant> read = e.read;
  if (read) {
    read->from = std::max(read->from, end);
    read->to = std::max(read->to, read->from);
  }
  // Every slot anyone knows of: the oracle's and what the node shows.
  for (SlotId s = 0; s < slots.size(); ++s) {
    auto it = shown.find(s);
    if (it == shown.end() && !oracle.Known(s)) continue;
    const Acceptable want = oracle.Expected(n, s, end, read);
    const ValueHash got = it == shown.end() ? kAbsent : it->second.first;
    if (want.Contains(got)) continue;
    if (got == kAbsent) {
      ++*lost;
      note("lost " + DescribeSlot(s) + ": shows none, expected " + DescribeAcceptable(s, want));
    } else if (want.values.empty()) {
      ++*stale;
      note("shows " + DescribeSlot(s) + ", which it should not: " + it->second.second);
    } else {
      ++*stale;
      note("stale " + DescribeSlot(s) + ": shows " + it->second.second + ", expected " + DescribeAcceptable(s, want));
    }
  }
  if (e.members) {
    for (NodeId o = 1; o <= node_count; ++o) {
      const Counted c = oracle.Counts(n, o, end);
      const bool listed = std::binary_search(e.members->begin(), e.members->end(), o);
      if (c == Counted::kYes && !listed) {
        ++*stale;
        note("members lack node " + std::to_string(o) + ", which it must count");
      } else if (c == Counted::kNo && listed) {
        ++*stale;
        note("members list node " + std::to_string(o) + ", which it must not count");
      }
    }
  }
  for (const std::string& what : e.inconsistencies) {
    ++*stale;
    note(what);
  }
}

std::optional<Duration> RunRecorder::Impl::LastCatchUp(NodeId n, Duration end) const {
  std::optional<Duration> last;
  const auto& mine = timelines[n - 1];
  for (SlotId s = 0; s < slots.size(); ++s) {
    auto it = mine.find(s);
    if (it == mine.end() && !oracle.Known(s)) continue;
    const ValueHash got = it == mine.end() || it->second.empty() ? kAbsent : it->second.back().value;
    if (!oracle.Expected(n, s, end).Contains(got)) return end;  // still wrong at the end
    if (it == mine.end() || it->second.empty()) continue;
    // When the owner reached its last value, and when this node did.
    const Duration own = oracle.LastOwnValue(s, end).first;
    const Duration mine_t = it->second.back().t;
    if (mine_t > own && (!last || mine_t > *last)) last = mine_t;
  }
  return last;
}

}  // namespace pbxstate::harness
