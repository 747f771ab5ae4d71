// Private to the scenario loader: the Loader, which reads one parsed YAML tree into a Scenario,
// and what its files share. Before it: text_file.cc reads the file (bounded), yaml_text.cc
// checks the text (UTF-8, utf8.cc) and parses its one document. Then each file holds one
// section of a scenario file:
//   loader.cc           LoadScenarioString/File, the top level (Root)
//   loader_fields.cc    values several sections use: nodes, node sets, times, keys, states
//   loader_cluster.cc   cluster: and network: (sites, LANs, WAN links)
//   loader_engine.cc    engine: and the checks of the engine settings against the rest
//   loader_workload.cc  workload: (counts, mix, device states, bursts, churn) and its totals
//   loader_changes.cc   workload.changes: one timed change of a device, mailbox or AOR
//   loader_calls.cc     calls: and its checks against workload and duration
//   loader_faults.cc    faults: one timed fault each
//   loader_checks.cc    checks: and whether each check's metric will have samples
//   loader_timeline.cc  across sections: time order, the fault timeline, crashed nodes
//   loader_corosync.cc  corosync: the totem settings and what a crash kills
//
// Reading (Read*) records type and range errors as it goes and fills the Scenario; it also
// remembers where things were written. The checks that relate sections to each other (Check*)
// run only on a file without errors so far, from Root, in a fixed order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/scenario.h"
#include "reader.h"

namespace pbxstate::scenario::detail {

using namespace std::chrono_literals;

inline constexpr Duration kMaxExpiry = 720h;  // 30 days: beyond any SIP registration
inline constexpr std::uint32_t kMaxMessages = 1'000'000;
inline constexpr std::uint64_t kMinBandwidth = 1'000;            // 1kbps
inline constexpr std::uint64_t kMaxBandwidth = 100'000'000'000;  // 100Gbps

// "expected a device state (...)": the list of names a device state may be written as.
inline constexpr std::string_view kExpectedDeviceState =
    "expected a device state (NOT_INUSE, INUSE, BUSY, RINGING, RINGINUSE, ONHOLD, UNAVAILABLE, "
    "INVALID, UNKNOWN), got ";

// Where `f` was written, 1-based.
SourcePos PosOf(const Field& f);
// A plain (unquoted) scalar of at most 9 decimal digits.
bool IsPlainUint(const YAML::Node& n, std::uint64_t* out);
// Letters, digits, '_', '-' and, when allow_dot, '.'.
bool IsNameChar(char c, bool allow_dot);
// What keeps `s` from being a key name (device, mailbox, AOR) or a contact: names are UTF-8 in
// any script, not empty, without spaces or control characters (utf8.h says which).
struct KeyTextFault {
  enum class Kind { kNone, kEmpty, kSpace, kControl };
  Kind kind = Kind::kNone;
  char32_t character = 0;  // kSpace, kControl: the first one
  std::size_t byte = 0;    // its offset in `s`
};
KeyTextFault FindKeyTextFault(std::string_view s);
// Asterisk's name of a device state, any case; nullopt for anything else (a non-scalar too).
std::optional<DeviceState> ParseDeviceStateName(const YAML::Node& n);

class Loader {
 public:
  Loader(Diagnostics& d, std::string_view source, Scenario& s) : d_(d), source_(source), s_(s) {}

  // Reads the whole tree into the scenario, then (without errors so far) the cross checks.
  void Root(const Field& root);

 private:
  void ReadName(MapReader& m);
  // quiet: a duration, or "detection + <duration>" (detection.h).
  void ReadQuiet(const Field& f);
  void ReadMemory(const Field& f);

  // loader_cluster.cc
  void ReadCluster(const Field& f);
  void ReadOneLan(const Field& nodes);
  void ReadSites(const Field& sites);
  // One item of cluster.sites, appended to the topology unless it is not a mapping; adds its
  // nodes to `total`. False (errors recorded) when anything in it is wrong.
  bool ReadSite(const Field& item, std::map<std::string, int>& seen, std::uint64_t& total);
  // The name of a site; `seen` maps the names so far to their lines.
  std::optional<std::string> ReadSiteLabel(MapReader& sm, std::map<std::string, int>& seen);
  void ReadNetwork(const std::optional<Field>& f);
  // Type-checks network.sites and network.links when there is no cluster to attach them to.
  void CheckNetworkWithoutCluster(MapReader& m, const LanParams& lan_default,
                                  const LinkParams& wan_default);
  void ReadSiteLans(const Field& f, const LanParams& lan_default);
  void ReadLinks(const Field& f, const LinkParams& wan_default);
  std::optional<std::pair<std::size_t, std::size_t>> ReadLinkEnds(
      const Field& between, std::map<std::pair<std::size_t, std::size_t>, int>& seen);
  std::optional<LanParams> ReadLan(const Field& f, const LanParams& base);
  std::optional<LinkParams> ReadLinkParams(MapReader& m, const LinkParams& base);
  // duplicate, reorder, reorder_delay of a LAN or link mapping into `f` (kFrameFaultKeys).
  bool ReadFrameFaults(MapReader& m, FrameFaults& f);
  // cluster.membership, views, view_delay.
  void ReadMembership(MapReader& m);
  // The index of the site `end` names; nullopt after "expected a site name".
  std::optional<std::size_t> ReadSiteName(const Field& end);
  // Broadcast does not cross sites.
  void CheckTransport();

  // loader_engine.cc
  void ReadEngine(const Field& f);
  void CheckEngine();
  // Keys, contacts and expiries against the engine's bounds on them.
  void CheckKeyLengths();
  // EngineConfig::Validate, for every node's config as the runners build it (node id, an
  // incarnation, the cluster key with cluster.auth); an error points at the setting it names.
  void CheckEngineValidates();
  // The error for a frame too small for one record: the smallest max_frame_bytes that fits.
  void ReportFrameTooSmall(const EngineConfig& probe);
  // Where engine.<key> was written; the engine section (or the file's start) when it was not.
  Field EngineField(std::string_view key) const;

  // loader_workload.cc
  void ReadWorkload(const Field& f);
  void ReadMix(const Field& f);
  void ReadDeviceStates(const Field& f);
  void ReadChurn(const Field& f);
  std::optional<Burst> ReadBurst(const Field& f);
  std::optional<CallStorm> ReadCallStorm(const Field& f, Duration at, bool& ok);
  std::optional<RegistrationStorm> ReadRegistrationStorm(const Field& f, bool& ok);
  void CheckWorkload();
  // The steady rate: start before stop, and keys for every kind of change the mix makes.
  void CheckSteadyRate();
  void CheckMailboxFill();
  // Where workload.<key> was written; the workload section (or its place) when it was not.
  Field WorkloadField(const char* key) const;
  void CheckChurn();

  // loader_name_churn.cc
  void ReadNameChurn(const Field& f);
  // Start before stop for its steps; adds its steps to `total_changes` (the generated bound).
  void CheckNameChurn(double* total_changes);
  // The longest name the workload generates (its last device, mailbox and AOR; the name churn's
  // last possible index) against engine.max_key_bytes: a name the engines would refuse.
  void CheckGeneratedKeyLengths();

  // loader_changes.cc
  std::optional<TimedChange> ReadChange(const Field& f);
  bool ReadDeviceChange(MapReader& m, TimedChange& c);
  bool ReadMailboxChange(MapReader& m, TimedChange& c);
  bool ReadRegistrationRemove(MapReader& m, TimedChange& c);
  bool ReadRegistrationSet(MapReader& m, TimedChange& c);
  // A contact URI field (sip: or sips:, no spaces, within the contact bound).
  std::optional<std::string> ReadContact(const Field& v);

  // loader_calls.cc
  void ReadCalls(const Field& f);
  bool ReadCallBursts(const Field& f, Calls& c);
  std::optional<CallBurst> ReadCallBurst(const Field& item, const Calls& c);
  bool ReadStrategies(const Field& f, Calls& c);
  void CheckCalls();

  // loader_faults.cc
  void ReadFaults(const Field& f);
  std::optional<Fault> ReadFault(const Field& f);
  // The one action key of a fault; nullptr (error recorded) when there is none or several.
  const MapReader::Entry* FindAction(MapReader& m, const Field& f);
  // Each reads one kind of action from its value `v` into `fault`. `ok` says whether the fault
  // is free of errors so far (checks that would only echo an earlier error are skipped); each
  // returns whether it still is.
  bool ReadPartition(MapReader& m, const Field& v, bool ok, Fault& fault);
  bool ReadNoValueAction(const std::string& action, const Field& v, bool ok, Fault& fault);
  bool ReadNodeAction(const std::string& action, const Field& v, bool ok, Fault& fault);
  bool ReadDegrade(const Field& v, bool ok, Fault& fault);
  bool ReadRestoreTarget(const Field& v, bool ok, Fault& fault);
  // The jitter a degrade leaves on its link is no larger than the delay it leaves.
  bool CheckDegradeJitter(const Field& v, const NetworkTarget& target, const Degrade& dg);
  std::optional<NetworkTarget> ReadTarget(MapReader& m, const Field& where);
  std::optional<NetworkTarget> ReadLinkTarget(const Field& link);

  // loader_checks.cc
  void ReadChecks(const Field& f);
  // One check written {check: ..., backends: [...]}: the `check` field (its text not yet read),
  // with the backends it names appended to `backends`; nullopt after recording every error.
  std::optional<Field> ReadCheckWithBackends(const Field& item, std::vector<std::string>* backends);
  void CheckChecks();

  // loader_corosync.cc
  void ReadCorosync(const Field& f);
  // A duration of whole milliseconds (corosync.conf's unit) from lo to hi.
  std::optional<Duration> ReadMilliseconds(const Field& f, Duration lo, Duration hi);
  // Corosync's own rules (totem::TotemConfig::Validate) for this cluster's node count.
  void CheckCorosync();
  // cluster.membership against the section's `ns3:`: on ns-3 transport membership is the
  // Corosync model's views and `ns3: heartbeats` turns the model off, so the two must agree.
  void CheckNs3Membership();

  // loader_timeline.cc
  // A node's crash, from a crash fault until its restart.
  struct Down {
    NodeId node;
    Duration from;
    Duration until;     // Duration::max() while not restarted
    std::size_t fault;  // the crash's index in faults
  };
  void CheckTimeOrder(const std::vector<Field>& at_fields, std::string_view list);
  void CheckTimeline();
  // Each fault against what the faults before it left in force; returns the crash intervals.
  std::vector<Down> CheckFaultSequence();
  // Changes and registration storms made by a node while it is crashed.
  void CheckCrashedNodes(const std::vector<Down>& downs);

  // loader_fields.cc
  std::optional<NodeId> ReadNode(const Field& f);
  // A list of nodes: numbers, ranges "A..B" and site names. `taken` records nodes already
  // used by sibling lists (partition groups must be disjoint); may be null.
  std::optional<std::vector<NodeId>> ReadNodeSet(const Field& f, std::string_view what,
                                                 std::map<NodeId, std::string>* taken);
  // The nodes one item of a node set names; nullopt when it names none validly.
  std::optional<std::vector<NodeId>> ReadNodeSetItem(const Field& item, std::uint64_t hi);
  // A time within the scenario's duration.
  std::optional<Duration> ReadTime(const Field& f);
  // A device, mailbox or AOR name; remembered for the check against engine.max_key_bytes.
  std::optional<std::string> ReadKey(const Field& f, std::string_view what);
  // Records "expected <what> without spaces (or control characters), got ..." and returns false
  // when `text` (the value of `f`) is not key text.
  bool CheckKeyText(const Field& f, std::string_view text, std::string_view what);

  Diagnostics& d_;
  std::string_view source_;
  Scenario& s_;

  bool duration_ok_ = false;
  bool cluster_ok_ = false;
  std::uint32_t node_count_ = 0;

  // Where things were written, for the cross-section checks that run after everything parsed.
  std::optional<Field> transport_field_;
  std::map<std::string, Field, std::less<>> engine_fields_;
  std::optional<Field> engine_field_, auth_field_;
  std::optional<Field> corosync_field_, membership_field_;
  std::map<std::string, Field> corosync_fields_;
  std::map<std::string, Field> workload_fields_;
  std::vector<Field> fault_fields_, fault_at_fields_;  // the action's value, its time
  Field fault_action_field_;  // of the fault ReadFault is reading
  std::vector<Field> burst_fields_, burst_at_fields_;
  std::vector<Field> change_at_fields_, change_node_fields_;
  // Per burst: a registration storm's node and count fields; empty otherwise.
  std::vector<Field> burst_node_fields_, burst_count_fields_;
  std::vector<Field> check_fields_;
  std::optional<Field> churn_field_, name_churn_field_, calls_field_;
  std::map<std::string, Field> calls_fields_;
  std::vector<Field> call_burst_fields_;
  struct KeyUse {
    Field field;
    std::size_t bytes;
    std::string what;
  };
  std::vector<KeyUse> key_uses_, contact_uses_;
  std::vector<std::pair<Field, Duration>> expiry_uses_;
};

}  // namespace pbxstate::scenario::detail
