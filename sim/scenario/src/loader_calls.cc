// calls: generated calls routed between the servers (rate, entry servers, bursts, routing
// strategies, hop limit), and their checks against the workload's phones and the duration.
#include <algorithm>
#include <cmath>

#include "loader_impl.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {

void Loader::ReadCalls(const Field& f) {
  calls_field_ = f;
  MapReader m(f, d_, "a mapping of call settings (rate, nodes, strategies, ...)");
  if (!m.ok()) return;
  if (!m.AllowOnly({"rate", "start", "stop", "nodes", "bursts", "strategies", "hop_limit"})) return;
  for (const auto& entry : m.entries()) calls_fields_.emplace(entry.key, entry.value);
  Calls c;
  c.pos = PosOf(f);
  c.stop = s_.duration;
  auto time = [&](const Field& v) { return ReadTime(v); };
  bool ok = m.ReadIfPresent("rate", c.rate_per_s, RateIn(d_, 0, kMaxRate));
  ok = m.ReadIfPresent("start", c.start, time) && ok;
  ok = m.ReadIfPresent("stop", c.stop, time) && ok;
  ok = m.ReadIfPresent("nodes", c.nodes,
                       [&](const Field& v) {
                         return ReadNodeSet(v, "a list of entry servers", nullptr);
                       }) &&
       ok;
  if (c.nodes.empty() && cluster_ok_) {
    for (NodeId n = 1; n <= node_count_; ++n) c.nodes.push_back(n);
  }
  if (auto v = m.Get("bursts")) ok = ReadCallBursts(*v, c) && ok;
  if (auto v = m.Get("strategies")) ok = ReadStrategies(*v, c) && ok;
  ok = m.ReadIfPresent("hop_limit", c.hop_limit, UintIn(d_, 1, kMaxNodes)) && ok;
  if (ok) s_.calls = c;
}

bool Loader::ReadCallBursts(const Field& f, Calls& c) {
  auto items = ReadList(f, d_, "a list of call bursts", 0, 10'000);
  if (!items) return false;
  bool ok = true;
  for (const Field& item : *items) {
    if (auto b = ReadCallBurst(item, c)) {
      c.bursts.push_back(*b);
      call_burst_fields_.push_back(item);
    } else {
      ok = false;
    }
  }
  return ok;
}

std::optional<CallBurst> Loader::ReadCallBurst(const Field& item, const Calls& c) {
  MapReader bm(item, d_, "a call burst: a mapping with at, length and rate");
  if (!bm.ok() || !bm.AllowOnly({"at", "length", "rate"})) return std::nullopt;
  CallBurst b;
  b.pos = PosOf(item);
  bool ok = true;
  if (auto x = bm.RequireValue("at", "when the burst starts, e.g. 20s",
                               [&](const Field& v) { return ReadTime(v); })) {
    b.at = *x;
  } else {
    ok = false;
  }
  if (auto x = bm.RequireDuration("length", "how long it lasts, e.g. 2s", 1ms, kMaxDuration)) {
    b.length = *x;
  } else {
    ok = false;
  }
  if (auto x = bm.RequireRate("rate", "extra calls per second, e.g. 1000/s", 0.001, kMaxRate)) {
    b.rate_per_s = *x;
  } else {
    ok = false;
  }
  if (!ok) return std::nullopt;
  if (!c.bursts.empty() && b.at < c.bursts.back().at) {
    d_.Error(item.mark, item.path,
             "expected bursts in time order; this one starts before the one above");
    return std::nullopt;
  }
  return b;
}

bool Loader::ReadStrategies(const Field& f, Calls& c) {
  auto items = ReadList(f, d_, "a list of routing strategies", 1, kRoutingStrategyCount);
  if (!items) return false;
  bool ok = true;
  std::vector<RoutingStrategy> list;
  for (const Field& item : *items) {
    auto x = ReadEnum(item, d_, {"blind-peer", "location"});
    if (!x) {
      ok = false;
      continue;
    }
    const auto st = static_cast<RoutingStrategy>(*x);
    if (std::find(list.begin(), list.end(), st) != list.end()) {
      d_.Error(item.mark, item.path, std::string(RoutingStrategyName(st)) + " is listed twice");
      ok = false;
    } else {
      list.push_back(st);
    }
  }
  if (ok) c.strategies = list;
  return ok;
}

void Loader::CheckCalls() {
  if (!s_.calls) return;
  const Workload& w = s_.workload;
  Calls& c = *s_.calls;
  auto field = [&](const char* key) {
    auto it = calls_fields_.find(key);
    return it != calls_fields_.end() ? it->second : *calls_field_;
  };
  if (w.aors == 0) {
    d_.Error(calls_field_->mark, calls_field_->path,
             "calls are for the generated phones; expected workload.aors above 0");
  }
  if (node_count_ < 2) {
    d_.Error(calls_field_->mark, calls_field_->path, "routing needs at least two servers");
    return;
  }
  if (c.hop_limit == 0) c.hop_limit = node_count_ - 1;
  if (c.hop_limit > node_count_) {
    const Field f = field("hop_limit");
    d_.Error(f.mark, f.path,
             "expected at most the number of servers (" + std::to_string(node_count_) + ")");
  }
  if (c.stop > s_.duration) {
    const Field f = field("stop");
    d_.Error(f.mark, f.path,
             "expected at most the duration (" + FormatDuration(s_.duration) + ")");
  }
  if (c.rate_per_s > 0 && c.start >= c.stop) {
    const Field f = field(calls_fields_.count("stop") ? "stop" : "start");
    d_.Error(f.mark, f.path,
             "expected start (" + FormatDuration(c.start) + ") before stop (" +
                 FormatDuration(c.stop) + ") when rate is above 0/s");
  }
  double total = c.rate_per_s * std::chrono::duration<double>(c.stop - c.start).count();
  for (std::size_t i = 0; i < c.bursts.size(); ++i) {
    const CallBurst& b = c.bursts[i];
    total += b.rate_per_s * std::chrono::duration<double>(b.length).count();
    if (b.at + b.length > s_.duration) {
      const Field& f = call_burst_fields_[i];
      d_.Error(f.mark, f.path,
               "a burst at " + FormatDuration(b.at) + " lasting " + FormatDuration(b.length) +
                   " ends after the duration (" + FormatDuration(s_.duration) + ")");
    }
  }
  if (total > kMaxCalls) {
    const Field f = field("rate");
    d_.Error(f.mark, f.path,
             "the calls section makes about " + FormatNumber(std::round(total)) +
                 " calls; expected at most " + FormatNumber(kMaxCalls));
  }
}

}  // namespace pbxstate::scenario::detail
