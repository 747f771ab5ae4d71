// Benchmark instruments inside pbxstated (daemon/CONTROL.md, `generate` and `watch`).
//
// LoadGenerator makes device-state changes from the daemon's own event loop, so that a benchmark
// measures the engine and CPG, not the control socket: one request starts `count` changes, made
// at `rate_per_s` (0: as fast as the transport accepts them), in slices of at most
// kGenerateSliceChanges per loop iteration so that CPG deliveries and control requests keep being
// served in between. It records the host CLOCK_MONOTONIC time at which each change was handed to
// the engine.
//
// ChangeProbe records, on a receiving node, the CLOCK_MONOTONIC time at which each generated
// change became visible in this node's view (the engine's ViewChange). All daemons of a test
// cluster run on one host, so send and receive times share one clock and their difference is the
// delivery latency.
//
// Change i (0-based) of a run sets device `prefix + to_string(i % devices)` to INUSE when
// i / devices is even, NOT_INUSE when odd: every change flips its device, so every change is a
// visible change at the receivers, and the probe maps the k-th change it sees of device d back to
// i = k * devices + d. A batching engine collapses repeated changes of one device inside one batch
// window into the latest; the probe would then attribute later rounds to earlier indexes. A
// benchmark of batching therefore uses devices >= count (one change per device).
//
// Both are plain state machines with the clock passed in, so they are unit-tested without a
// daemon; Daemon owns the timerfd and the engine calls. Every buffer is sized by the request and
// bounded by the k* limits below; results are read back in pages.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/control/protocol.h"
#include "pbxstate/control/replies.h"
#include "pbxstate/engine.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::daemon {

// The request's bounds (kMaxGenerate*, kMaxResultPage) and LoadSpec are the protocol's
// (pbxstate/control/protocol.h); these two are the daemon's own pacing.
// Changes made per event-loop iteration before the loop serves CPG and the control socket again.
inline constexpr std::uint64_t kGenerateSliceChanges = 512;
// While the CPG transport holds a backlog (corosync answered TRY_AGAIN), generation waits this
// long and looks again: adding changes then would only fill the engine's bounded queue, whose
// overflow drops frames.
inline constexpr std::int64_t kGenerateBackoffNs = 1'000'000;

using control::LoadSpec;

// The device and state of change `index` of a run (the scheme above).
std::string GeneratedDevice(std::string_view prefix, std::uint64_t devices, std::uint64_t index);
DeviceState GeneratedState(std::uint64_t devices, std::uint64_t index);

class LoadGenerator {
 public:
  using SetFn = std::function<Status(std::string_view device, DeviceState state)>;
  using ClockFn = std::function<std::int64_t()>;

  // Starts a run at now_ns. Refused (kFailedPrecondition) while another run is going on; a
  // finished run's results are replaced.
  Status Start(const LoadSpec& spec, std::int64_t now_ns);

  // Makes the changes due at now_ns (at most kGenerateSliceChanges), each through `set`, stamped
  // with `clock()` just before the call. `backlogged`: the transport holds unsent messages, so
  // nothing is made now. Returns when to call again (CLOCK_MONOTONIC ns), nullopt when the run is
  // over (all made, max_duration reached, or the engine refused a change: the run stops and says
  // why).
  std::optional<std::int64_t> Step(std::int64_t now_ns, bool backlogged, const SetFn& set, const ClockFn& clock);

  bool running() const { return running_; }
  std::uint64_t generated() const { return next_; }

  // The `generate_result` reply: state, counters, and the send times of changes from ..
  // from + limit - 1 (as many of them as exist).
  control::GenerateReport Result(std::uint64_t from, std::uint64_t limit) const;

 private:
  void Finish(control::GenerateOutcome outcome, std::int64_t now_ns);

  LoadSpec spec_;
  bool started_ = false;
  bool running_ = false;
  control::GenerateOutcome outcome_ = control::GenerateOutcome::kNone;
  std::string error_;
  std::int64_t start_ns_ = 0;
  std::int64_t deadline_ns_ = 0;
  std::int64_t finished_ns_ = 0;
  std::uint64_t next_ = 0;               // index of the next change to make
  std::uint64_t backpressure_waits_ = 0; // Steps that found the transport backlogged
  std::int64_t max_lag_ns_ = 0;          // rate mode: furthest a change was made behind its schedule
  std::vector<std::int64_t> sent_ns_;    // per change, CLOCK_MONOTONIC when handed to the engine
};

class ChangeProbe {
 public:
  // Starts recording for `spec` (prefix, devices, count), replacing any earlier watch.
  void Watch(const LoadSpec& spec);

  // Every ViewChange the engine reports (cheap when it is not a watched device).
  void OnViewChange(const ViewChange& change, std::int64_t now_ns);

  bool active() const { return active_; }
  std::uint64_t seen() const { return seen_; }

  // The `watch_result` reply: counters, and when changes from .. from + limit - 1 became
  // visible here (0: not yet).
  control::WatchReport Result(std::uint64_t from, std::uint64_t limit) const;

 private:
  LoadSpec spec_;
  bool active_ = false;
  std::uint64_t seen_ = 0;
  std::uint64_t unexpected_ = 0;           // watched-prefix changes outside the run's indexes
  std::int64_t first_ns_ = 0, last_ns_ = 0;
  std::vector<std::uint32_t> rounds_;      // per device: changes of it seen so far
  std::vector<std::int64_t> seen_ns_;      // per change: when it became visible (0: not yet)
};

}  // namespace pbxstate::daemon
