#include "pbxstate/harness/oracle.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <tuple>

namespace pbxstate::harness {
namespace {

using namespace std::chrono_literals;
constexpr Duration kNever = Duration::max();

// Asterisk's order of device states, written again here on purpose: the engine's table
// (devstate_aggregate.cc) is what the oracle checks, so it must not be what it checks with.
int Rank(DeviceState s) {
  switch (s) {
    case DeviceState::kInvalid: return 0;
    case DeviceState::kUnknown: return 1;
    case DeviceState::kUnavailable: return 2;
    case DeviceState::kNotInUse: return 3;
    case DeviceState::kOnHold: return 4;
    case DeviceState::kRinging: return 5;
    case DeviceState::kInUse: return 6;
    case DeviceState::kBusy: return 7;
    case DeviceState::kRingInUse: return 8;
  }
  return 0;
}

// Whether a heartbeat detector may suspect a live peer it hears over a path with this loss:
// every frame of a suspect_after window lost (a peer sends at least one per 1.1 intervals).
bool FalseSuspicionPossible(const OracleTiming& t, double loss) {
  if (t.membership != MembershipSource::kHeartbeat || loss <= 0) return false;
  const double per_window = std::floor(static_cast<double>(t.suspect_after.count()) /
                                       (1.1 * static_cast<double>(t.heartbeat_interval.count())));
  return std::pow(loss, std::max(1.0, per_window)) > 1e-6;
}

std::string Seconds(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g s", static_cast<double>(d.count()) / 1e9);
  return buf;
}

}  // namespace

bool Acceptable::Contains(ValueHash v) const {
  if (v == kAbsent) return absent;
  return std::find(values.begin(), values.end(), v) != values.end();
}

void Acceptable::Add(ValueHash v) {
  if (v == kAbsent) {
    absent = true;
  } else if (std::find(values.begin(), values.end(), v) == values.end()) {
    values.push_back(v);
  }
}

std::optional<DeviceState> OracleAggregate(const std::vector<DeviceState>& states) {
  if (states.empty()) return std::nullopt;
  auto has = [&](DeviceState s) { return std::find(states.begin(), states.end(), s) != states.end(); };
  if (has(DeviceState::kRingInUse)) return DeviceState::kRingInUse;
  if (has(DeviceState::kRinging) && (has(DeviceState::kInUse) || has(DeviceState::kBusy) || has(DeviceState::kOnHold))) {
    return DeviceState::kRingInUse;
  }
  return *std::max_element(states.begin(), states.end(), [](DeviceState a, DeviceState b) { return Rank(a) < Rank(b); });
}

Oracle::Oracle(SlotTable* slots, const scenario::Scenario& s)
    : slots_(slots),
      node_count_(s.topology.node_count()),
      timing_(OracleTiming::Of(s)),
      loss_(s),
      history_(node_count_, timing_.membership),
      contacts_(s.engine.max_contacts_per_aor),
      incarnation_(node_count_, 0),
      tombstone_keep_(TombstoneKeep(s.engine)) {}

Oracle::~Oracle() = default;

std::vector<Oracle::Point>& Oracle::TimelineFor(SlotId slot) {
  if (slot >= timelines_.size()) timelines_.resize(slot + 1);
  return timelines_[slot];
}

const std::vector<Oracle::Point>& Oracle::Timeline(SlotId slot) const {
  static const std::vector<Point> kEmpty;
  return slot < timelines_.size() ? timelines_[slot] : kEmpty;
}

void Oracle::Started(Duration t, NodeId node, std::uint64_t incarnation) {
  assert(!finished_);
  history_.Started(t, node, incarnation);
  incarnation_[node - 1] = incarnation;
}

void Oracle::Crashed(Duration t, NodeId node) {
  assert(!finished_);
  history_.Crashed(t, node);
  contacts_.Crashed(node);
  incarnation_[node - 1] = 0;
  // The owner's memory is gone: it holds none of its entries any more.
  for (SlotId s : owned_[node]) {
    auto& tl = timelines_[s];
    if (!tl.empty() && tl.back().value != kAbsent) tl.push_back({t, kAbsent, kNever, 0, 0});
  }
}

void Oracle::Cut(Duration t, const std::vector<std::vector<NodeId>>& sides, bool one_way) {
  assert(!finished_);
  history_.Cut(t, sides, one_way);
}

void Oracle::View(Duration t, NodeId node, std::vector<NodeId> members) {
  assert(!finished_);
  history_.View(t, node, std::move(members));
}

void Oracle::Changed(Duration t, NodeId node, const PlannedChange& c) {
  assert(!finished_);
  const std::uint64_t inc = incarnation_[node - 1];
  assert(inc != 0 && "a change on a node that is down");
  switch (c.kind) {
    case EntryKind::kDevice: {
      const SlotId s = slots_->Intern(EntryKind::kDevice, c.key, node);
      auto& tl = TimelineFor(s);
      if (tl.empty()) owned_[node].push_back(s);
      if (c.remove) {
        // Withdrawn: the owner holds nothing for the device from now on, as after a crash.
        if (!tl.empty() && tl.back().value != kAbsent) tl.push_back({t, kAbsent, kNever, 0, 0});
      } else {
        tl.push_back({t, DeviceValue(c.state, inc), kNever, inc, static_cast<std::uint32_t>(c.state)});
      }
      break;
    }
    case EntryKind::kRegistration: {
      // One slot per (AOR, contact, node); which contacts a change ends is the book's answer.
      auto slot_of = [&](const std::string& contact) {
        const SlotId s = slots_->Intern(EntryKind::kRegistration, RegistrationSlotKey(c.key, contact), node);
        if (TimelineFor(s).empty()) owned_[node].push_back(s);
        return s;
      };
      if (c.remove) {
        for (const std::string& gone : contacts_.Remove(t, node, c.key, c.contact)) {
          TimelineFor(slot_of(gone)).push_back({t, kAbsent, kNever, 0, 0});
        }
      } else {
        const Duration expires = t + c.expires_in;
        if (auto replaced = contacts_.Set(t, node, c.key, c.contact, expires)) {
          TimelineFor(slot_of(*replaced)).push_back({t, kAbsent, kNever, 0, 0});
        }
        TimelineFor(slot_of(c.contact))
            .push_back({t, RegistrationValue(c.contact, c.path, c.user_agent, expires.count(), c.status, inc), expires,
                        inc, static_cast<std::uint32_t>(c.status)});
      }
      break;
    }
    case EntryKind::kMailbox: {
      const SlotId s = slots_->Intern(EntryKind::kMailbox, c.key, kNoNode);
      Write w{t, writes_made_++, node, inc, MailboxValue{c.remove ? MailboxCounts{} : c.counts, {}, node}};
      w.removed = c.remove;
      writes_[s].push_back(std::move(w));
      break;
    }
  }
}

void Oracle::MailboxStamped(Duration t, NodeId node, std::string_view mailbox,
                            const std::optional<MailboxValue>& value) {
  assert(!finished_);
  const SlotId s = slots_->Intern(EntryKind::kMailbox, mailbox, kNoNode);
  stamps_[{node, s}].push_back({t, value});
}

void Oracle::Finish(Duration end) {
  assert(!finished_);
  history_.Seal(end);
  // Registrations vanish at their expiry unless something else happened first.
  for (auto& tl : timelines_) {
    std::vector<Point> out;
    out.reserve(tl.size());
    for (std::size_t i = 0; i < tl.size(); ++i) {
      out.push_back(tl[i]);
      const Duration next = i + 1 < tl.size() ? tl[i + 1].t : kNever;
      if (tl[i].expires != kNever && tl[i].expires < next && tl[i].expires <= end && tl[i].value != kAbsent) {
        out.push_back({tl[i].expires, kAbsent, kNever, 0, 0});
      }
    }
    tl = std::move(out);
  }
  AssignHlcs();
  for (auto& [slot, ws] : writes_) {
    for (Write& w : ws) w.hash = w.removed ? kAbsent : MailboxValueHash(w.value);
    std::stable_sort(ws.begin(), ws.end(), [](const Write& a, const Write& b) {
      return std::tie(a.value.hlc, a.value.writer) > std::tie(b.value.hlc, b.value.writer);
    });
    spreads_[slot].resize(ws.size());
  }
  finished_ = true;
}

void Oracle::DropUnmadeRemovals() {
  for (auto it = writes_.begin(); it != writes_.end();) {
    const SlotId slot = it->first;
    std::vector<Write>& ws = it->second;
    std::map<NodeId, std::size_t> next;  // writer -> its next report of this mailbox
    std::vector<bool> made(ws.size(), true);
    for (std::size_t k = 0; k < ws.size(); ++k) {
      auto st = stamps_.find({ws[k].writer, slot});
      std::size_t& i = next[ws[k].writer];
      const bool reported = st != stamps_.end() && i < st->second.size();
      // A write always reports (its fresh tick changes the view); a removal only when made.
      if (!ws[k].removed || (reported && !st->second[i].value)) {
        if (reported) ++i;
      } else {
        made[k] = false;
      }
    }
    std::size_t kept = 0;
    for (std::size_t k = 0; k < ws.size(); ++k) {
      if (made[k]) ws[kept++] = std::move(ws[k]);
    }
    ws.erase(ws.begin() + static_cast<std::ptrdiff_t>(kept), ws.end());
    it = ws.empty() ? writes_.erase(it) : std::next(it);
  }
}

void Oracle::AssignHlcs() {
  DropUnmadeRemovals();
  // Each write takes the stamp its writer reported for it, in order per (writer, mailbox); a
  // removal's report carries no HLC.
  std::vector<std::pair<SlotId, Write*>> by_time;  // every write, in the order made
  std::map<Write*, Duration> stamped_at;           // when the writer reported its stamp
  for (auto& [slot, ws] : writes_) {
    std::map<NodeId, std::size_t> next;
    for (Write& w : ws) {
      by_time.emplace_back(slot, &w);
      auto it = stamps_.find({w.writer, slot});
      std::size_t& i = next[w.writer];
      if (it == stamps_.end() || i >= it->second.size()) continue;
      const Stamp& stamp = it->second[i++];
      if (w.removed) continue;
      if (!stamp.value) {
        problems_.emplace_back(w.writer, "reported a removal of mailbox " + (*slots_)[slot].key +
                                             " where it was given a write");
        continue;
      }
      if (stamp.value->counts != w.value.counts || stamp.value->writer != w.writer) {
        problems_.emplace_back(w.writer, "reported its write of mailbox " + (*slots_)[slot].key +
                                             " with other counts or another writer than it was given");
      }
      w.value.hlc = stamp.value->hlc;
      w.stamped = true;
      stamped_at[&w] = stamp.t;
    }
  }
  // A write without a stamp gets the model's HLC: the writer's clock ticked after its last write,
  // the clock read from its latest stamped write (oracle.h).
  std::sort(by_time.begin(), by_time.end(), [](const auto& a, const auto& b) { return a.second->seq < b.second->seq; });
  // A node's wall clock keeps its offset from the run's timeline across restarts, so the anchor
  // is the node's (any incarnation), else any node's: the backends' nodes share one clock.
  using Anchor = std::pair<Duration, std::int64_t>;  // (run time, wall ns) of a stamp
  std::map<NodeId, std::pair<std::uint64_t, HlcTimestamp>> clock;  // writer -> (incarnation, last)
  std::map<NodeId, Anchor> anchor;
  std::optional<Anchor> any_anchor;
  for (auto& [slot, w] : by_time) {
    const Duration t = w->t;
    auto& [inc, last] = clock[w->writer];
    if (inc != w->incarnation) {
      inc = w->incarnation;
      last = HlcTimestamp{};
    }
    if (!w->stamped) {
      auto a = anchor.find(w->writer);
      const std::optional<Anchor> from = a != anchor.end() ? std::optional<Anchor>(a->second) : any_anchor;
      const std::int64_t wall = from ? from->second + (t - from->first).count() : kSimEpochNs + t.count();
      w->value.hlc = wall > last.physical_ns ? HlcTimestamp{wall, 0} : HlcTimestamp{last.physical_ns, last.logical + 1};
    } else {
      if (!(w->value.hlc > last)) {
        problems_.emplace_back(w->writer, "stamped its write of mailbox " + (*slots_)[slot].key + " at " + Seconds(t) +
                                              " with an HLC not greater than its previous write's");
      }
      anchor[w->writer] = any_anchor.emplace(stamped_at.at(w), w->value.hlc.physical_ns);
    }
    last = std::max(last, w->value.hlc);
  }
}

bool Oracle::Known(SlotId slot) const {
  const SlotKey& k = (*slots_)[slot];
  if (k.kind == EntryKind::kMailbox) return writes_.count(slot) != 0;
  return !Timeline(slot).empty();
}

void Oracle::AddValuesIn(SlotId slot, Duration from, Duration to, ReadInstant at, Acceptable* out) const {
  assert(at.from <= at.to);
  const auto& tl = Timeline(slot);
  auto it = std::upper_bound(tl.begin(), tl.end(), from, [](Duration x, const Point& p) { return x < p.t; });
  auto add = [&](const Point& p) {
    if (p.expires <= at.to) out->Add(kAbsent);
    if (p.expires > at.from) out->Add(p.value);
  };
  if (it == tl.begin()) {
    out->Add(kAbsent);
  } else {
    add(*std::prev(it));
  }
  for (; it != tl.end() && it->t <= to; ++it) add(*it);
}

Oracle::Standing Oracle::StandingOf(NodeId n, NodeId o, Duration t) const {
  if (standings_at_ != t || standings_of_ != n) {
    standings_.assign(node_count_, std::nullopt);
    standings_at_ = t;
    standings_of_ = n;
  }
  std::optional<Standing>& st = standings_[o - 1];
  if (!st) st = ComputeStanding(n, o, t);
  return *st;
}

Oracle::Standing Oracle::ComputeStanding(NodeId n, NodeId o, Duration t) const {
  Standing st;
  const bool transport = timing_.membership == MembershipSource::kTransport;
  const Duration heard_after = transport ? timing_.settle : timing_.max_silence;
  const ClusterHistory::Contact c = history_.LinkContact(o, n, t);
  // The loss that matters: from a repair or a suspicion window before the contact's end (or
  // `t`) up to `t`.
  const Duration anchor = c.ever && !c.now ? c.until : t;
  const double loss = loss_.Between(o, n, anchor - timing_.settle - timing_.suspect_after, t);
  const Duration recent = loss > 0 ? timing_.settle : timing_.inflight;
  const bool unreliable = FalseSuspicionPossible(timing_, loss) && timing_.departure_grace < timing_.settle;
  // O's values as N holds them from this contact: current ones while it lasts, frozen after.
  auto show = [&](bool lenient) {
    if (!c.ever) return;
    st.may_show = true;
    st.to = c.now ? t : c.until - 1ns;
    const bool caught_up = c.until - c.since >= timing_.settle;
    if (caught_up && !lenient) {
      st.from = st.to - recent;
      st.may_be_absent = unreliable;
    } else {
      st.from = Duration{};  // it may not have caught up: anything O ever had, or nothing
      st.may_be_absent = true;
    }
  };
  if (transport && history_.has_views()) {
    const ClusterHistory::Contact v = history_.ViewContact(o, n, t);
    if (!v.ever) return st;
    if (v.now) {
      show(t - v.since < timing_.settle);
      st.counted = Counted::kYes;
      return st;
    }
    const Duration drop = v.until + timing_.departure_grace;
    if (t >= drop + 1ms) return st;
    show(false);
    st.counted = t + 1ms < drop ? Counted::kYes : Counted::kMaybe;
    st.may_be_absent = st.may_be_absent || st.counted != Counted::kYes;
    return st;
  }
  if (!c.ever) return st;
  if (c.now) {
    show(false);
    st.counted = t - c.since >= heard_after && !unreliable ? Counted::kYes : Counted::kMaybe;
    return st;
  }
  // N stopped hearing O at `lost`: its detector suspects O, then the grace runs out.
  const Duration lost = c.until;
  Duration depart_min, depart_max;
  if (!transport) {
    const Duration silence = loss > 0 ? timing_.settle : timing_.max_silence;
    depart_min = lost + timing_.suspect_after - silence;
    depart_max = lost + timing_.inflight + timing_.suspect_after + timing_.heartbeat_interval / 2 + 1ms;
  } else {
    depart_min = lost;
    depart_max = lost + 2 * timing_.suspect_after + timing_.settle;
  }
  const Duration drop_min = depart_min + timing_.departure_grace;
  const Duration drop_max = depart_max + timing_.departure_grace;
  if (t >= drop_max) return st;
  show(false);
  const bool counted = t < drop_min && !unreliable && lost - c.since >= heard_after;
  st.counted = counted ? Counted::kYes : Counted::kMaybe;
  st.may_be_absent = st.may_be_absent || t >= drop_min;
  return st;
}

Counted Oracle::Counts(NodeId n, NodeId o, Duration t) const {
  assert(finished_);
  if (n == o) return history_.Up(n, t) ? Counted::kYes : Counted::kNo;
  return StandingOf(n, o, t).counted;
}

Acceptable Oracle::Expected(NodeId n, SlotId slot, Duration t, std::optional<ReadInstant> read) const {
  assert(finished_);
  assert(!read || (t <= read->from && read->from <= read->to));
  const ReadInstant at = read.value_or(ReadInstant{t, t});
  const SlotKey& k = (*slots_)[slot];
  if (k.kind == EntryKind::kMailbox) return ExpectedMailbox(n, slot, t);
  Acceptable a;
  if (k.origin == n) {
    AddValuesIn(slot, t, t, at, &a);  // its own entries: exactly what it set
    return a;
  }
  const Standing st = StandingOf(n, k.origin, t);
  if (st.may_be_absent || !st.may_show) a.absent = true;
  if (st.may_show) AddValuesIn(slot, st.from, st.to, at, &a);
  return a;
}

Acceptable Oracle::Settled(NodeId n, SlotId slot, Duration from, Duration to) const {
  assert(finished_ && from < to);
  const SlotKey& k = (*slots_)[slot];
  if (k.kind == EntryKind::kMailbox) return SettledMailbox(n, slot, from, to);
  Acceptable a;
  const std::size_t e = history_.EpochAt(from);
  const NodeId o = k.origin;
  bool hears = o == n;
  if (!hears && history_.Up(o, e) && history_.Up(n, e)) {
    hears = history_.CutAllows(o, n, e) &&
            (timing_.membership != MembershipSource::kTransport || history_.CutAllows(n, o, e));
  }
  if (!hears) {
    a.absent = true;
    return a;
  }
  AddValuesIn(slot, from, to - 1ns, ReadInstant{from, from}, &a);
  return a;
}

void Oracle::AddSpans(SpanIndex* index) const {
  assert(finished_);
  // Settled reads an owned slot through AddValuesIn: the value in effect at the stretch's start
  // and every change inside it; none when neither is a value.
  for (SlotId s = 0; s < timelines_.size(); ++s) {
    const auto& tl = timelines_[s];
    for (std::size_t i = 0; i < tl.size(); ++i) {
      const Duration next = i + 1 < tl.size() ? tl[i + 1].t : kNever;
      index->Add(s, tl[i].t, tl[i].value == kAbsent ? tl[i].t : next);
    }
  }
  for (const auto& [slot, ws] : writes_) {
    Duration first = kNever;
    for (const Write& w : ws) first = std::min(first, w.t);
    index->Add(slot, first, kNever);
  }
}

const WriteSpread& Oracle::SpreadOf(SlotId slot, std::size_t i) const {
  auto& slot_spreads = spreads_[slot];
  std::unique_ptr<WriteSpread>& sp = slot_spreads[i];
  if (!sp) {
    const Write& w = writes_.at(slot)[i];
    sp = std::make_unique<WriteSpread>(history_, timing_, loss_, w.writer, w.t);
  }
  return *sp;
}

Acceptable Oracle::ExpectedMailbox(NodeId n, SlotId slot, Duration t) const {
  Acceptable a;
  auto it = writes_.find(slot);
  if (it == writes_.end()) {
    a.absent = true;
    return a;
  }
  // From the greatest write down: every one N may hold, down to the first it surely holds. Past
  // a removal whose tombstone may have lapsed, none is sure any more (oracle.h).
  const std::vector<Write>& ws = it->second;
  bool lapsed = false;
  for (std::size_t i = 0; i < ws.size(); ++i) {
    if (ws[i].t > t) continue;
    const WriteSpread& sp = SpreadOf(slot, i);
    if (!lapsed && ws[i].removed && TombstoneMayLapse(slot, i, t)) lapsed = true;
    if (!lapsed && sp.Certain(n, t)) {
      a.Add(ws[i].hash);
      return a;
    }
    if (sp.Possible(n, t)) a.Add(ws[i].hash);
  }
  a.absent = true;
  return a;
}

Duration Oracle::TombstoneLapseAt(Duration removed_at) const {
  // The engine holds a tombstone while any node is away and for the keep after the cluster is
  // whole again (engine/README.md, "Removing a mailbox"): the first instant past the horizon
  // with no cut and every node up over the keep before it. Each round moves past one epoch.
  Duration at = removed_at + tombstone_keep_;
  for (std::size_t round = 0; round <= history_.epoch_count(); ++round) {
    std::optional<Duration> last_fault_end;
    for (std::size_t e = history_.EpochAt(at - tombstone_keep_); e < history_.epoch_count() && history_.EpochStart(e) <= at; ++e) {
      bool whole = !history_.CutAt(history_.EpochStart(e));
      for (NodeId n = 1; n <= node_count_ && whole; ++n) whole = history_.Up(n, e);
      if (!whole) last_fault_end = history_.EpochEnd(e);
    }
    if (!last_fault_end) return at;
    if (*last_fault_end >= history_.end()) break;
    at = *last_fault_end + tombstone_keep_;
  }
  return Duration::max();
}

bool Oracle::TombstoneMayLapse(SlotId slot, std::size_t i, Duration t) const {
  const std::vector<Write>& ws = writes_.at(slot);
  const Duration horizon = TombstoneLapseAt(ws[i].t);
  if (t < horizon) return false;
  if (!ws[i].may_lapse) {
    const WriteSpread& removal = SpreadOf(slot, i);
    bool lapse = false;
    for (NodeId m = 1; m <= node_count_ && !lapse; ++m) {
      if (removal.Certain(m, horizon)) continue;
      for (std::size_t j = i + 1; j < ws.size() && !lapse; ++j) {
        lapse = !ws[j].removed && ws[j].t <= horizon && SpreadOf(slot, j).Possible(m, horizon);
      }
    }
    ws[i].may_lapse = lapse;
  }
  return *ws[i].may_lapse;
}

Acceptable Oracle::SettledMailbox(NodeId n, SlotId slot, Duration from, Duration to) const {
  Acceptable a;
  auto it = writes_.find(slot);
  if (it == writes_.end()) {
    a.absent = true;
    return a;
  }
  const std::vector<Write>& ws = it->second;
  // The configuration the stretch settles in is its last epoch's: no fault happens inside it,
  // but with transport views the views do change (a heal's merged views come a token and a
  // consensus after the heal), and judged by the split views in force at `from` the write made
  // across the cut would not be the floor, so the value from before the cut would count as agreed.
  const Duration last_epoch = std::max(from, history_.EpochStart(history_.EpochAt(to - 1ns)));
  std::optional<std::size_t> floor;
  for (std::size_t i = 0; i < ws.size() && !floor; ++i) {
    // Past a removal that may lapse in the stretch, nothing is a floor (oracle.h).
    if (ws[i].removed && ws[i].t < to && TombstoneMayLapse(slot, i, to)) break;
    if (ws[i].t <= from && SpreadOf(slot, i).Settled(n, last_epoch)) floor = i;
  }
  const std::size_t last = floor ? *floor : ws.size() - 1;
  for (std::size_t i = 0; i <= last; ++i) {
    if (ws[i].t >= to) continue;
    if (floor && i == *floor) {
      a.Add(ws[i].hash);
    } else if (SpreadOf(slot, i).Possible(n, to - 1ns)) {
      a.Add(ws[i].hash);
    }
  }
  if (!floor) a.absent = true;
  return a;
}

std::pair<Duration, ValueHash> Oracle::LastOwnValue(SlotId slot, Duration t) const {
  const SlotKey& k = (*slots_)[slot];
  if (k.kind == EntryKind::kMailbox) {
    auto it = writes_.find(slot);
    if (it == writes_.end()) return {Duration{}, kAbsent};
    for (const Write& w : it->second) {
      if (w.t <= t) return {w.t, w.hash};
    }
    return {Duration{}, kAbsent};
  }
  const auto& tl = Timeline(slot);
  auto it = std::upper_bound(tl.begin(), tl.end(), t, [](Duration x, const Point& p) { return x < p.t; });
  if (it == tl.begin()) return {Duration{}, kAbsent};
  return {std::prev(it)->t, std::prev(it)->value};
}

std::string Oracle::Describe(SlotId slot, ValueHash v) const {
  if (v == kAbsent) return "none";
  const SlotKey& k = (*slots_)[slot];
  if (k.kind == EntryKind::kMailbox) {
    auto it = writes_.find(slot);
    if (it == writes_.end()) return "?";
    for (const Write& w : it->second) {
      if (w.hash != v) continue;
      const MailboxCounts& c = w.value.counts;
      return std::to_string(c.new_messages) + "/" + std::to_string(c.old_messages) + "/" +
             std::to_string(c.urgent_messages) + " by node " + std::to_string(w.writer) + " at " + Seconds(w.t) +
             " (hlc " + std::to_string(w.value.hlc.physical_ns) + "." + std::to_string(w.value.hlc.logical) + ")";
    }
    return "?";
  }
  for (const Point& p : Timeline(slot)) {
    if (p.value != v) continue;
    if (k.kind == EntryKind::kDevice) {
      return std::string(DeviceStateName(static_cast<DeviceState>(p.aux))) + " (incarnation " +
             std::to_string(p.incarnation) + ")";
    }
    return std::string(p.aux == 0 ? "reachable" : "unreachable") + ", expiring at " + Seconds(p.expires) +
           ", set at " + Seconds(p.t) + " (incarnation " + std::to_string(p.incarnation) + ")";
  }
  return "?";
}

}  // namespace pbxstate::harness
