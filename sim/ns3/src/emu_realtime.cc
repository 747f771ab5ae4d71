// RealtimeLagProbe (pbxstate/ns3/emu.h): how far a real-time simulation runs behind the wall clock.
#include <algorithm>

#include <ns3/realtime-simulator-impl.h>
#include <ns3/simulator.h>

#include "pbxstate/ns3/emu.h"

namespace pbxstate::ns3sim {

namespace {

constexpr Duration kBucket = std::chrono::microseconds(10);
constexpr Duration kLate = kLateProbe;

Duration Quantile(const std::vector<std::uint64_t>& histogram, std::uint64_t total, double q) {
  if (total == 0) return Duration::zero();
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < histogram.size(); ++b) {
    seen += histogram[b];
    if (seen > rank) return kBucket * static_cast<std::int64_t>(b);
  }
  return kBucket * static_cast<std::int64_t>(histogram.size());
}

}  // namespace

RealtimeLagProbe::RealtimeLagProbe(Duration interval) : interval_(interval), histogram_(kBuckets + 1, 0) {
  stats_.interval = interval;
}

Status RealtimeLagProbe::Start() {
  if (interval_ <= Duration::zero()) return Status::InvalidArgument("lag probe: the interval must be positive");
  if (ns3::DynamicCast<ns3::RealtimeSimulatorImpl>(ns3::Simulator::GetImplementation()) == nullptr) {
    return Status::FailedPrecondition("lag probe: the simulator is not the real-time one (SelectSimulator)");
  }
  ns3::Simulator::Schedule(ns3::NanoSeconds(interval_.count()), &RealtimeLagProbe::Probe, this);
  return Status::Ok();
}

void RealtimeLagProbe::Probe() {
  auto impl = ns3::DynamicCast<ns3::RealtimeSimulatorImpl>(ns3::Simulator::GetImplementation());
  const ns3::Time due = ns3::Simulator::Now();
  const Duration lag = std::max(Duration::zero(), Duration((impl->RealtimeNow() - due).GetNanoSeconds()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.probes;
    if (lag > stats_.worst) {
      stats_.worst = lag;
      stats_.worst_at = Duration(due.GetNanoSeconds());
    }
    if (lag > kLate) ++stats_.over_1ms;
    ++histogram_[std::min<std::size_t>(static_cast<std::size_t>(lag / kBucket), kBuckets)];
  }
  if (lag > kLate && on_late_) on_late_(Duration(due.GetNanoSeconds()), lag);
  ns3::Simulator::Schedule(ns3::NanoSeconds(interval_.count()), &RealtimeLagProbe::Probe, this);
}

void RealtimeLagProbe::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_ = LagStats{};
  stats_.interval = interval_;
  std::fill(histogram_.begin(), histogram_.end(), 0);
}

LagStats RealtimeLagProbe::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  LagStats s = stats_;
  s.p50 = Quantile(histogram_, s.probes, 0.50);
  s.p99 = Quantile(histogram_, s.probes, 0.99);
  return s;
}

}  // namespace pbxstate::ns3sim
