// Value types shared by the engine, its environment and its hosts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pbxstate {

// A cluster member's identity. Hosts choose them (CPG node ids, scenario indices + 1).
// 0 is never a valid node id.
using NodeId = std::uint32_t;
inline constexpr NodeId kNoNode = 0;

using Duration = std::chrono::nanoseconds;

// The host's monotonic clock: timers and intervals. Its epoch is the host's choice and means
// nothing across nodes. A clock type with no now(): only the Env can tell the time.
struct MonotonicClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = Duration;
  using time_point = std::chrono::time_point<MonotonicClock>;
  static constexpr bool is_steady = true;
};
using MonoTime = MonotonicClock::time_point;

// Calendar time (nanoseconds since the Unix epoch), shared by all nodes as well as their clocks
// are synchronised: registration expiry and the hybrid logical clock use it.
struct WallClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = Duration;
  using time_point = std::chrono::time_point<WallClock>;
  static constexpr bool is_steady = false;
};
using WallTime = WallClock::time_point;

// The calendar instant every simulated clock starts at: 2026-01-01T00:00:00Z. The inproc network,
// the ns-3 application and the harness's records all put simulated time zero here, so a simulated
// registration expiry or MWI timestamp means the same in each. Hosts on real clocks never use it.
inline constexpr WallTime kSimEpoch{std::chrono::seconds(1'767'225'600)};

// Asterisk's nine device states, with Asterisk's numeric values (enum ast_device_state), so a
// C host can cast between the two.
enum class DeviceState : std::uint8_t {
  kUnknown = 0,
  kNotInUse = 1,
  kInUse = 2,
  kBusy = 3,
  kInvalid = 4,
  kUnavailable = 5,
  kRinging = 6,
  kRingInUse = 7,
  kOnHold = 8,
};
inline constexpr int kDeviceStateCount = 9;

// "NOT_INUSE", "RINGINUSE", ...; the names Asterisk's devstate2str-style tables use.
std::string_view DeviceStateName(DeviceState state);
// Parses the names above (case-insensitive); nullopt for anything else.
std::optional<DeviceState> ParseDeviceState(std::string_view name);

// Hybrid logical clock timestamp: physical part in nanoseconds since the Unix epoch, logical
// counter for events within the same physical tick. Ordered lexicographically.
struct HlcTimestamp {
  std::int64_t physical_ns = 0;
  std::uint32_t logical = 0;
  friend auto operator<=>(const HlcTimestamp&, const HlcTimestamp&) = default;
};

struct MailboxCounts {
  std::uint32_t new_messages = 0;
  std::uint32_t old_messages = 0;
  std::uint32_t urgent_messages = 0;
  friend bool operator==(const MailboxCounts&, const MailboxCounts&) = default;
};

// A mailbox's cluster-wide value: the write with the greatest (hlc, writer).
struct MailboxValue {
  MailboxCounts counts;
  HlcTimestamp hlc;
  NodeId writer = kNoNode;
  friend bool operator==(const MailboxValue&, const MailboxValue&) = default;
};

enum class ContactStatus : std::uint8_t { kReachable = 0, kUnreachable = 1 };

// What a node says about one contact of an AOR it holds. The contact URI names the contact: a
// node holds at most one entry per (AOR, contact), and several contacts per AOR (desk phone,
// softphone, mobile), up to EngineConfig::max_contacts_per_aor.
struct RegistrationInfo {
  std::string contact;         // contact URI, e.g. "sip:alice@198.18.0.7:5060"
  WallTime expires;            // absolute; the entry vanishes everywhere at this instant
  ContactStatus status = ContactStatus::kReachable;
  std::uint32_t rtt_us = 0;    // last qualify round trip, 0 when unknown
  // What routing a call to the contact needs besides its URI: the REGISTER's Path headers
  // (RFC 3327, the proxies a request to it must traverse; empty when none) and its User-Agent.
  // contact, path and user_agent together are at most EngineConfig::max_contact_bytes.
  std::string path;
  std::string user_agent;
  friend bool operator==(const RegistrationInfo&, const RegistrationInfo&) = default;
};

// The version of an entry a node owns: incarnation of its owner, then a sequence number that
// grows with every change the owner makes in that incarnation.
struct Version {
  std::uint64_t incarnation = 0;
  std::uint64_t sequence = 0;
  friend auto operator<=>(const Version&, const Version&) = default;
};

}  // namespace pbxstate
