#include "oracle.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace pbxstate::testing {

namespace {

// Asterisk's state_order[], indexed by enum ast_device_state.
constexpr int kStateOrder[kDeviceStateCount] = {
    1,  // UNKNOWN
    3,  // NOT_INUSE
    6,  // INUSE
    7,  // BUSY
    0,  // INVALID
    2,  // UNAVAILABLE
    5,  // RINGING
    8,  // RINGINUSE
    4,  // ONHOLD
};

int Order(DeviceState s) { return kStateOrder[static_cast<int>(s)]; }

std::string Name(DeviceState s) {
  static const char* const kNames[kDeviceStateCount] = {"UNKNOWN",     "NOT_INUSE", "INUSE",     "BUSY",  "INVALID",
                                                        "UNAVAILABLE", "RINGING",   "RINGINUSE", "ONHOLD"};
  return kNames[static_cast<int>(s)];
}

std::string Describe(const RegistrationInfo& r) {
  std::ostringstream os;
  os << "{" << r.contact.substr(0, 40) << (r.contact.size() > 40 ? "..." : "")
     << " expires=" << r.expires.time_since_epoch().count() << " status=" << static_cast<int>(r.status)
     << " rtt=" << r.rtt_us << "}";
  return os.str();
}

std::string Describe(const MailboxCounts& c) {
  std::ostringstream os;
  os << "(" << c.new_messages << "," << c.old_messages << "," << c.urgent_messages << ")";
  return os.str();
}

}  // namespace

std::string ToString(const std::optional<DeviceState>& state) { return state ? Name(*state) : "none"; }

std::optional<DeviceState> AsteriskAggregate(const std::vector<DeviceState>& states) {
  if (states.empty()) return std::nullopt;
  DeviceState agg = DeviceState::kInvalid;
  bool ringing = false, inuse = false;
  for (DeviceState s : states) {
    if (s == DeviceState::kRinging) {
      ringing = true;
    } else if (s == DeviceState::kInUse || s == DeviceState::kOnHold || s == DeviceState::kBusy) {
      inuse = true;
    }
    if (ringing && inuse) {
      agg = DeviceState::kRingInUse;
    } else if (Order(s) > Order(agg)) {
      agg = s;
    }
  }
  return agg;
}

Expected ComputeExpected(const std::vector<Op>& log, const std::map<NodeId, std::uint64_t>& live_incarnations,
                         WallTime check_time) {
  Expected e;
  e.live = live_incarnations;
  // Owned entries: the last change of each key by each live node in its current incarnation.
  std::map<std::pair<std::string, NodeId>, DeviceState> device_last;
  std::map<std::pair<std::string, NodeId>, std::optional<RegistrationInfo>> registration_last;
  for (const Op& op : log) {
    NodeId id = inproc::Cluster::IdOf(op.node);
    if (op.type == Op::Type::kMailbox) {
      // Last writer wins, in time. The workload never writes one mailbox twice at one instant
      // (ExpectedMailbox would be ambiguous); a later write with an equal instant is ignored here
      // and will show up as a mismatch if that rule is ever broken.
      auto it = e.mailboxes.find(op.key);
      if (it == e.mailboxes.end() || op.wall > it->second.wall) {
        e.mailboxes[op.key] = ExpectedMailbox{op.counts, id, op.wall};
      }
      continue;
    }
    auto live = live_incarnations.find(id);
    if (live == live_incarnations.end() || live->second != op.incarnation) continue;  // void
    switch (op.type) {
      case Op::Type::kDevice:
        device_last[{op.key, id}] = op.state;
        break;
      case Op::Type::kSetRegistration:
        registration_last[{op.key, id}] = op.registration;
        break;
      case Op::Type::kRemoveRegistration:
        registration_last[{op.key, id}] = std::nullopt;
        break;
      case Op::Type::kMailbox:
        break;
    }
  }
  for (const auto& [key, state] : device_last) e.devices[key.first][key.second] = state;
  for (const auto& [key, reg] : registration_last) {
    if (reg && check_time < reg->expires) e.registrations[key] = *reg;
  }
  return e;
}

std::vector<std::string> CompareWithExpected(const inproc::Cluster& cluster, const Expected& expected,
                                             std::size_t limit) {
  std::vector<std::string> diffs;
  auto add = [&](std::size_t node, const std::string& what) {
    if (diffs.size() < limit) diffs.push_back("node " + std::to_string(node) + ": " + what);
  };
  std::vector<NodeId> live_ids;
  for (const auto& [id, inc] : expected.live) live_ids.push_back(id);
  for (std::size_t i : cluster.UpNodes()) {
    if (!expected.live.count(inproc::Cluster::IdOf(i))) {
      add(i, "is up but the oracle was not told it is live");
      continue;
    }
  }
  for (const auto& [id, inc] : expected.live) {
    std::size_t i = id - 1;
    const Engine* e = cluster.engine(i);
    if (e == nullptr) {
      add(i, "expected up, is down");
      continue;
    }
    if (e->Members() != live_ids) {
      std::ostringstream os;
      os << "members {";
      for (NodeId m : e->Members()) os << " " << m;
      os << " } expected {";
      for (NodeId m : live_ids) os << " " << m;
      os << " }";
      add(i, os.str());
    }

    // Devices: every device the engine shows, against the oracle, and back.
    std::set<std::string> seen;
    e->ForEachDevice([&](std::string_view device, std::optional<DeviceState> aggregate,
                         std::span<const DeviceContribution> contributions) {
      if (contributions.empty()) {
        if (aggregate) add(i, "device " + std::string(device) + " has an aggregate and no contributions");
        return;
      }
      std::string name(device);
      seen.insert(name);
      auto it = expected.devices.find(name);
      if (it == expected.devices.end()) {
        add(i, "device " + name + " shows " + ToString(aggregate) + " (from node " +
                   std::to_string(contributions[0].node) + ") but nobody live contributes");
        return;
      }
      std::map<NodeId, DeviceState> got;
      for (const DeviceContribution& c : contributions) {
        got[c.node] = c.state;
        auto inc_it = expected.live.find(c.node);
        if (inc_it != expected.live.end() && c.version.incarnation != inc_it->second) {
          add(i, "device " + name + " contribution of node " + std::to_string(c.node) + " has incarnation " +
                     std::to_string(c.version.incarnation) + ", node's is " + std::to_string(inc_it->second));
        }
      }
      if (got != it->second) {
        std::ostringstream os;
        os << "device " << name << " contributions {";
        for (auto& [n, s] : got) os << " " << n << ":" << Name(s);
        os << " } expected {";
        for (auto& [n, s] : it->second) os << " " << n << ":" << Name(s);
        os << " }";
        add(i, os.str());
      }
      std::vector<DeviceState> states;
      for (auto& [n, s] : it->second) states.push_back(s);
      auto want = AsteriskAggregate(states);
      if (aggregate != want) {
        add(i, "device " + name + " aggregate " + ToString(aggregate) + " expected " + ToString(want));
      }
      auto point = e->ClusterDeviceState(name);
      if (point != want) {
        add(i, "ClusterDeviceState(" + name + ") = " + ToString(point) + " expected " + ToString(want));
      }
    });
    for (const auto& [device, contributions] : expected.devices) {
      if (!seen.count(device)) {
        add(i, "device " + device + " missing (expected " + std::to_string(contributions.size()) +
                   " contributions, ClusterDeviceState=" + ToString(e->ClusterDeviceState(device)) + ")");
      }
    }

    // Mailboxes.
    std::map<std::string, MailboxValue> mailboxes;
    e->ForEachMailbox([&](std::string_view mailbox, const MailboxValue& v) { mailboxes[std::string(mailbox)] = v; });
    for (const auto& [mailbox, want] : expected.mailboxes) {
      auto it = mailboxes.find(mailbox);
      if (it == mailboxes.end()) {
        add(i, "mailbox " + mailbox + " missing");
        continue;
      }
      const MailboxValue& got = it->second;
      if (got.counts != want.counts || got.writer != want.writer ||
          got.hlc.physical_ns != want.wall.time_since_epoch().count()) {
        add(i, "mailbox " + mailbox + " = " + Describe(got.counts) + " by " + std::to_string(got.writer) + " at " +
                   std::to_string(got.hlc.physical_ns) + ", expected " + Describe(want.counts) + " by " +
                   std::to_string(want.writer) + " at " + std::to_string(want.wall.time_since_epoch().count()));
      }
      auto point = e->Mailbox(mailbox);
      if (!point || *point != got) add(i, "Mailbox(" + mailbox + ") disagrees with ForEachMailbox");
    }
    for (const auto& [mailbox, v] : mailboxes) {
      if (!expected.mailboxes.count(mailbox)) add(i, "mailbox " + mailbox + " was never written");
    }

    // Registrations.
    std::map<std::pair<std::string, NodeId>, RegistrationInfo> regs;
    e->ForEachRegistration([&](std::string_view aor, const RegistrationView& r) {
      auto key = std::make_pair(std::string(aor), r.node);
      if (regs.count(key)) add(i, "registration " + key.first + "@" + std::to_string(r.node) + " visited twice");
      regs[key] = r.info;
      auto inc_it = expected.live.find(r.node);
      if (inc_it != expected.live.end() && r.version.incarnation != inc_it->second) {
        add(i, "registration " + key.first + "@" + std::to_string(r.node) + " has incarnation " +
                   std::to_string(r.version.incarnation) + ", node's is " + std::to_string(inc_it->second));
      }
    });
    for (const auto& [key, want] : expected.registrations) {
      auto it = regs.find(key);
      if (it == regs.end()) {
        add(i, "registration " + key.first + "@" + std::to_string(key.second) + " missing, expected " + Describe(want));
      } else if (!(it->second == want)) {
        add(i, "registration " + key.first + "@" + std::to_string(key.second) + " = " + Describe(it->second) +
                   " expected " + Describe(want));
      }
    }
    std::set<std::string> aors;
    for (const auto& [key, got] : regs) {
      aors.insert(key.first);
      if (!expected.registrations.count(key)) {
        add(i, "registration " + key.first + "@" + std::to_string(key.second) + " = " + Describe(got) +
                   " should not be live");
      }
    }
    for (const auto& [key, want] : expected.registrations) aors.insert(key.first);
    for (const std::string& aor : aors) {
      std::vector<NodeId> want_nodes, got_nodes;
      for (const auto& [key, r] : expected.registrations) {
        if (key.first == aor) want_nodes.push_back(key.second);
      }
      for (const RegistrationView& r : e->Registrations(aor)) got_nodes.push_back(r.node);
      if (got_nodes != want_nodes) add(i, "Registrations(" + aor + ") lists other nodes than the oracle");
    }
  }
  return diffs;
}

}  // namespace pbxstate::testing
