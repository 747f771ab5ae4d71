#include "load_generator.h"

#include <algorithm>
#include <charconv>

namespace pbxstate::daemon {

using control::GenerateOutcome;
using control::kMaxResultPage;

namespace {

// Times [from, from + limit) of `times` (limit already bounded by the parser).
std::vector<std::int64_t> Page(const std::vector<std::int64_t>& times, std::uint64_t from, std::uint64_t limit) {
  const std::uint64_t end = std::min<std::uint64_t>(times.size(), from + std::min(limit, kMaxResultPage));
  if (from >= end) return {};
  return std::vector<std::int64_t>(times.begin() + static_cast<std::ptrdiff_t>(from),
                                   times.begin() + static_cast<std::ptrdiff_t>(end));
}

std::optional<std::int64_t> TimeOrNull(std::int64_t t) { return t == 0 ? std::nullopt : std::optional(t); }

}  // namespace

std::string GeneratedDevice(std::string_view prefix, std::uint64_t devices, std::uint64_t index) {
  std::string name(prefix);
  name += std::to_string(index % devices);
  return name;
}

DeviceState GeneratedState(std::uint64_t devices, std::uint64_t index) {
  return (index / devices) % 2 == 0 ? DeviceState::kInUse : DeviceState::kNotInUse;
}

// ---- LoadGenerator ---------------------------------------------------------------------------

Status LoadGenerator::Start(const LoadSpec& spec, std::int64_t now_ns) {
  if (running_) {
    return Status::FailedPrecondition("generate: a run is still going on (" + std::to_string(next_) + " of " +
                                      std::to_string(spec_.count) + " changes made); wait for generate_result "
                                      "to say it is over");
  }
  spec_ = spec;
  started_ = true;
  running_ = true;
  outcome_ = GenerateOutcome::kRunning;
  error_.clear();
  start_ns_ = now_ns;
  deadline_ns_ = now_ns + static_cast<std::int64_t>(spec.max_duration_ms) * 1'000'000;
  finished_ns_ = 0;
  next_ = 0;
  backpressure_waits_ = 0;
  max_lag_ns_ = 0;
  sent_ns_.assign(spec.count, 0);
  return Status::Ok();
}

void LoadGenerator::Finish(GenerateOutcome outcome, std::int64_t now_ns) {
  running_ = false;
  outcome_ = outcome;
  finished_ns_ = now_ns;
}

std::optional<std::int64_t> LoadGenerator::Step(std::int64_t now_ns, bool backlogged, const SetFn& set,
                                                const ClockFn& clock) {
  if (!running_) return std::nullopt;
  if (now_ns >= deadline_ns_) {
    error_ = "max_duration_ms (" + std::to_string(spec_.max_duration_ms) + ") ran out after " +
             std::to_string(next_) + " of " + std::to_string(spec_.count) + " changes";
    Finish(GenerateOutcome::kTimedOut, now_ns);
    return std::nullopt;
  }
  if (backlogged) {
    ++backpressure_waits_;
    return now_ns + kGenerateBackoffNs;
  }
  // Changes due by now: all of them when saturating, else those whose slot i / rate has begun.
  // No overflow: elapsed < max_duration (<= 6e11 ns) times rate (<= 1e6) stays below 2^64, and so
  // does index (<= 1e6) times 1e9.
  std::uint64_t due = spec_.count;
  if (spec_.rate_per_s != 0) {
    const auto elapsed = static_cast<std::uint64_t>(now_ns - start_ns_);
    due = std::min<std::uint64_t>(elapsed * spec_.rate_per_s / 1'000'000'000u + 1, spec_.count);
  }
  auto scheduled_ns = [this](std::uint64_t i) {
    return start_ns_ + static_cast<std::int64_t>(i * 1'000'000'000u / spec_.rate_per_s);
  };
  for (std::uint64_t made = 0; next_ < due && made < kGenerateSliceChanges; ++made) {
    const std::string device = GeneratedDevice(spec_.prefix, spec_.devices, next_);
    const std::int64_t t = clock();
    if (Status s = set(device, GeneratedState(spec_.devices, next_)); !s.ok()) {
      error_ = "the engine refused change " + std::to_string(next_) + " (" + device + "): " + s.ToString();
      Finish(GenerateOutcome::kRefused, t);
      return std::nullopt;
    }
    if (spec_.rate_per_s != 0) max_lag_ns_ = std::max(max_lag_ns_, t - scheduled_ns(next_));
    sent_ns_[next_] = t;
    ++next_;
  }
  if (next_ == spec_.count) {
    Finish(GenerateOutcome::kDone, clock());
    return std::nullopt;
  }
  if (spec_.rate_per_s == 0 || next_ < due) return now_ns;  // more is due: after one loop turn
  return scheduled_ns(next_);
}

control::GenerateReport LoadGenerator::Result(std::uint64_t from, std::uint64_t limit) const {
  control::GenerateReport r;
  r.outcome = outcome_;
  r.error = error_;
  r.spec = spec_;
  r.generated = next_;
  if (started_) r.started_t_mono_ns = start_ns_;
  r.finished_t_mono_ns = TimeOrNull(finished_ns_);
  r.backpressure_waits = backpressure_waits_;
  r.max_lag_ns = max_lag_ns_;
  r.from = from;
  r.t_mono_ns = Page(sent_ns_, from, limit);
  return r;
}

// ---- ChangeProbe -----------------------------------------------------------------------------

void ChangeProbe::Watch(const LoadSpec& spec) {
  spec_ = spec;
  active_ = true;
  seen_ = 0;
  unexpected_ = 0;
  first_ns_ = last_ns_ = 0;
  rounds_.assign(spec.devices, 0);
  seen_ns_.assign(spec.count, 0);
}

void ChangeProbe::OnViewChange(const ViewChange& change, std::int64_t now_ns) {
  if (!active_ || change.kind != EntryKind::kDevice) return;
  if (change.cause != ChangeCause::kLocal && change.cause != ChangeCause::kRemote) return;
  if (!change.new_contribution || !change.key.starts_with(spec_.prefix)) return;
  const std::string_view digits = change.key.substr(spec_.prefix.size());
  std::uint64_t device = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), device);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || device >= spec_.devices) {
    ++unexpected_;
    return;
  }
  const std::uint64_t index = static_cast<std::uint64_t>(rounds_[device]) * spec_.devices + device;
  if (index >= spec_.count || *change.new_contribution != GeneratedState(spec_.devices, index)) {
    ++unexpected_;
    return;
  }
  ++rounds_[device];
  seen_ns_[index] = now_ns;
  if (seen_ == 0) first_ns_ = now_ns;
  last_ns_ = now_ns;
  ++seen_;
}

control::WatchReport ChangeProbe::Result(std::uint64_t from, std::uint64_t limit) const {
  control::WatchReport r;
  r.active = active_;
  r.spec = control::LoadSpec{spec_.prefix, spec_.devices, spec_.count};
  r.seen = seen_;
  r.complete = active_ && seen_ == spec_.count;
  r.unexpected = unexpected_;
  r.first_t_mono_ns = TimeOrNull(first_ns_);
  r.last_t_mono_ns = TimeOrNull(last_ns_);
  r.from = from;
  r.t_mono_ns = Page(seen_ns_, from, limit);
  return r;
}

}  // namespace pbxstate::daemon
