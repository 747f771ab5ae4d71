#include "pbxstate/swarm/shrink.h"

#include <chrono>
#include <cstdio>

#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/writer.h"
#include "shrink_impl.h"

namespace pbxstate::swarm {
namespace {

using scenario::Scenario;

// Candidates kept for the walk back at the end (Shrinker::Run), the latest ones.
constexpr std::size_t kMaxKept = 16;

// One shrinking session: the best scenario so far and the budget left.
class Shrinker {
 public:
  Shrinker(const Scenario& failing, const std::function<bool(const Scenario&)>& still_fails,
           const ShrinkOptions& options, ShrinkStats* stats)
      : original_(failing), best_(failing), still_fails_(still_fails), options_(options), stats_(stats),
        start_(std::chrono::steady_clock::now()) {}

  Scenario Run() {
    for (bool progress = true; progress && !OutOfBudget();) {
      progress = false;
      progress = DropFaults() || progress;
      progress = DropChanges() || progress;
      progress = DropNodes() || progress;
      progress = TryAll([](const Scenario& s) { return detail::Simplifications(s); }) || progress;
      progress = TryAll([](const Scenario& s) { return detail::ShorterTimes(s); }) || progress;
    }
    stats_->bounded = OutOfBudget();
    // Candidates were tried as edited; the result is the latest one whose file loads back equal
    // (every repaired candidate should; the walk back is a guard, not a path).
    while (!kept_.empty()) {
      if (std::optional<Scenario> loaded = Normalized(kept_.back()); loaded && scenario::SameScenario(*loaded, kept_.back())) {
        return *loaded;
      }
      kept_.pop_back();
    }
    return original_;
  }

 private:
  bool OutOfBudget() const {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return stats_->runs >= options_.max_runs || elapsed >= options_.max_seconds;
  }

  // Tries `candidate` (repaired); keeps it when it still fails. Writing and loading every
  // candidate back would cost as much as running it: only the result is (Run).
  bool Try(Scenario candidate) {
    if (OutOfBudget()) return false;
    detail::Repair(&candidate);
    if (scenario::SameScenario(candidate, best_)) return false;
    ++stats_->runs;
    if (!still_fails_(candidate)) return false;
    ++stats_->accepted;
    best_ = std::move(candidate);
    if (kept_.size() == kMaxKept) kept_.erase(kept_.begin());
    kept_.push_back(best_);
    return true;
  }

  // Delta debugging over one list of the scenario (`get` picks it): drop chunks of halving size.
  template <typename Get>
  bool DropFrom(Get get) {
    bool progress = false;
    for (std::size_t chunk = std::max<std::size_t>(1, get(best_).size() / 2);; chunk /= 2) {
      for (std::size_t start = 0; start < get(best_).size() && !OutOfBudget();) {
        Scenario c = best_;
        auto& items = get(c);
        const std::size_t end = std::min(items.size(), start + chunk);
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(start), items.begin() + static_cast<std::ptrdiff_t>(end));
        if (Try(std::move(c))) {
          progress = true;  // the same start now holds the entries after the dropped chunk
        } else {
          start += chunk;
        }
      }
      if (chunk == 1 || OutOfBudget()) break;
    }
    return progress;
  }

  bool DropFaults() {
    return DropFrom([](Scenario& s) -> std::vector<scenario::Fault>& { return s.faults; });
  }
  bool DropChanges() {
    return DropFrom([](Scenario& s) -> std::vector<scenario::TimedChange>& { return s.workload.changes; });
  }

  bool DropNodes() {
    bool progress = false;
    for (NodeId k = best_.topology.node_count(); k >= 1 && !OutOfBudget(); --k) {
      if (k > best_.topology.node_count()) continue;
      if (std::optional<Scenario> c = detail::WithoutNode(best_, k); c && Try(*c)) progress = true;
    }
    return progress;
  }

  template <typename Edits>
  bool TryAll(Edits edits) {
    bool progress = false;
    for (bool again = true; again && !OutOfBudget();) {
      again = false;
      for (const Scenario& c : edits(best_)) {
        if (Try(c)) {
          progress = again = true;
          break;  // the edits of the new best differ: draw them again
        }
      }
    }
    return progress;
  }

  const Scenario& original_;
  Scenario best_;
  std::vector<Scenario> kept_;  // the latest candidates kept, in order, at most kMaxKept
  const std::function<bool(const Scenario&)>& still_fails_;
  const ShrinkOptions& options_;
  ShrinkStats* stats_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

std::string ScenarioSize::ToString() const {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%u nodes, %zu faults, %zu changes, %.3g s", nodes, faults, changes,
                std::chrono::duration<double>(end).count());
  return buf;
}

ScenarioSize SizeOf(const Scenario& s) {
  return {s.topology.node_count(), s.faults.size(), s.workload.changes.size(), s.duration + s.quiet.constant};
}

std::optional<Scenario> Normalized(const Scenario& s) {
  Scenario repaired = s;
  detail::Repair(&repaired);
  std::string text;
  if (!scenario::WriteScenario(repaired, &text).ok()) return std::nullopt;
  scenario::LoadResult r = scenario::LoadScenarioString(text, s.file);
  if (!r.ok()) return std::nullopt;
  return std::move(*r.scenario);
}

Scenario Shrink(const Scenario& failing, const std::function<bool(const Scenario&)>& still_fails,
                const ShrinkOptions& options, ShrinkStats* stats) {
  ShrinkStats local;
  Shrinker shrinker(failing, still_fails, options, stats != nullptr ? stats : &local);
  return shrinker.Run();
}

}  // namespace pbxstate::swarm
