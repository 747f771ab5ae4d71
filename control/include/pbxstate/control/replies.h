// Replies of pbxstated's control protocol (daemon/CONTROL.md, "Requests"): one type per kind of
// answer, encoded by the daemon and decoded by clients with the same code. A response line is
// {"ok": true, ...the reply's fields} or {"ok": false, "code", "error"}.
//
// Decoding is strict: every field CONTROL.md lists must be present with its type, so a daemon and
// a client that drifted apart fail loudly with the field named, never with a silent default.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "pbxstate/control/protocol.h"
#include "pbxstate/engine.h"
#include "pbxstate/stats.h"
#include "pbxstate/types.h"

namespace pbxstate::control {

// hello
struct HelloReply {
  NodeId node = kNoNode;
  std::string label;
  std::uint64_t incarnation = 0;
  std::int64_t pid = 0;
  std::string group;
  std::vector<NodeId> members;  // the engine's live set
  std::uint64_t view_id = 0;
  bool authenticated = false;   // frames carry a MAC under the cluster key
};

// set_device, remove_device, set_mailbox, remove_mailbox, register, unregister, remove_contact, subscribe,
// generate, watch: when it was done.
struct TimeReply {
  std::int64_t t_mono_ns = 0;  // host CLOCK_MONOTONIC
};

// device
struct DeviceReply {
  std::optional<DeviceState> aggregate;
  std::vector<DeviceContribution> contributions;
};

// locate: where the AOR can be reached from this node's view, best first (Engine::Locate).
struct LocateReply {
  std::vector<Location> locations;  // expires: the engine's WallTime (Unix ns)
  // user_agents[i] is the User-Agent locations[i]'s contact registered with ("" when none): the
  // engine's Location carries the path but not the user agent, so the daemon reads it from the
  // same contact's RegistrationInfo (Engine::Registrations). Empty or of locations' size.
  std::vector<std::string> user_agents;
};

// members
struct MembersReply {
  std::vector<NodeId> members;       // the engine's live set
  std::uint64_t view_id = 0;
  std::vector<NodeId> view_members;  // the transport's current CPG view
};

// stats.transport: the CPG transport's state and counters (meanings: transports/corosync/README.md).
struct TransportStats {
  std::string group;
  bool connected = false;
  std::uint64_t view_id = 0;
  std::vector<NodeId> view_members;
  std::uint64_t ring_id_node = 0;  // ring_id: [node, seq]
  std::uint64_t ring_id_seq = 0;
  std::uint64_t broadcasts_sent = 0, unicasts_sent = 0, bytes_sent = 0, envelope_bytes_sent = 0;
  std::uint64_t try_again = 0, queued = 0, queue_full = 0;
  std::uint64_t queue_frames = 0, queue_bytes = 0, queue_max_frames = 0, queue_max_bytes = 0, queue_peak_frames = 0;
  std::uint64_t too_large = 0, unreachable = 0, dropped_disconnected = 0;
  std::uint64_t messages_received = 0, bytes_received = 0, own_messages = 0, frames_delivered = 0;
  std::uint64_t unicast_not_for_us = 0, unicast_not_for_us_bytes = 0, envelope_errors = 0;
  std::uint64_t from_ignored_member = 0, duplicate_members = 0;
  std::uint64_t confchgs = 0, totem_confchgs = 0, views = 0;
  std::uint64_t connects = 0, reconnects = 0, connect_failures = 0, disconnects = 0;
  std::uint64_t wakeups = 0, frames_before_attach = 0, random_seed = 0;
};
struct TransportStatField {
  std::string_view name;  // the JSON key
  std::uint64_t TransportStats::*member;
};
// Every counter of TransportStats (group, connected, view_id, view_members and ring_id are not
// counters and are not here), in CONTROL.md's order.
std::span<const TransportStatField> TransportStatFields();

// stats.daemon: the control server's counters.
struct DaemonStats {
  std::uint64_t control_connections = 0;  // open now
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // beyond kMaxControlConnections
  std::uint64_t requests = 0;
  std::uint64_t lines_too_long = 0;
  std::uint64_t subscribers = 0;          // open now
  std::uint64_t subscribers_dropped = 0;  // fell kMaxSubscriberBufferBytes behind
  std::uint64_t events_published = 0;     // event lines queued (once per subscriber)
};
struct DaemonStatField {
  std::string_view name;
  std::uint64_t DaemonStats::*member;
};
std::span<const DaemonStatField> DaemonStatFields();

// stats: `engine` is every EngineStats counter by its EngineStatFields() name, `dropped` by
// DropReasonName, and `total_dropped`.
struct StatsReply {
  EngineStats engine;
  TransportStats transport;
  DaemonStats daemon;
};

// dump
struct DumpReply {
  struct Device {
    std::string name;
    std::optional<DeviceState> aggregate;
    std::vector<DeviceContribution> contributions;
  };
  struct Mailbox {
    std::string name;  // box@context
    MailboxValue value;
  };
  struct Registration {
    std::string aor;
    RegistrationView view;  // view.info.expires: the engine's WallTime (Unix ns)
  };
  NodeId node = kNoNode;
  std::uint64_t incarnation = 0;
  // The view is as of one instant of [as_of_from_unix_ns, as_of_to_unix_ns] (the engine's
  // WallTime, Unix ns): the daemon read the clock, had its engine do what was due (registrations
  // expiring: Engine::OnTimer), listed the view, and read the clock again. A registration
  // expiring inside the interval may or may not be listed; none expiring before it is.
  std::int64_t as_of_from_unix_ns = 0;
  std::int64_t as_of_to_unix_ns = 0;
  ViewDigest digest;
  std::vector<Device> devices;
  std::vector<Mailbox> mailboxes;
  std::vector<Registration> registrations;
};

// set_keys
struct KeysReply {
  bool authenticated = false;
};

// stop
struct StopReply {};

// generate_result
enum class GenerateOutcome : std::uint8_t { kNone, kRunning, kDone, kTimedOut, kRefused };
std::string_view GenerateOutcomeName(GenerateOutcome outcome);  // none, running, done, timed_out, refused

struct GenerateReport {
  GenerateOutcome outcome = GenerateOutcome::kNone;
  std::string error;  // why the run stopped early; empty (null on the wire) otherwise
  LoadSpec spec;      // prefix, devices, count, rate_per_s (max_duration_ms is not reported)
  std::uint64_t generated = 0;
  std::optional<std::int64_t> started_t_mono_ns;   // null before the first run
  std::optional<std::int64_t> finished_t_mono_ns;  // null while running
  std::uint64_t backpressure_waits = 0;
  std::int64_t max_lag_ns = 0;
  std::uint64_t from = 0;
  std::vector<std::int64_t> t_mono_ns;  // send times of changes from .. from + size - 1
};

// watch_result
struct WatchReport {
  bool active = false;
  LoadSpec spec;  // prefix, devices, count
  std::uint64_t seen = 0;
  bool complete = false;
  std::uint64_t unexpected = 0;
  std::optional<std::int64_t> first_t_mono_ns, last_t_mono_ns;  // null before the first
  std::uint64_t from = 0;
  std::vector<std::int64_t> t_mono_ns;  // when changes from .. became visible here (0: not yet)
};

using Reply = std::variant<HelloReply, TimeReply, DeviceReply, LocateReply, MembersReply, StatsReply, DumpReply,
                           KeysReply, StopReply, GenerateReport, WatchReport>;

// An empty reply of the type `op` is answered with.
Reply ReplyFor(Op op);

// {"ok": true, ...}
nlohmann::json EncodeReply(const Reply& reply);
// The reply to a request of `op`. A response with "ok": false is that Error as a Status
// (ToStatus); a response missing a field or with one of the wrong type is InvalidArgument naming it.
Status DecodeReply(Op op, const nlohmann::json& response, Reply* out);

// {"ok": false, "code", "error"}
nlohmann::json EncodeError(const Error& error);
// The Error of a response with "ok": false; nullopt for "ok": true. A response that is neither
// (no "ok", an error without a known code) is a bad_request Error saying so.
std::optional<Error> ResponseError(const nlohmann::json& response);
// Ok for "ok": true, else ToStatus of its error.
Status ResponseStatus(const nlohmann::json& response);

// A response as one line (with its newline). One longer than kMaxResponseBytes is replaced by a
// too_large error line, and *replaced (when given) is set. Invalid UTF-8 (error messages may quote
// the client's bytes) is replaced, never thrown on.
std::string ResponseLine(const nlohmann::json& response, bool* replaced = nullptr);
std::string ErrorLine(const Error& error);

}  // namespace pbxstate::control
