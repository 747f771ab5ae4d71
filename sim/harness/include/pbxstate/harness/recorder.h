// RunRecorder: watches one scenario run on any backend and turns it into the metrics of docs/ARCHITECTURE.md.
//
// A runner (ns-3 world, network-namespace cluster) tells the recorder what happened, in time
// order: node starts and crashes, faults, every local change it made (and the engine's answer),
// and every view change each node's engine reported. At the end it hands over the final view of
// every node that is up, as data (FinalView), whether its engine lives in this process (ns-3) or
// in a daemon that answered a `dump` (network namespaces). The recorder keeps two accounts apart: what the nodes showed (their view changes and
// final views) and what they should have shown (the Oracle, fed only from the workload log and
// the membership history), and measures one against the other.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pbxstate/engine.h"
#include "pbxstate/harness/calls.h"
#include "pbxstate/harness/fault_windows.h"
#include "pbxstate/harness/oracle.h"
#include "pbxstate/harness/slots.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::harness {

// A quantile summary of durations, in nanoseconds.
struct Quantiles {
  std::size_t count = 0;
  double min = 0, p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;
};
Quantiles Summarize(std::vector<double> samples);

// One convergence measurement: from the end of a fault to agreement, inside the stretch that
// ends at the next fault (or the run's end). Agreement is judged against Oracle::Settled.
struct ConvergenceSample {
  std::string after;  // "heal", "restart", "restore", "crash"
  Duration fault_at{};
  std::string fault;  // the fault as a short text, "crash node 3"
  bool converged = false;
  Duration took{};    // valid when converged
  // Not converged when the next fault came: the sample is interrupted, not slow. It is left out
  // of the convergence figures and counted in `convergence.interrupted`. Not converged and not
  // interrupted: the cluster never agreed before the run ended (infinitely slow).
  bool interrupted = false;
  Duration until{};            // the end of the stretch: the next fault's instant, or the run's end
  std::string interrupted_by;  // the next fault as a short text, when interrupted
  // Per node up in the stretch: how long it took that node (nullopt: it did not agree within
  // the stretch). `took` is the largest.
  std::vector<std::pair<NodeId, std::optional<Duration>>> by_node;
  // After a heal that converged, with a byte count from the runner (CountNetworkBytes): the
  // bytes all nodes put on the network from the heal to agreement (nullopt: not counted, or
  // agreement came after the counting window, kHealBytesWindow), and the encoded size of what
  // the live nodes lacked at the heal: per (node, entry) whose value there was not one the
  // stretch accepts, the codec's record of the value it came to show (EncodedRecordBytes).
  std::optional<std::uint64_t> bytes;
  std::uint64_t differing_bytes = 0;
};

// How long after a heal the recorder reads the runner's byte count (at every view change, until
// the next fault): agreement later than this leaves the heal's bytes uncounted.
inline constexpr Duration kHealBytesWindow = std::chrono::seconds(60);
// Distinct byte counts kept per heal; at the bound the window closes early.
inline constexpr std::size_t kMaxHealByteSamples = 1'000'000;

// One (change, receiving node) pair.
struct DeliverySample {
  std::uint32_t change;  // index into RunResult::changes
  NodeId node;
  Duration latency;
};

struct ChangeRecord {
  Duration at{};
  NodeId origin = kNoNode;
  EntryKind kind = EntryKind::kDevice;
  std::string key;
  std::optional<Duration> stable;  // set when every node that should see it did
};

// A node whose final view differs from the oracle's, one line per difference (bounded).
struct Discrepancy {
  NodeId node;
  std::string what;  // "lost device PJSIP/dev3 from node 2", ...
};

struct NodeSummary {
  NodeId node = kNoNode;
  bool up_at_end = false;
  std::uint64_t incarnation = 0;
  EngineStats stats;                // summed over the node's incarnations
  std::uint64_t frames_sent = 0;    // frames put on the network (fan-out copies counted)
  std::uint64_t bytes_sent = 0;
  std::uint64_t final_digest = 0;   // Engine::Digest().hash at the end; 0 when down
  // Simulated time at which this node last disagreed with the oracle (its view timeline);
  // nullopt when it never did after its start, or timelines were not kept.
  std::optional<Duration> last_disagreement;
};

// One view a backend handed a node's engine (RunRecorder::MembershipDelivered): run.json's
// "membership" lists them, so a reader sees what the oracle judged membership by.
struct MembershipRecord {
  Duration t{};
  NodeId node = kNoNode;
  std::vector<NodeId> members;  // sorted
};
inline constexpr std::size_t kMaxMembershipRecords = 10'000;

// One node's engine memory (EngineStats::held_bytes) at one instant of the run
// (RunRecorder::EngineMemorySampled).
struct MemorySample {
  Duration t{};
  NodeId node = kNoNode;
  std::uint64_t held_bytes = 0;
  friend bool operator==(const MemorySample&, const MemorySample&) = default;
};

// memory_growth_pct (scenario::kMemoryGrowthMetric): over the nodes with a sample at
// `baseline` and one at `end`, the largest (end - baseline) / baseline, in percent; nullopt when
// no node has both. `samples` holds at most one per (node, instant), as RunRecorder keeps them
// (EngineMemorySampled); a second one is refused (CHECK), not summed or overwritten. A node restarted in between is measured all the same: a month of uptime
// includes restarts, and a restarted engine catches up to what the others hold.
std::optional<double> MemoryGrowthPct(const std::vector<MemorySample>& samples, Duration baseline, Duration end);

struct RunResult {
  std::map<std::string, double> metrics;  // every metric of scenario::Metrics() that was measured
  std::vector<ChangeRecord> changes;
  std::vector<DeliverySample> deliveries;
  std::vector<ConvergenceSample> convergence;
  std::vector<Discrepancy> discrepancies;  // at most kMaxDiscrepancies
  std::uint64_t discrepancy_count = 0;
  std::vector<NodeSummary> nodes;
  std::optional<CallSummary> calls;    // with a calls section: per-strategy routing results
  std::uint64_t changes_skipped = 0;   // planned on a node that was down
  std::uint64_t changes_refused = 0;   // the engine refused them (bounds)
  // The membership the oracle judged by (OracleTiming::membership), and with transport
  // membership the views it was fed, in time order: the first kMaxMembershipRecords kept, all
  // counted. No views with transport membership: the oracle modelled them (oracle.h).
  MembershipSource membership = MembershipSource::kHeartbeat;
  std::vector<MembershipRecord> views;
  std::uint64_t view_count = 0;
  // With a memory section: every node's held_bytes as the runner sampled it, in time order.
  std::vector<MemorySample> memory;
  // The faults as the runner applied them (FaultApplied), paired into the stretches each was in
  // force, the open ones ended at the run's end (fault_windows.h).
  std::vector<FaultWindow> fault_windows;
};

inline constexpr std::size_t kMaxDiscrepancies = 200;

// A fault as a short text for reports: "partition [1,2] [3]", "crash node 3".
std::string DescribeFault(const scenario::Fault& fault);

// One node's final view and counters, as data: what Finish compares with the oracle. An engine
// in this process gives it through FinalViewOf; a node in another process through its daemon's
// `dump` and `stats` answers. Entries come in the order the node listed them (Finish interns
// keys in that order: devices, then registrations, then mailboxes). Versions (contributions'
// and registrations' incarnations, mailboxes' HLCs) are compared too.
struct FinalView {
  struct Device {
    std::string name;
    std::optional<DeviceState> aggregate;  // nullopt: no node contributes
    std::vector<DeviceContribution> contributions;
  };
  struct Registration {
    std::string aor;
    RegistrationView view;
  };
  struct Mailbox {
    std::string mailbox;
    MailboxValue value;
  };
  EngineStats stats;
  std::uint64_t digest = 0;  // ViewDigest::hash
  std::vector<Device> devices;  // only devices with at least one contribution
  std::vector<Registration> registrations;
  std::vector<Mailbox> mailboxes;
  // Engine::Members(), sorted; nullopt when the backend cannot tell (Finish then skips the check).
  std::optional<std::vector<NodeId>> members;
  // When it was read, on the run's timeline (oracle.h, ReadInstant; Finish judges its
  // registrations' expiries then). nullopt: at the run's end exactly, as FinalViewOf reads an
  // engine in this process.
  std::optional<ReadInstant> read;
  // Where the engine's point queries (ClusterDeviceState, Mailbox, Registrations) disagree with
  // its own listing, one line each; FinalViewOf fills it. Each line is a discrepancy.
  std::vector<std::string> inconsistencies;
};
// The engine's final view, its members, and its point queries checked against its listing.
FinalView FinalViewOf(const Engine& engine);

class RunRecorder {
 public:
  // `keep_timelines`: record every node's view over time (needed for convergence after faults;
  // costs memory proportional to nodes x changes). Off, convergence is not measured.
  // The oracle takes the membership source and every timing it needs from `scenario.engine`
  // and the network from `scenario.topology` and its faults: a backend whose membership is not
  // what the scenario says (CPG under a heartbeat scenario) passes a copy with it set.
  RunRecorder(const scenario::Scenario& scenario, bool keep_timelines);
  ~RunRecorder();

  // ---- what happened, in time order ----
  void NodeStarted(Duration t, NodeId node, std::uint64_t incarnation);
  // `last` are the stats of the incarnation that died (they are kept in the node's sum).
  void NodeCrashed(Duration t, NodeId node, const EngineStats& last);
  void FaultApplied(Duration t, const scenario::Fault& fault);
  // Optional, before anything happens: the bytes all nodes have put on the network since the
  // run began, counted as bytes_per_change counts them (a unicast fan-out every copy); it must
  // never decrease. With it the recorder measures what each heal moved (heal_bytes,
  // heal_differing_bytes, heal_bytes_ratio): it reads the count when a heal is applied (a
  // backend whose faults send nothing at the instant they act) and at every view change after
  // it, for kHealBytesWindow or until the next fault. Backends that cannot count bytes at those
  // instants (netns, emu) leave it unset and the heal metrics unmeasured.
  void CountNetworkBytes(std::function<std::uint64_t()> bytes_so_far);
  // Transport membership (a scenario whose cluster.membership, or else engine.membership, is
  // kTransport): the view the backend handed `node`'s engine (Engine::OnMembership), at the
  // instant it was handed over. Optional: without views the oracle models them (oracle.h).
  // Ignored with heartbeat membership. Each backend's source: sim/harness/README.md.
  void MembershipDelivered(Duration t, NodeId node, const std::vector<NodeId>& members);
  // Before Finish: the backend's crash kills the engine's process and its node's CPG lives on
  // (Corosync with `corosync.crash: process`: the netns and emu backends without
  // --crash-corosync, ns-3 over its Corosync model), so what a crashed engine handed CPG is
  // still delivered in the view it was sent in (oracle.h, "Mailboxes").
  void TransportOutlivesCrashes();
  // Before Finish: the transport is Corosync's token ring (the netns and emu backends, ns-3 over
  // its Corosync model), which a cut, a crash or loss can hold back without any view changing:
  // a write a member's view lost the writer of may not have reached it (oracle.h, "Mailboxes").
  void TransportRingMayStall();
  // A planned change was handed to the node's engine, which answered `status`.
  void ChangeMade(Duration t, const PlannedChange& change, const Status& status);
  // A planned change was not made: its node was down.
  void ChangeSkipped(Duration t, const PlannedChange& change);
  // Any node's engine reported a change of its view (local ones included: a local mailbox
  // write's report gives the oracle that write's HLC, oracle.h).
  void ViewChanged(Duration t, NodeId node, const ViewChange& change);

  // A scenario with a memory section: node `node`'s engine held `held_bytes` at `t` (the runner
  // samples every memory.sample_every and at the end, nodes up only). At most
  // kMaxMemorySamplesPerNode + 1 per node: past that a sample is refused (CHECK), the loader
  // having bounded the scenario so that a runner never gets there. A node's samples come in
  // increasing time, one per instant: a second sample of one (node, t), or one earlier than the
  // node's last, is refused (CHECK). held_bytes is a level: two reads of it at one instant are
  // one measurement taken twice, so adding them would double it, and keeping the larger or the
  // later would hide a runner that reads a node twice for one instant (it read it at two times
  // and named them alike). The runner is wrong then, and says nothing true by either.
  void EngineMemorySampled(Duration t, NodeId node, std::uint64_t held_bytes);

  // ---- the end ----
  struct NodeAtEnd {
    std::optional<FinalView> view;  // nullopt when down
    std::uint64_t frames_sent = 0;
    std::uint64_t bytes_sent = 0;
    // Of frames_sent, those addressed to a node of another site (crossing the WAN); nullopt when
    // the backend does not count them (only ns-3 does). Gives wan_frames_per_change.
    std::optional<std::uint64_t> frames_to_other_sites;
  };
  // Checks every live node's final view against the oracle and computes every metric.
  RunResult Finish(Duration end, const std::function<NodeAtEnd(NodeId)>& node_at_end);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pbxstate::harness
