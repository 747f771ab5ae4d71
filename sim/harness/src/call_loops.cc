#include "pbxstate/harness/call_loops.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <optional>

namespace pbxstate::harness {

bool AnsweredBeforeAChangeArrived(const LoopedCall& call, const std::vector<ChangeRecord>& changes,
                                  const std::vector<DeliverySample>& deliveries) {
  // The phone's changes (a handful among the run's), then each one's first delivery per server.
  std::map<std::uint32_t, const ChangeRecord*> mine;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    if (changes[i].kind == EntryKind::kRegistration && changes[i].key == call.aor) {
      mine.emplace(static_cast<std::uint32_t>(i), &changes[i]);
    }
  }
  std::map<std::pair<std::uint32_t, NodeId>, Duration> applied;
  for (const DeliverySample& d : deliveries) {
    auto c = mine.find(d.change);
    if (c != mine.end()) applied.emplace(std::make_pair(d.change, d.node), c->second->at + d.latency);
  }
  for (const LocateAsked& a : call.asked) {
    assert(a.sent <= a.answered);
    for (const auto& [index, c] : mine) {
      if (c->origin == a.at || c->at >= a.sent) continue;
      // Never applied there: the change altered nothing in that server's view (a removal of
      // what it did not hold), so the answer was not behind it.
      auto got = applied.find({index, a.at});
      if (got != applied.end() && got->second > a.answered) return true;
    }
  }
  return false;
}

std::uint64_t LoopedOnCurrentViews(std::uint64_t looped, const std::vector<LoopedCall>& judged,
                                   const std::vector<ChangeRecord>& changes,
                                   const std::vector<DeliverySample>& deliveries) {
  assert(judged.size() <= looped && judged.size() <= kMaxLoopedCallsJudged);
  const auto behind = std::count_if(judged.begin(), judged.end(), [&](const LoopedCall& c) {
    return AnsweredBeforeAChangeArrived(c, changes, deliveries);
  });
  return looped - static_cast<std::uint64_t>(behind);
}

}  // namespace pbxstate::harness
