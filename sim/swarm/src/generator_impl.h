// Private to the generator: the random source, the choices a seed makes first (its shape), and
// the sections each file draws.
//   generator.cc          GenerateScenario, the shape, cluster, network, engine, checks
//   generator_faults.cc   fault episodes, merged into one valid timeline
//   generator_changes.cc  explicit changes and generated load
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "pbxstate/random.h"
#include "pbxstate/scenario/scenario.h"
#include "pbxstate/swarm/generator.h"

namespace pbxstate::swarm::detail {

using namespace std::chrono_literals;

// Draws on top of SplitMix64: the same values on every platform and standard library.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : rng_(seed) {}
  std::int64_t Between(std::int64_t lo, std::int64_t hi) { return rng_.Between(lo, hi); }
  std::uint64_t Below(std::uint64_t n) { return rng_.Below(n); }
  bool Chance(double p) { return rng_.Chance(p); }
  double Unit() { return rng_.Unit(); }
  // A whole number of milliseconds in [lo, hi].
  Duration Ms(std::int64_t lo, std::int64_t hi) { return std::chrono::milliseconds(Between(lo, hi)); }
  // A share in [0, max] in steps of 0.1%, so that it is written exactly as "x.y%".
  double Share(double max) { return static_cast<double>(Between(0, static_cast<std::int64_t>(max * 1000))) / 1000.0; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

 private:
  SplitMix64 rng_;
};

// What a seed decides before anything else.
struct Shape {
  MembershipSource membership = MembershipSource::kHeartbeat;
  // Transport membership with consistent views, a network that neither loses, duplicates nor
  // reorders, and anti-entropy possibly off: Corosync CPG as the engine may rely on it.
  bool reliable = false;
  bool frame_faults = true;  // duplication and reordering may be drawn (GeneratorOptions)
  Duration faults_end{};     // every fault episode ends by then; the end-of-faults fixups happen then
  bool end_partitioned = false;  // a two-way partition stays in force to the end
  std::set<NodeId> stable;   // nodes that never crash: the MWI writers, and a survivor
};

// Adds faults in [0, shape.faults_end], valid in sequence (the loader's timeline rules).
void DrawFaults(Draw& d, const Shape& shape, scenario::Scenario* s);
// Adds explicit changes (and on some seeds generated load, churn, bursts) valid against the
// faults: every change on a node that is up then.
void DrawChanges(Draw& d, const Shape& shape, scenario::Scenario* s);

// Whether `node` is up at `t` by the faults of `s` (faults at an instant come before changes).
bool UpAt(const scenario::Scenario& s, NodeId node, Duration t);

}  // namespace pbxstate::swarm::detail
