// The scenario model: what a scenario file says, as plain values, after the loader has checked
// it. A world (ns-3, network namespaces) and the runner take a Scenario and run it; nothing
// here knows how. scenarios/README.md is the reference for what each field means in a file.
//
// Nodes are numbered from 1 to node_count(), and a node's number is its pbxstate::NodeId.
// With sites, numbers run through the sites in the order they are listed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pbxstate/config.h"
#include "pbxstate/scenario/check.h"
#include "pbxstate/scenario/corosync.h"
#include "pbxstate/scenario/detection.h"
#include "pbxstate/types.h"

namespace pbxstate::scenario {

using namespace std::chrono_literals;

// Bounds a scenario must stay within; the loader refuses anything beyond them.
inline constexpr std::uint32_t kMaxNodes = 1000;
inline constexpr std::size_t kMaxSites = 16;
inline constexpr Duration kMaxDuration = 24h;
inline constexpr Duration kMaxQuiet = 1h;
inline constexpr std::uint32_t kMaxKeys = 1'000'000;  // devices, mailboxes, AORs each
inline constexpr double kMaxRate = 1'000'000.0;       // changes per second
inline constexpr double kMaxGeneratedChanges = 10'000'000.0;
inline constexpr double kMaxCalls = 10'000'000.0;  // calls in one scenario
inline constexpr Duration kMaxNetworkDelay = 10s;

// Where a value was written (1-based), for reports that point back at the file; 0 when unknown.
struct SourcePos {
  int line = 0;
  int column = 0;
  friend bool operator==(const SourcePos&, const SourcePos&) = default;
};

enum class TransportMode {
  kBroadcast,  // one LAN broadcast per frame; only within one LAN (it does not cross routers)
  kMulticast,  // one IP multicast per frame; the world routes it between sites
  kUnicast,    // one unicast copy per peer (Maelstrom's network, Corosync knet)
};
std::string_view TransportModeName(TransportMode mode);

// What a LAN or link does to single frames beyond losing them: deliver some twice, hold some
// back so later ones overtake them. Honoured by the inproc backend; ns-3 and netns refuse a
// scenario that asks for either (scenarios/README.md, "Backends").
struct FrameFaults {
  double duplicate = 0.0;                    // fraction of frames delivered twice, 0..1
  double reorder = 0.0;                      // fraction of frames held back by reorder_delay, 0..1
  Duration reorder_delay = 20ms;             // on top of the frame's delay
  SourcePos pos;                             // where a duplicate or reorder key was written
  bool any() const { return duplicate > 0 || reorder > 0; }
  friend bool operator==(const FrameFaults&, const FrameFaults&) = default;
};

// One site's LAN: every frame between two nodes of the site crosses it.
struct LanParams {
  Duration delay = 100us;
  std::uint64_t bandwidth_bps = 1'000'000'000;
  double loss = 0.0;  // fraction of frames lost, 0..1
  FrameFaults frames;
  friend bool operator==(const LanParams&, const LanParams&) = default;
};

// The path between two sites' LANs. Jitter adds a uniform [-jitter, +jitter] to the delay per
// frame (jitter <= delay), as tc netem does.
struct LinkParams {
  Duration delay = 20ms;
  Duration jitter = 0ms;
  double loss = 0.0;
  std::uint64_t bandwidth_bps = 100'000'000;
  FrameFaults frames;
  friend bool operator==(const LinkParams&, const LinkParams&) = default;
};

struct Site {
  std::string name;  // empty in the one-LAN form
  std::uint32_t node_count = 0;
  NodeId first_node = 1;  // the site holds first_node .. first_node + node_count - 1
  LanParams lan;
  SourcePos pos;
  friend bool operator==(const Site&, const Site&) = default;
};

// Sites are indices into Topology::sites; a < b.
struct SiteLink {
  std::size_t a = 0;
  std::size_t b = 0;
  LinkParams params;
  friend bool operator==(const SiteLink&, const SiteLink&) = default;
};

struct Topology {
  bool named_sites = false;    // false: the one-LAN form, a single unnamed site
  std::vector<Site> sites;     // never empty after loading
  std::vector<SiteLink> links; // one per pair of sites, ordered by (a, b); empty with one site

  std::uint32_t node_count() const;
  // Index of the site holding `node`; `node` must be in 1..node_count().
  std::size_t SiteOf(NodeId node) const;
  // The link between two different sites, in either order; nullptr when a == b or out of range.
  const SiteLink* FindLink(std::size_t a, std::size_t b) const;
  // Index of the site called `name`, or nullopt.
  std::optional<std::size_t> FindSite(std::string_view name) const;
  friend bool operator==(const Topology&, const Topology&) = default;
};

// --- workload ---

// How generated keys get their home node, the node that makes their changes.
enum class Spread {
  kEven,    // key i (0-based) lives on workload.nodes[i % nodes.size()]
  kRandom,  // each key's home is drawn uniformly from workload.nodes with the scenario's seed
};

// Shares of generated changes by kind; they sum to 1.
struct Mix {
  double device = 1.0;
  double mwi = 0.0;
  double registration = 0.0;
  friend bool operator==(const Mix&, const Mix&) = default;
};

// Device-state changes at `rate_per_s` across `nodes` (all nodes when empty) from `at` for
// `length`, on top of the steady workload. Nodes that are crashed make no changes.
struct CallStorm {
  Duration length{};
  double rate_per_s = 0;
  std::vector<NodeId> nodes;
  friend bool operator==(const CallStorm&, const CallStorm&) = default;
};

// `node` re-registers AORs homed on it at `rate_per_s`: `count` of them, or all when 0.
struct RegistrationStorm {
  NodeId node = kNoNode;
  double rate_per_s = 0;
  std::uint32_t count = 0;
  friend bool operator==(const RegistrationStorm&, const RegistrationStorm&) = default;
};

struct Burst {
  Duration at{};
  std::variant<CallStorm, RegistrationStorm> what;
  SourcePos pos;
  friend bool operator==(const Burst&, const Burst&) = default;
};

struct DeviceChange {
  std::string device;  // "Custom:mystate", "PJSIP/alice"
  DeviceState state = DeviceState::kNotInUse;
  friend bool operator==(const DeviceChange&, const DeviceChange&) = default;
};
struct MailboxChange {
  std::string mailbox;  // "1000@default"
  MailboxCounts counts;
  friend bool operator==(const MailboxChange&, const MailboxChange&) = default;
};
struct RegistrationSet {
  std::string aor;
  std::string contact;
  Duration expires{};  // from the moment of the change
  ContactStatus status = ContactStatus::kReachable;
  friend bool operator==(const RegistrationSet&, const RegistrationSet&) = default;
};
struct RegistrationRemove {
  std::string aor;
  std::string contact;  // the contact removed; empty: every contact the node holds for the AOR
  friend bool operator==(const RegistrationRemove&, const RegistrationRemove&) = default;
};

// One explicit change, made by `node` at `at`.
struct TimedChange {
  Duration at{};
  NodeId node = kNoNode;
  std::variant<DeviceChange, MailboxChange, RegistrationSet, RegistrationRemove> what;
  SourcePos pos;
  friend bool operator==(const TimedChange&, const TimedChange&) = default;
};

// Registration churn over the generated AORs (scenarios/README.md, "churn"): every AOR
// registers at its home once, evenly spread over [0, register_over); then, in
// [workload.start, workload.stop), phones picked at random refresh where they are registered,
// move to another server (register there, then leave the old one at the same instant), or
// lapse (register once more with lapse_expiry and then stop refreshing), each at its rate. A
// phone whose server crashed, or that lapsed, registers again at its home when picked.
struct Churn {
  Duration register_over = 2s;
  double refresh_per_s = 0;
  double move_per_s = 0;
  double lapse_per_s = 0;
  Duration lapse_expiry = 10s;
  SourcePos pos;
  friend bool operator==(const Churn&, const Churn&) = default;
};

// Names coming and going (scenarios/README.md, "name_churn"): devices provisioned and
// deprovisioned, phones that register under a fresh AOR once and let it expire. Steps are evenly
// spaced in [workload.start, workload.stop), `rate_per_s` for the whole cluster. A step is a
// registration of a fresh AOR (ChurnedAorName, the next index) with `registration_expiry` with
// the share `registrations`; otherwise a device step over a bounded set of live device names
// drawn from a growing name space (ChurnedDeviceName, the next index): with the share `remove`
// (when a name is live) a live name drawn with the seed is removed at its home
// (Engine::RemoveDevice); else, while fewer than `devices` names are live, a fresh name is set
// at its home; else a live name drawn with the seed takes a new state. A fresh name's home is the
// first server up from its spread home (workload.spread, workload.nodes); a step whose home is
// down is not made (a removal still ends the name: the crash ended its contribution).
// With the share `mailbox_steps`, a step is a mailbox step instead, over a bounded set of live
// mailbox names (ChurnedMailboxName, the next index) drawn the same way: with the share `remove`
// a live one is removed at its home (Engine::RemoveMailbox, a write without counts that wins by
// HLC), else a fresh one is written, else a live one gets new counts. Every write and removal of
// a churned mailbox is made at its home, so they are ordered by that node's clock alone; a step
// whose home is down is not made (a removal then leaves the name live: a mailbox outlives its
// writer's crash).
struct NameChurn {
  double rate_per_s = 0;
  std::uint32_t devices = 0;   // live churned device names at most
  double remove = 0.25;        // share of device and mailbox steps that remove a live name
  double registrations = 0;    // share of steps that register a fresh AOR
  std::uint32_t mailboxes = 0;  // live churned mailbox names at most
  double mailbox_steps = 0;     // share of steps that are mailbox steps
  Duration registration_expiry = 60s;
  SourcePos pos;
  friend bool operator==(const NameChurn&, const NameChurn&) = default;
};

// Generated keys are named by GeneratedDeviceName() and friends, indices from 0.
struct Workload {
  std::uint32_t devices = 0;
  std::uint32_t mailboxes = 0;
  std::uint32_t aors = 0;
  Spread spread = Spread::kEven;
  std::vector<NodeId> nodes;  // homes of generated keys; after loading, all nodes when unset
  double rate_per_s = 0;      // steady generated changes, whole cluster
  Duration start{};           // steady changes happen in [start, stop)
  Duration stop{};            // after loading: the scenario's duration when unset
  Mix mix;
  // States a generated device change picks from, uniformly.
  std::vector<DeviceState> device_states{DeviceState::kNotInUse, DeviceState::kInUse,
                                         DeviceState::kRinging, DeviceState::kOnHold,
                                         DeviceState::kBusy};
  Duration registration_expiry = 3600s;  // expiry of generated registrations
  // Every generated mailbox written once at its home, evenly over [0, mailbox_fill): the
  // initial set a heal's repair is measured against. Unset: no such writes.
  std::optional<Duration> mailbox_fill;
  SourcePos mailbox_fill_pos;            // where mailbox_fill is written
  std::vector<Burst> bursts;             // in time order
  std::vector<TimedChange> changes;      // in time order (stable for equal times)
  std::optional<Churn> churn;            // owns the AORs' registrations when set
  std::optional<NameChurn> name_churn;   // names of their own, apart from the generated keys
  friend bool operator==(const Workload&, const Workload&) = default;
};

// --- calls ---

// How a server routes a call for a phone it does not hold itself.
enum class RoutingStrategy : std::uint8_t {
  // Hand the call to the next server in node order (wrapping), which tries locally and does the
  // same; a hop limit carried with the call stops it: the classic two-node recipe for N nodes.
  kBlindPeer = 0,
  // Ask this server's view (Engine::Locate) and send the call straight to the holder; fall back
  // to kBlindPeer when the view has no reachable answer.
  kLocation = 1,
};
inline constexpr int kRoutingStrategyCount = 2;
std::string_view RoutingStrategyName(RoutingStrategy strategy);  // "blind-peer", "location"
std::string_view RoutingStrategyMetricName(RoutingStrategy strategy);  // "blind_peer", "location"

struct CallBurst {
  Duration at{};
  Duration length{};
  double rate_per_s = 0;
  SourcePos pos;
  friend bool operator==(const CallBurst&, const CallBurst&) = default;
};

// Calls for generated AORs arrive at entry servers, evenly spaced, each for an AOR drawn with
// the scenario's seed, and are routed by every listed strategy (each strategy sees the same
// calls; routing changes no state, so they do not disturb each other).
struct Calls {
  double rate_per_s = 0;
  Duration start{};
  Duration stop{};             // after loading: the scenario's duration when unset
  std::vector<NodeId> nodes;   // entry servers, in turn; after loading: all nodes when unset
  std::vector<CallBurst> bursts;  // in time order
  std::vector<RoutingStrategy> strategies{RoutingStrategy::kBlindPeer, RoutingStrategy::kLocation};
  std::uint32_t hop_limit = 0;  // hops a call may take; after loading: nodes - 1 when unset
  SourcePos pos;
  friend bool operator==(const Calls&, const Calls&) = default;
};

std::string GeneratedDeviceName(std::uint32_t index);   // "PJSIP/dev0"
std::string GeneratedMailboxName(std::uint32_t index);  // "mbox0@default"
std::string GeneratedAorName(std::uint32_t index);      // "aor0"
std::string ChurnedDeviceName(std::uint64_t index);     // "PJSIP/churn0" (NameChurn)
std::string ChurnedAorName(std::uint64_t index);        // "churn0" (NameChurn)
std::string ChurnedMailboxName(std::uint64_t index);    // "churn0@churn" (NameChurn)

// The cluster key of a run with cluster.auth: kClusterKeyBytes bytes drawn from `seed` (a
// SplitMix64 stream), so that a run is replayable from its seed. Not a secret: for simulated and
// namespace runs only; a real cluster uses `pbxstate keygen`.
std::string ScenarioClusterKey(std::uint64_t seed);

// --- faults ---

// Cuts the network between sides. `sides` covers every node exactly once: the groups as
// written, then (when the groups leave nodes out) one more side holding the rest. Without
// one_way, frames cross between no two sides; with one_way (exactly two sides), frames from
// sides[0] to sides[1] are dropped and frames the other way pass. A partition replaces any
// partition or isolation in force.
struct Partition {
  std::vector<std::vector<NodeId>> sides;
  bool one_way = false;
  friend bool operator==(const Partition&, const Partition&) = default;
};
// Ends the partition or isolation in force.
struct Heal {
  friend bool operator==(const Heal&, const Heal&) = default;
};
// Cuts `node` off from every other node (a partition {node} | rest).
struct Isolate {
  NodeId node = kNoNode;
  friend bool operator==(const Isolate&, const Isolate&) = default;
};
// The node stops at once: no frames, no timers, state lost.
struct Crash {
  NodeId node = kNoNode;
  friend bool operator==(const Crash&, const Crash&) = default;
};
// A crashed node starts again with a new incarnation and empty state.
struct Restart {
  NodeId node = kNoNode;
  friend bool operator==(const Restart&, const Restart&) = default;
};

// A site's LAN (site index; 0 in the one-LAN form) or the link between two sites.
struct NetworkTarget {
  enum class Kind { kLan, kLink };
  Kind kind = Kind::kLan;
  std::size_t site = 0;   // kLan
  std::size_t a = 0, b = 0;  // kLink, a < b
  friend bool operator==(const NetworkTarget&, const NetworkTarget&) = default;
};
// Replaces the target's configured parameters with the ones given (the rest keep their
// configured values; a degrade does not add to an earlier one) until a Restore.
struct Degrade {
  NetworkTarget target;
  std::optional<Duration> delay;
  std::optional<Duration> jitter;  // links only
  std::optional<double> loss;
  std::optional<std::uint64_t> bandwidth_bps;
  std::optional<double> duplicate;        // FrameFaults, as above
  std::optional<double> reorder;
  std::optional<Duration> reorder_delay;
  bool frame_faults() const { return duplicate.value_or(0) > 0 || reorder.value_or(0) > 0; }
  friend bool operator==(const Degrade&, const Degrade&) = default;
};
// The target's configured parameters again.
struct Restore {
  NetworkTarget target;
  friend bool operator==(const Restore&, const Restore&) = default;
};

struct Fault {
  Duration at{};
  std::variant<Partition, Heal, Isolate, Degrade, Restore, Crash, Restart> what;
  SourcePos pos;
  friend bool operator==(const Fault&, const Fault&) = default;
};
// A fault's action as a scenario writes it, in the order of Fault::what's alternatives: the keys
// the loader reads and the kinds of run.json's fault windows (harness/fault_windows.h).
inline constexpr std::string_view kFaultActions[] = {"partition", "heal",  "isolate", "degrade",
                                                     "restore",   "crash", "restart"};
static_assert(std::size(kFaultActions) == std::variant_size_v<decltype(Fault::what)>);
inline std::string_view FaultAction(const Fault& f) { return kFaultActions[f.what.index()]; }

// --- membership ---

// How the nodes learn who is in the cluster (cluster.membership and friends).
enum class ViewModel {
  // Like Corosync's totem: the nodes that reach each other both ways form disjoint groups, each
  // member of a group has the same view, and frames do not cross a view's boundary.
  kConsistent,
  // Each node's view is every node it reaches both ways; views need not agree, and frames travel
  // wherever the links let them (harsher than CPG).
  kPerNode,
};

struct Membership {
  // The engines' source; unset: the backend's own (scenarios/README.md, "cluster": membership).
  std::optional<MembershipSource> source;
  // With kTransport: how views are formed, and how long after a change of the network a node
  // gets its new view. Defaults are what CPG does: consistent, at once.
  ViewModel views = ViewModel::kConsistent;
  Duration view_delay{};
  SourcePos pos;  // where cluster.membership was written; 0 when it was not
  friend bool operator==(const Membership&, const Membership&) = default;
};

// `memory:`: the engines' memory (EngineStats::held_bytes) sampled per node over the run, and
// the sample memory_growth_pct measures growth from (scenarios/README.md, "Engine
// memory"). Runners sample every `sample_every` (whole seconds) and at the end.
struct MemorySampling {
  Duration sample_every{60s};
  Duration baseline{};  // a multiple of sample_every, within the active phase
  SourcePos pos;        // where memory: was written
  friend bool operator==(const MemorySampling&, const MemorySampling&) = default;
};
// Samples per node a scenario may ask for: the run's end over sample_every.
inline constexpr std::int64_t kMaxMemorySamplesPerNode = 10'000;

// --- the scenario ---

struct Scenario {
  std::string file;  // where it was loaded from ("<string>" for text)
  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  // Active phase [0, duration]: workload and faults. Then a quiet phase of `quiet` with
  // neither (faults in force stay in force), then the final check at duration + quiet. The quiet
  // phase may be written "detection + <duration>" (detection.h): the time the cluster is given to
  // agree then covers the run's membership noticing the last fault, on every backend. Fault
  // times and `duration` stay absolute: the loader checks the timeline against them, and one
  // file must describe one order of events whatever runs it.
  Duration duration{};
  DetectionRelative quiet{10s};
  // The failure-detection time of the membership the scenario is being run with (DetectionTime),
  // set by the runner before the run starts; unset in a loaded scenario. What "detection" in
  // `quiet` and in the checks stands for.
  std::optional<Duration> detection;
  Topology topology;
  // cluster.auth: every node gets the same cluster key (engine/README.md "Authentication"),
  // ScenarioClusterKey(seed) of the run's seed; the backends put it in EngineConfig::cluster_keys
  // (ns-3) or in a key file per node (netns). false: frames are unauthenticated.
  bool auth = false;
  Membership membership;
  TransportMode transport = TransportMode::kMulticast;
  // Settings every node starts with. node_id, incarnation, label and membership are left at
  // their defaults: the world sets them per node. node_sites is left empty: the topology is the
  // one definition of which node is at which site, and EngineConfigOf (below) derives it.
  EngineConfig engine;
  // Where each engine setting was written, by its key in the file ("max_frame_bytes"), so that
  // a backend refusing a value the engine accepts can point at it; EnginePos gives {0, 0} for
  // a setting left at its default.
  std::map<std::string, SourcePos, std::less<>> engine_pos;
  SourcePos EnginePos(std::string_view key) const;
  // The `corosync:` section (corosync.h). Set: the ns-3 backend runs the engines over its
  // Corosync model; the netns backend's corosync.conf takes it. Unset: ns-3 runs UDP with the
  // engines' heartbeats, netns runs corosync with Corosync's defaults.
  std::optional<CorosyncSettings> corosync;
  Workload workload;
  std::optional<Calls> calls;
  std::vector<Fault> faults;  // in time order (stable for equal times)
  std::vector<Check> checks;
  std::optional<MemorySampling> memory;  // unset: the engines' memory is not sampled

  // The quiet phase's length: `quiet` resolved with `detection`. A quiet phase written with
  // "detection" needs `detection` set (checked: a loaded scenario has no end until a runner says
  // which membership runs it).
  Duration Quiet() const;
  Duration end() const { return duration + Quiet(); }
};

// What tells a run's engines that a node went silent, as far as how long that takes.
enum class Detector {
  kHeartbeat,  // the engines' own detector: engine.suspect_after
  kCorosync,   // Corosync (real, or the ns-3 model): token loss, then consensus
  kViewDelay,  // the inproc backend's views: cluster.view_delay after the network changed
};

// How long `detector` takes, in `s`, from a node falling silent to the others' new membership:
// the `detection` of a check's value ("convergence.after_heal.max < detection + 2s"). Heartbeat:
// suspect_after. Corosync: the effective token plus consensus that Corosync derives from the
// scenario's corosync: section (its defaults without one) for the scenario's node count
// (totem::DeriveTimeouts). View delay: cluster.view_delay. The one definition every runner
// resolves checks with (harness::EvaluateChecks).
Duration DetectionTime(const Scenario& s, Detector detector);

// The settings every node's engine starts with: `s.engine` with node_sites, every node's site
// index, from `s.topology`. What every runner hands its engines (and the loader validates), so
// that a scenario built in code (the swarm's generator, the shrinker's edits) and the same
// scenario written and read back run the same engines.
EngineConfig EngineConfigOf(const Scenario& s);

}  // namespace pbxstate::scenario
