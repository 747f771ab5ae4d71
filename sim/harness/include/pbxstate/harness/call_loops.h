// Looped calls judged by when the views they were routed by got the phone's changes
// (scenarios/README.md, "calls"). A call for a phone that just moved can come back to a server
// it visited with every engine right: the server it was sent to has dropped the phone and does
// not know the new holder yet, and location falls back to blind-peer, towards where the call
// came from. On real processes the harness knows when each server was asked and answered and
// when each server applied each change; a loop is charged to the views only when every server
// on the way had applied every change of the phone made before it was asked.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pbxstate/harness/recorder.h"

namespace pbxstate::harness {

// One `locate` a call made: the server, when it was asked and when its answer was read (both on
// the run's timeline).
struct LocateAsked {
  NodeId at = kNoNode;
  Duration sent{}, answered{};
};

struct LoopedCall {
  std::string aor;
  std::vector<LocateAsked> asked;
};

// Looped calls kept for judging; the ones beyond count as routed by current views.
inline constexpr std::size_t kMaxLoopedCallsJudged = 1000;

// Whether some server on the call's way answered before a change of the phone that was made
// (applied at its origin, `changes[i].at`) before that server was asked was applied there only
// after its answer was read. A server's own changes do not count (it applies them as it takes
// them), nor does a change never delivered there (it changed nothing in that view).
bool AnsweredBeforeAChangeArrived(const LoopedCall& call, const std::vector<ChangeRecord>& changes,
                                  const std::vector<DeliverySample>& deliveries);

// The looped calls routed by views that had every change of their phone: `looped` minus the
// judged ones that AnsweredBeforeAChangeArrived (at most kMaxLoopedCallsJudged judged).
std::uint64_t LoopedOnCurrentViews(std::uint64_t looped, const std::vector<LoopedCall>& judged,
                                   const std::vector<ChangeRecord>& changes,
                                   const std::vector<DeliverySample>& deliveries);

}  // namespace pbxstate::harness
