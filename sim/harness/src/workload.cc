#include "pbxstate/harness/workload.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <utility>

namespace pbxstate::harness {
namespace {

using scenario::Scenario;

// Splits one seed into independent streams per purpose, so adding a burst does not shift the
// steady load's random draws.
std::mt19937_64 Stream(std::uint64_t seed, std::uint64_t purpose) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(purpose), static_cast<std::uint32_t>(purpose >> 32)};
  return std::mt19937_64(seq);
}

// Uniform in [0, 1) from 53 random bits: the same on every platform, unlike std distributions.
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

std::uint64_t Below(std::mt19937_64& rng, std::uint64_t n) {
  assert(n > 0);
  return rng() % n;
}

// The k-th instant of a stream of `rate` changes per second starting at `start`: evenly
// spaced, one every 1/rate (scenarios/README.md), computed from k so rounding never drifts.
Duration Tick(Duration start, double rate, std::uint64_t k) {
  return start + Duration(static_cast<std::int64_t>(std::llround(static_cast<double>(k) * 1e9 / rate)));
}

std::vector<NodeId> Homes(const Scenario& s, std::uint32_t count, std::uint64_t purpose) {
  const auto& nodes = s.workload.nodes;
  std::vector<NodeId> out(count);
  if (nodes.empty()) return out;
  auto rng = Stream(s.seed, purpose);
  for (std::uint32_t i = 0; i < count; ++i) {
    out[i] = s.workload.spread == scenario::Spread::kEven ? nodes[i % nodes.size()] : nodes[Below(rng, nodes.size())];
  }
  return out;
}

std::string ContactFor(const std::string& aor, NodeId node) {
  // Phones registered on node N sit on N's subnet of the benchmarking range.
  return "sip:" + aor + "@198.18." + std::to_string(node % 256) + ".10:5060";
}

struct Generator {
  const Scenario& s;
  const KeyHomes& homes;
  std::mt19937_64 rng;

  PlannedChange Device(Duration at, std::uint32_t i) {
    PlannedChange c;
    c.at = at;
    c.kind = EntryKind::kDevice;
    c.key = scenario::GeneratedDeviceName(i);
    c.node = homes.device(i);
    const auto& states = s.workload.device_states;
    c.state = states[Below(rng, states.size())];
    return c;
  }
  PlannedChange Mailbox(Duration at, std::uint32_t i) {
    PlannedChange c;
    c.at = at;
    c.kind = EntryKind::kMailbox;
    c.key = scenario::GeneratedMailboxName(i);
    c.node = homes.mailbox(i);
    c.counts = {static_cast<std::uint32_t>(Below(rng, 10)), static_cast<std::uint32_t>(Below(rng, 10)),
                static_cast<std::uint32_t>(Below(rng, 3))};
    return c;
  }
  PlannedChange Registration(Duration at, std::uint32_t i, bool allow_remove) {
    PlannedChange c;
    c.at = at;
    c.kind = EntryKind::kRegistration;
    c.key = scenario::GeneratedAorName(i);
    c.node = homes.aor(i);
    // One change in ten is an unregister: phones come and go as well as refresh.
    c.remove = allow_remove && Below(rng, 10) == 0;
    if (!c.remove) {
      c.contact = ContactFor(c.key, c.node);
      c.expires_in = s.workload.registration_expiry;
    }
    return c;
  }
};

// Whether `node` is up at `t` by the scenario's crashes and restarts (faults act before changes
// at the same instant, so a node crashed at t is down at t).
bool UpAt(const Scenario& s, NodeId node, Duration t) {
  bool up = true;
  for (const scenario::Fault& f : s.faults) {
    if (f.at > t) break;
    if (const auto* c = std::get_if<scenario::Crash>(&f.what); c != nullptr && c->node == node) up = false;
    if (const auto* r = std::get_if<scenario::Restart>(&f.what); r != nullptr && r->node == node) up = true;
  }
  return up;
}

// The first server at or after `preferred` in workload.nodes order that is up at `t`; kNoNode
// when none is.
NodeId FirstUp(const Scenario& s, NodeId preferred, Duration t) {
  const auto& nodes = s.workload.nodes;
  const auto start = std::find(nodes.begin(), nodes.end(), preferred) - nodes.begin();
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    const NodeId n = nodes[(static_cast<std::size_t>(start) + k) % nodes.size()];
    if (UpAt(s, n, t)) return n;
  }
  return kNoNode;
}

PlannedChange Register(Duration at, NodeId node, std::uint32_t aor, Duration expires_in) {
  PlannedChange c;
  c.at = at;
  c.node = node;
  c.kind = EntryKind::kRegistration;
  c.key = scenario::GeneratedAorName(aor);
  c.contact = ContactFor(c.key, node);
  c.expires_in = expires_in;
  return c;
}

// Registration churn (scenario::Churn): phones register at their homes, then refresh, move and
// lapse. Where each phone is follows from the plan itself (and the scenario's crashes), so the
// expansion stays a pure function of the scenario.
void ExpandChurn(const Scenario& s, const KeyHomes& homes, std::vector<std::pair<int, PlannedChange>>* out) {
  const scenario::Workload& w = s.workload;
  const scenario::Churn& ch = *w.churn;
  if (w.aors == 0 || w.nodes.empty()) return;
  auto rng = Stream(s.seed, 300);
  std::vector<NodeId> where(w.aors, kNoNode);
  const double initial_rate = w.aors / std::chrono::duration<double>(ch.register_over).count();
  const double churn_rate = ch.refresh_per_s + ch.move_per_s + ch.lapse_per_s;
  std::uint64_t next_initial = 0, next_churn = 0;
  for (;;) {
    const bool initial_left = next_initial < w.aors;
    const Duration ti = initial_left ? Tick(Duration{}, initial_rate, next_initial) : Duration::max();
    const Duration tc = churn_rate > 0 ? Tick(w.start, churn_rate, next_churn) : Duration::max();
    const bool churn_left = churn_rate > 0 && tc < w.stop;
    if (!initial_left && !churn_left) break;
    if (out->size() > kMaxPlannedChanges) break;
    if (initial_left && (!churn_left || ti <= tc)) {
      const auto i = static_cast<std::uint32_t>(next_initial++);
      const NodeId at = FirstUp(s, homes.aor(i), ti);
      if (at == kNoNode) continue;
      where[i] = at;
      out->emplace_back(2, Register(ti, at, i, w.registration_expiry));
      continue;
    }
    ++next_churn;
    const auto i = static_cast<std::uint32_t>(Below(rng, w.aors));
    const double pick = Uniform(rng) * churn_rate;
    const NodeId here = where[i];
    if (here == kNoNode || !UpAt(s, here, tc)) {
      // Lapsed, or its server died: the phone registers again, at home if home is up.
      const NodeId at = FirstUp(s, homes.aor(i), tc);
      where[i] = at;
      if (at != kNoNode) out->emplace_back(2, Register(tc, at, i, w.registration_expiry));
    } else if (pick < ch.refresh_per_s) {
      out->emplace_back(2, Register(tc, here, i, w.registration_expiry));
    } else if (pick < ch.refresh_per_s + ch.move_per_s) {
      std::vector<NodeId> others;
      for (NodeId n : w.nodes) {
        if (n != here && UpAt(s, n, tc)) others.push_back(n);
      }
      if (others.empty()) continue;
      const NodeId to = others[Below(rng, others.size())];
      out->emplace_back(2, Register(tc, to, i, w.registration_expiry));
      PlannedChange leave;
      leave.at = tc;
      leave.node = here;
      leave.kind = EntryKind::kRegistration;
      leave.key = scenario::GeneratedAorName(i);
      leave.remove = true;
      out->emplace_back(2, std::move(leave));
      where[i] = to;
    } else {
      out->emplace_back(2, Register(tc, here, i, ch.lapse_expiry));
      where[i] = kNoNode;
    }
  }
}

// Names coming and going (scenario::NameChurn): one step at a time, the live device names and
// the next fresh indices follow from the plan and the scenario's crashes, so the expansion stays a
// pure function of the scenario. Each stream of its own: adding name churn shifts no other draw.
class NameChurnPlan {
 public:
  NameChurnPlan(const Scenario& s, std::vector<std::pair<int, PlannedChange>>* out)
      : s_(s),
        c_(*s.workload.name_churn),
        rng_(Stream(s.seed, 500)),
        homes_rng_(Stream(s.seed, 501)),
        mailbox_rng_(Stream(s.seed, 502)),
        out_(out) {}

  void Expand() {
    const scenario::Workload& w = s_.workload;
    if (c_.rate_per_s <= 0 || w.nodes.empty()) return;
    for (std::uint64_t k = 0; out_->size() <= kMaxPlannedChanges; ++k) {
      const Duration t = Tick(w.start, c_.rate_per_s, k);
      if (t >= w.stop) break;
      const double step = Uniform(rng_);
      if (step < c_.registrations) {
        FreshAor(t);
      } else if (step < c_.registrations + c_.mailbox_steps) {
        MailboxStep(t);
      } else {
        DeviceStep(t);
      }
    }
  }

 private:
  struct LiveName {
    std::uint64_t index;
    NodeId home;
  };

  // The spread home of the next fresh name, then the first server up from it.
  NodeId HomeOfNext(std::uint64_t index, Duration t) {
    const auto& nodes = s_.workload.nodes;
    const NodeId spread = s_.workload.spread == scenario::Spread::kEven ? nodes[index % nodes.size()]
                                                                          : nodes[Below(homes_rng_, nodes.size())];
    return FirstUp(s_, spread, t);
  }

  void FreshAor(Duration t) {
    const std::uint64_t i = next_aor_++;
    const NodeId home = HomeOfNext(i, t);
    if (home == kNoNode) return;
    PlannedChange c;
    c.at = t;
    c.node = home;
    c.kind = EntryKind::kRegistration;
    c.key = scenario::ChurnedAorName(i);
    c.contact = ContactFor(c.key, home);
    c.expires_in = c_.registration_expiry;
    out_->emplace_back(2, std::move(c));
  }

  // The live names of one kind (at most a bound) and the next fresh index.
  struct LiveSet {
    std::vector<LiveName> live;
    std::uint64_t next = 0;
  };

  // One step over `set`, drawn from `rng`: with the share `remove` a live name is removed, else
  // while fewer than `bound` are live a fresh one is named, else a live one changes. Returns the
  // name and whether the step removes it; nullopt when no change is made (its home is down).
  // `keep_when_down`: a removal whose home is down leaves the name live (a mailbox outlives its
  // writer's crash); otherwise the name ends all the same (the crash ended a device's contribution).
  std::optional<std::pair<LiveName, bool>> Step(LiveSet& set, std::uint32_t bound, std::mt19937_64& rng, Duration t,
                                                bool keep_when_down) {
    if (!set.live.empty() && Uniform(rng) < c_.remove) {
      const std::size_t j = Below(rng, set.live.size());
      const LiveName gone = set.live[j];
      const bool up = UpAt(s_, gone.home, t);
      if (!up && keep_when_down) return std::nullopt;
      set.live[j] = set.live.back();
      set.live.pop_back();
      if (!up) return std::nullopt;
      return std::pair{gone, true};
    }
    if (set.live.size() < bound) {
      const std::uint64_t i = set.next++;
      const NodeId home = HomeOfNext(i, t);
      if (home == kNoNode) return std::nullopt;
      set.live.push_back({i, home});
      return std::pair{set.live.back(), false};
    }
    if (set.live.empty()) return std::nullopt;
    const LiveName name = set.live[Below(rng, set.live.size())];
    if (!UpAt(s_, name.home, t)) return std::nullopt;
    return std::pair{name, false};
  }

  void DeviceStep(Duration t) {
    if (auto step = Step(devices_, c_.devices, rng_, t, /*keep_when_down=*/false)) {
      out_->emplace_back(2, Device(t, step->first, step->second));
    }
  }

  // As a device step, over the churned mailboxes, with draws of their own stream. Every step of
  // a name is made at its home.
  void MailboxStep(Duration t) {
    if (auto step = Step(mailboxes_, c_.mailboxes, mailbox_rng_, t, /*keep_when_down=*/true)) {
      out_->emplace_back(2, Mailbox(t, step->first, step->second));
    }
  }

  // A step's change of `kind` on the churned name `key` at its home; the value is the caller's.
  static PlannedChange Churned(Duration t, const LiveName& name, EntryKind kind, std::string key, bool remove) {
    PlannedChange c;
    c.at = t;
    c.node = name.home;
    c.kind = kind;
    c.key = std::move(key);
    c.remove = remove;
    return c;
  }

  PlannedChange Mailbox(Duration t, const LiveName& name, bool remove) {
    PlannedChange c = Churned(t, name, EntryKind::kMailbox, scenario::ChurnedMailboxName(name.index), remove);
    if (!remove) {
      c.counts = {static_cast<std::uint32_t>(Below(mailbox_rng_, 10)), static_cast<std::uint32_t>(Below(mailbox_rng_, 10)),
                  static_cast<std::uint32_t>(Below(mailbox_rng_, 3))};
    }
    return c;
  }

  PlannedChange Device(Duration t, const LiveName& name, bool remove) {
    PlannedChange c = Churned(t, name, EntryKind::kDevice, scenario::ChurnedDeviceName(name.index), remove);
    const auto& states = s_.workload.device_states;
    if (!remove) c.state = states[Below(rng_, states.size())];
    return c;
  }

  const Scenario& s_;
  const scenario::NameChurn& c_;
  std::mt19937_64 rng_, homes_rng_, mailbox_rng_;
  std::vector<std::pair<int, PlannedChange>>* out_;
  LiveSet devices_;    // at most c_.devices live
  LiveSet mailboxes_;  // at most c_.mailboxes live
  std::uint64_t next_aor_ = 0;
};

}  // namespace

KeyHomes::KeyHomes(const Scenario& s)
    : devices_(Homes(s, s.workload.devices, 1)),
      mailboxes_(Homes(s, s.workload.mailboxes, 2)),
      aors_(Homes(s, s.workload.aors, 3)) {}

namespace {

// Rank keeps equal instants in a fixed order: explicit (0), bursts (1), steady and churn (2).
using RankedChanges = std::vector<std::pair<int, PlannedChange>>;

// The workload's explicit changes, as written.
void ExpandExplicit(const scenario::Workload& w, RankedChanges* out) {
  for (const scenario::TimedChange& tc : w.changes) {
    PlannedChange c;
    c.at = tc.at;
    c.node = tc.node;
    if (const auto* d = std::get_if<scenario::DeviceChange>(&tc.what)) {
      c.kind = EntryKind::kDevice;
      c.key = d->device;
      c.state = d->state;
    } else if (const auto* m = std::get_if<scenario::MailboxChange>(&tc.what)) {
      c.kind = EntryKind::kMailbox;
      c.key = m->mailbox;
      c.counts = m->counts;
    } else if (const auto* r = std::get_if<scenario::RegistrationSet>(&tc.what)) {
      c.kind = EntryKind::kRegistration;
      c.key = r->aor;
      c.contact = r->contact;
      c.expires_in = r->expires;
      c.status = r->status;
    } else if (const auto* rm = std::get_if<scenario::RegistrationRemove>(&tc.what)) {
      c.kind = EntryKind::kRegistration;
      c.key = rm->aor;
      c.contact = rm->contact;
      c.remove = true;
    }
    out->emplace_back(0, std::move(c));
  }
}

// Call storms and registration storms, each burst from its own stream.
void ExpandBursts(const Scenario& s, const KeyHomes& homes, RankedChanges* out) {
  const scenario::Workload& w = s.workload;
  std::uint64_t burst_no = 0;
  for (const scenario::Burst& b : w.bursts) {
    Generator g{s, homes, Stream(s.seed, 100 + burst_no++)};
    if (const auto* storm = std::get_if<scenario::CallStorm>(&b.what)) {
      // Devices homed on the storm's nodes (all devices when it names none).
      std::vector<std::uint32_t> devices;
      for (std::uint32_t i = 0; i < w.devices; ++i) {
        if (storm->nodes.empty() ||
            std::find(storm->nodes.begin(), storm->nodes.end(), homes.device(i)) != storm->nodes.end()) {
          devices.push_back(i);
        }
      }
      if (devices.empty() || storm->rate_per_s <= 0) continue;
      for (std::uint64_t k = 0;; ++k) {
        const Duration t = Tick(b.at, storm->rate_per_s, k);
        if (t >= b.at + storm->length || out->size() > kMaxPlannedChanges) break;
        out->emplace_back(1, g.Device(t, devices[Below(g.rng, devices.size())]));
      }
    } else if (const auto* reg = std::get_if<scenario::RegistrationStorm>(&b.what)) {
      std::vector<std::uint32_t> aors;
      for (std::uint32_t i = 0; i < w.aors; ++i) {
        if (homes.aor(i) == reg->node) aors.push_back(i);
      }
      if (reg->count != 0 && aors.size() > reg->count) aors.resize(reg->count);
      if (reg->rate_per_s <= 0) continue;
      std::uint64_t k = 0;
      for (std::uint32_t i : aors) out->emplace_back(1, g.Registration(Tick(b.at, reg->rate_per_s, k++), i, false));
    }
  }
}

// The steady load: rate_per_s changes per second between start and stop, drawn by the mix.
void ExpandSteady(const Scenario& s, const KeyHomes& homes, RankedChanges* out) {
  const scenario::Workload& w = s.workload;
  if (w.rate_per_s <= 0) return;
  Generator g{s, homes, Stream(s.seed, 10)};
  const double total = w.mix.device + w.mix.mwi + w.mix.registration;
  for (std::uint64_t k = 0;; ++k) {
    const Duration t = Tick(w.start, w.rate_per_s, k);
    if (t >= w.stop) break;
    const double pick = Uniform(g.rng) * total;
    if (pick < w.mix.device && w.devices > 0) {
      out->emplace_back(2, g.Device(t, static_cast<std::uint32_t>(Below(g.rng, w.devices))));
    } else if (pick < w.mix.device + w.mix.mwi && w.mailboxes > 0) {
      out->emplace_back(2, g.Mailbox(t, static_cast<std::uint32_t>(Below(g.rng, w.mailboxes))));
    } else if (w.aors > 0) {
      out->emplace_back(2, g.Registration(t, static_cast<std::uint32_t>(Below(g.rng, w.aors)), true));
    }
    if (out->size() > kMaxPlannedChanges) break;
  }
}

// The fill (workload.mailbox_fill): every generated mailbox written once at its home, evenly
// over [0, mailbox_fill), in index order, counts drawn from a stream of its own.
void ExpandMailboxFill(const Scenario& s, const KeyHomes& homes, RankedChanges* out) {
  const scenario::Workload& w = s.workload;
  if (!w.mailbox_fill || w.mailboxes == 0) return;
  Generator g{s, homes, Stream(s.seed, 400)};
  const double rate = w.mailboxes / std::chrono::duration<double>(*w.mailbox_fill).count();
  for (std::uint32_t i = 0; i < w.mailboxes && out->size() <= kMaxPlannedChanges; ++i) {
    out->emplace_back(2, g.Mailbox(Tick(Duration{}, rate, i), i));
  }
}

// A generated device change is a change: when the draw repeats the state its node last set,
// take the next state of the list instead (an engine sends nothing for a repeat, and a
// scenario counting its changes would come up short). Explicit changes stay as written.
// `out` is in time order.
void AvoidRepeatedStates(const scenario::Workload& w, RankedChanges* out) {
  const auto& states = w.device_states;
  std::map<std::pair<std::string, NodeId>, DeviceState> last;
  for (auto& [rank, c] : *out) {
    if (c.kind != EntryKind::kDevice) continue;
    if (c.remove) {
      last.erase({c.key, c.node});  // the next state set is a contribution of its own
      continue;
    }
    auto [it, fresh] = last.try_emplace({c.key, c.node}, c.state);
    if (!fresh && rank != 0 && it->second == c.state && states.size() > 1) {
      const auto pos = std::find(states.begin(), states.end(), c.state) - states.begin();
      c.state = states[static_cast<std::size_t>(pos + 1) % states.size()];
    }
    it->second = c.state;
  }
}

}  // namespace

std::vector<PlannedChange> ExpandWorkload(const Scenario& s) {
  const KeyHomes homes(s);
  RankedChanges out;
  ExpandExplicit(s.workload, &out);
  ExpandBursts(s, homes, &out);
  ExpandSteady(s, homes, &out);
  ExpandMailboxFill(s, homes, &out);
  if (s.workload.churn) ExpandChurn(s, homes, &out);
  if (s.workload.name_churn) NameChurnPlan(s, &out).Expand();
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.at != b.second.at ? a.second.at < b.second.at : a.first < b.first;
  });
  AvoidRepeatedStates(s.workload, &out);
  std::vector<PlannedChange> result;
  result.reserve(out.size());
  for (auto& [rank, c] : out) result.push_back(std::move(c));
  if (result.size() > kMaxPlannedChanges) result.resize(kMaxPlannedChanges);
  return result;
}

}  // namespace pbxstate::harness
