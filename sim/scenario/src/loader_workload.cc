// workload: the keys, the steady rate and its mix, the bursts (call and registration storms)
// and the phones' churn; the timed changes are in loader_changes.cc.
#include <cmath>

#include "loader_impl.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {

void Loader::ReadWorkload(const Field& f) {
  Workload& w = s_.workload;
  w.stop = s_.duration;
  MapReader m(f, d_, "a mapping of workload settings");
  if (!m.ok()) return;
  m.AllowOnly({"devices", "mailboxes", "aors", "spread", "nodes", "rate", "start", "stop", "mix",
               "device_states", "registration_expiry", "mailbox_fill", "bursts", "changes", "churn",
               "name_churn"});
  for (const auto& entry : m.entries()) workload_fields_.emplace(entry.key, entry.value);
  m.ReadIfPresent("devices", w.devices, UintIn(d_, 0, kMaxKeys));
  m.ReadIfPresent("mailboxes", w.mailboxes, UintIn(d_, 0, kMaxKeys));
  m.ReadIfPresent("aors", w.aors, UintIn(d_, 0, kMaxKeys));
  m.ReadIfPresent("spread", w.spread,
                  [&](const Field& v) { return ReadEnum(v, d_, {"even", "random"}); });
  m.ReadIfPresent("nodes", w.nodes,
                  [&](const Field& v) { return ReadNodeSet(v, "a list of nodes", nullptr); });
  m.ReadIfPresent("rate", w.rate_per_s, RateIn(d_, 0, kMaxRate));
  m.ReadIfPresent("start", w.start, [&](const Field& v) { return ReadTime(v); });
  m.ReadIfPresent("stop", w.stop, [&](const Field& v) { return ReadTime(v); });
  if (auto v = m.Get("mix")) ReadMix(*v);
  if (auto v = m.Get("device_states")) ReadDeviceStates(*v);
  if (auto v = m.Get("registration_expiry")) {
    if (auto x = ReadDuration(*v, d_, 1s, kMaxExpiry)) {
      w.registration_expiry = *x;
      expiry_uses_.emplace_back(*v, *x);
    }
  }
  m.ReadIfPresent("mailbox_fill", w.mailbox_fill, DurationIn(d_, 1ms, kMaxDuration));
  if (auto v = m.Get("mailbox_fill")) w.mailbox_fill_pos = PosOf(*v);
  if (auto v = m.Get("bursts")) {
    if (auto items = ReadList(*v, d_, "a list of bursts", 0, 10'000)) {
      for (const Field& item : *items) {
        if (auto b = ReadBurst(item)) w.bursts.push_back(std::move(*b));
      }
    }
  }
  if (auto v = m.Get("changes")) {
    if (auto items = ReadList(*v, d_, "a list of timed changes", 0, 100'000)) {
      for (const Field& item : *items) {
        if (auto c = ReadChange(item)) w.changes.push_back(std::move(*c));
      }
    }
  }
  if (auto v = m.Get("churn")) ReadChurn(*v);
  if (auto v = m.Get("name_churn")) ReadNameChurn(*v);
}

void Loader::ReadMix(const Field& f) {
  MapReader mm(f, d_, "a mapping with device, mwi, registration shares");
  if (!mm.ok() || !mm.AllowOnly({"device", "mwi", "registration"})) return;
  Mix mix{0, 0, 0};
  bool ok = mm.ReadIfPresent("device", mix.device, ShareOf(d_, "a share"));
  ok = mm.ReadIfPresent("mwi", mix.mwi, ShareOf(d_, "a share")) && ok;
  ok = mm.ReadIfPresent("registration", mix.registration, ShareOf(d_, "a share")) && ok;
  if (!ok) return;
  const double sum = mix.device + mix.mwi + mix.registration;
  if (std::abs(sum - 1.0) > 1e-9) {
    d_.Error(f.mark, f.path,
             "expected shares that add up to 100%, these add up to " +
                 FormatNumber(sum * 100.0) + "%");
    return;
  }
  s_.workload.mix = mix;
}

void Loader::ReadDeviceStates(const Field& f) {
  auto items = ReadList(f, d_, "a list of device states", 1, kDeviceStateCount);
  if (!items) return;
  std::vector<DeviceState> states;
  for (const Field& item : *items) {
    if (auto st = ParseDeviceStateName(item.node)) {
      states.push_back(*st);
    } else {
      d_.Error(item.mark, item.path, std::string(kExpectedDeviceState) + Describe(item.node));
    }
  }
  if (states.size() == items->size()) s_.workload.device_states = states;
}

void Loader::ReadChurn(const Field& f) {
  churn_field_ = f;
  MapReader m(f, d_, "a mapping of churn rates (refresh, move, lapse)");
  if (!m.ok()) return;
  if (!m.AllowOnly({"register_over", "refresh", "move", "lapse", "lapse_expiry"})) return;
  Churn c;
  c.pos = PosOf(f);
  bool ok = m.ReadIfPresent("register_over", c.register_over, DurationIn(d_, 1ms, kMaxDuration));
  ok = m.ReadIfPresent("refresh", c.refresh_per_s, RateIn(d_, 0, kMaxRate)) && ok;
  ok = m.ReadIfPresent("move", c.move_per_s, RateIn(d_, 0, kMaxRate)) && ok;
  ok = m.ReadIfPresent("lapse", c.lapse_per_s, RateIn(d_, 0, kMaxRate)) && ok;
  if (auto v = m.Get("lapse_expiry")) {
    if (auto x = ReadDuration(*v, d_, 1s, kMaxExpiry)) {
      c.lapse_expiry = *x;
      expiry_uses_.emplace_back(*v, *x);
    } else {
      ok = false;
    }
  }
  if (ok) s_.workload.churn = c;
}

std::optional<Burst> Loader::ReadBurst(const Field& f) {
  MapReader m(f, d_, "a burst: a mapping with 'at' and call_storm or registration_storm");
  if (!m.ok()) return std::nullopt;
  bool ok = m.AllowOnly({"at", "call_storm", "registration_storm"});
  // One entry per burst in each, whatever goes wrong below: the storm readers fill the last.
  burst_fields_.push_back(f);
  burst_node_fields_.push_back(Field{});
  burst_count_fields_.push_back(Field{});
  Burst b;
  b.pos = PosOf(f);
  if (auto v = m.Require("at", "the time the burst starts, e.g. 5s")) {
    if (auto x = ReadTime(*v)) b.at = *x; else ok = false;
    burst_at_fields_.push_back(*v);
  } else {
    ok = false;
  }
  auto call = m.Get("call_storm");
  auto reg = m.Get("registration_storm");
  if (call && reg) {
    d_.Error(f.mark, f.path, "expected one of call_storm or registration_storm, not both");
    return std::nullopt;
  }
  if (!call && !reg) {
    if (ok) {
      d_.Error(f.mark, f.path,
               "missing required key 'call_storm' or 'registration_storm'; expected the burst's "
               "kind");
    }
    return std::nullopt;
  }
  if (call) {
    auto storm = ReadCallStorm(*call, b.at, ok);
    if (!storm) return std::nullopt;
    b.what = std::move(*storm);
  } else {
    auto storm = ReadRegistrationStorm(*reg, ok);
    if (!storm) return std::nullopt;
    b.what = *storm;
  }
  if (!ok) return std::nullopt;
  return b;
}

std::optional<CallStorm> Loader::ReadCallStorm(const Field& f, Duration at, bool& ok) {
  MapReader cm(f, d_, "a mapping with for, rate and optionally nodes");
  if (!cm.ok()) return std::nullopt;
  ok = cm.AllowOnly({"for", "rate", "nodes"}) && ok;
  CallStorm storm;
  if (auto x = cm.RequireDuration("for", "how long the storm lasts, e.g. 2s", 1ms, kMaxDuration)) {
    storm.length = *x;
    if (duration_ok_ && ok && at + storm.length > s_.duration) {
      const Field v = *cm.Get("for");
      d_.Error(v.mark, v.path,
               "expected the storm to end within the scenario's duration (" +
                   FormatDuration(s_.duration) + "), it ends at " +
                   FormatDuration(at + storm.length));
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto x = cm.RequireRate("rate", "changes per second during the storm, e.g. 2000/s", 0.001,
                              kMaxRate)) {
    storm.rate_per_s = *x;
  } else {
    ok = false;
  }
  auto nodes = [&](const Field& v) { return ReadNodeSet(v, "a list of nodes", nullptr); };
  ok = cm.ReadIfPresent("nodes", storm.nodes, nodes) && ok;
  return storm;
}

std::optional<RegistrationStorm> Loader::ReadRegistrationStorm(const Field& f, bool& ok) {
  MapReader rm(f, d_, "a mapping with node, rate and optionally count");
  if (!rm.ok()) return std::nullopt;
  ok = rm.AllowOnly({"node", "rate", "count"}) && ok;
  RegistrationStorm storm;
  if (auto v = rm.Get("node")) burst_node_fields_.back() = *v;
  if (auto v = rm.Get("count")) burst_count_fields_.back() = *v;
  if (auto x = rm.RequireValue("node", "the node whose phones re-register",
                               [&](const Field& v) { return ReadNode(v); })) {
    storm.node = *x;
  } else {
    ok = false;
  }
  if (auto x = rm.RequireRate("rate", "registrations per second, e.g. 5000/s", 0.001, kMaxRate)) {
    storm.rate_per_s = *x;
  } else {
    ok = false;
  }
  ok = rm.ReadIfPresent("count", storm.count, UintIn(d_, 1, kMaxKeys)) && ok;
  return storm;
}

Field Loader::WorkloadField(const char* key) const {
  auto it = workload_fields_.find(key);
  return it != workload_fields_.end() ? it->second
                                      : Field{YAML::Node(), "workload", YAML::Mark()};
}

void Loader::CheckSteadyRate() {
  const Workload& w = s_.workload;
  if (w.rate_per_s <= 0) return;
  if (w.start >= w.stop) {
    const Field f = WorkloadField(workload_fields_.count("stop") ? "stop" : "start");
    d_.Error(f.mark, f.path,
             "expected start (" + FormatDuration(w.start) + ") before stop (" +
                 FormatDuration(w.stop) + ") when rate is above 0/s");
  }
  struct Kind {
    double share;
    std::uint32_t keys;
    const char* share_key;
    const char* keys_key;
  };
  for (const Kind& k : {Kind{w.mix.device, w.devices, "device", "devices"},
                        Kind{w.mix.mwi, w.mailboxes, "mwi", "mailboxes"},
                        Kind{w.mix.registration, w.aors, "registration", "aors"}}) {
    if (k.share > 0 && k.keys == 0) {
      const Field f = WorkloadField(workload_fields_.count("mix") ? "mix" : "rate");
      d_.Error(f.mark, f.path,
               std::string("the mix gives ") + k.share_key + " " + FormatNumber(k.share * 100) +
                   "% of the changes; expected workload." + k.keys_key + " above 0");
    }
  }
}

// The fill writes every generated mailbox once: it needs mailboxes, ends within the active
// phase, and ends before the steady load writes mailboxes, so no two generated writes to one
// mailbox share an instant (workload.h).
void Loader::CheckMailboxFill() {
  const Workload& w = s_.workload;
  const Field f = WorkloadField("mailbox_fill");
  if (w.mailboxes == 0) {
    d_.Error(f.mark, f.path, "the fill writes every generated mailbox; expected workload.mailboxes above 0");
  } else if (*w.mailbox_fill > s_.duration) {
    d_.Error(f.mark, f.path,
             "expected at most the duration (" + FormatDuration(s_.duration) + "), got " +
                 FormatDuration(*w.mailbox_fill));
  } else if (w.rate_per_s > 0 && w.mix.mwi > 0 && w.start < *w.mailbox_fill) {
    d_.Error(f.mark, f.path,
             "the steady load writes mailboxes from start (" + FormatDuration(w.start) +
                 "); expected the fill to end by then, got " + FormatDuration(*w.mailbox_fill));
  }
}

void Loader::CheckWorkload() {
  CheckSteadyRate();
  const Workload& w = s_.workload;
  double total = w.rate_per_s * std::chrono::duration<double>(w.stop - w.start).count();
  for (std::size_t i = 0; i < w.bursts.size(); ++i) {
    const Burst& b = w.bursts[i];
    if (const auto* call = std::get_if<CallStorm>(&b.what)) {
      total += call->rate_per_s * std::chrono::duration<double>(call->length).count();
      if (w.devices == 0) {
        d_.Error(burst_fields_[i].mark, burst_fields_[i].path,
                 "a call storm changes devices; expected workload.devices above 0");
      }
      continue;
    }
    const auto& reg = std::get<RegistrationStorm>(b.what);
    total += reg.count != 0 ? reg.count : w.aors;
    if (w.aors == 0) {
      d_.Error(burst_fields_[i].mark, burst_fields_[i].path,
               "a registration storm re-registers AORs; expected workload.aors above 0");
    } else if (reg.count > w.aors) {
      d_.Error(burst_count_fields_[i].mark, burst_count_fields_[i].path,
               "expected at most workload.aors (" + std::to_string(w.aors) + ") AORs, got " +
                   std::to_string(reg.count));
    }
  }
  if (w.mailbox_fill) {
    total += w.mailboxes;
    CheckMailboxFill();
  }
  CheckNameChurn(&total);
  CheckGeneratedKeyLengths();
  if (total > kMaxGeneratedChanges) {
    const Field f = WorkloadField("rate");
    d_.Error(f.mark, f.path,
             "the workload makes about " + FormatNumber(std::round(total)) +
                 " changes; expected at most " + FormatNumber(kMaxGeneratedChanges));
  }
}

void Loader::CheckGeneratedKeyLengths() {
  const Workload& w = s_.workload;
  const std::size_t limit = s_.engine.max_key_bytes;
  auto check = [&](const Field& f, const std::string& longest, const char* what) {
    if (longest.size() <= limit) return;
    d_.Error(f.mark, f.path,
             std::string("expected ") + what + " of at most " + std::to_string(limit) +
                 " bytes (engine.max_key_bytes); the longest is " + longest + ", " +
                 std::to_string(longest.size()) + " bytes");
  };
  if (w.devices > 0) check(WorkloadField("devices"), GeneratedDeviceName(w.devices - 1), "generated device names");
  if (w.mailboxes > 0) {
    check(WorkloadField("mailboxes"), GeneratedMailboxName(w.mailboxes - 1), "generated mailbox names");
  }
  if (w.aors > 0) check(WorkloadField("aors"), GeneratedAorName(w.aors - 1), "generated AORs");
  if (!w.name_churn || !name_churn_field_ || w.stop <= w.start) return;
  // Each step names at most one new device, AOR or mailbox: the index stays below the step count.
  const double steps = std::ceil(w.name_churn->rate_per_s * std::chrono::duration<double>(w.stop - w.start).count());
  if (steps < 1) return;
  const auto last = static_cast<std::uint64_t>(steps) - 1;
  check(*name_churn_field_, ChurnedDeviceName(last), "churned device names");
  check(*name_churn_field_, ChurnedAorName(last), "churned AORs");
  if (w.name_churn->mailbox_steps > 0) check(*name_churn_field_, ChurnedMailboxName(last), "churned mailbox names");
}

void Loader::CheckChurn() {
  const Workload& w = s_.workload;
  if (!w.churn) return;
  if (w.aors == 0) {
    d_.Error(churn_field_->mark, churn_field_->path,
             "churn moves phones; expected workload.aors above 0");
  }
  if (w.mix.registration > 0) {
    const auto it = workload_fields_.find("mix");
    const Field& f = it != workload_fields_.end() ? it->second : *churn_field_;
    d_.Error(f.mark, f.path,
             "with churn, the AORs' registrations follow the phones; expected no registration "
             "share in the mix");
  }
  for (std::size_t i = 0; i < w.bursts.size(); ++i) {
    if (std::holds_alternative<RegistrationStorm>(w.bursts[i].what)) {
      d_.Error(burst_fields_[i].mark, burst_fields_[i].path,
               "with churn, the AORs' registrations follow the phones; a registration storm "
               "cannot be combined with it");
    }
  }
  if (w.churn->register_over > s_.duration) {
    d_.Error(churn_field_->mark, churn_field_->path + ".register_over",
             "expected at most the duration (" + FormatDuration(s_.duration) + ")");
  }
}

}  // namespace pbxstate::scenario::detail
