// The totem settings of corosync.conf(5) that decide Corosync's timing, with Corosync 3.1.7's
// defaults, and the timeouts Corosync derives from them (exec/totemconfig.c:
// totem_volatile_config_read, totem_volatile_config_validate, calc_knet_ping_timers). One
// definition for everything that needs them: the scenario's `corosync:` section, the
// corosync.conf the netns backend writes, and the Corosync model of the ns-3 backend
// (sim/ns3/COROSYNC_MODEL.md).
//
// Corosync reads every value as whole milliseconds; so does this: a value that is not a whole
// number of milliseconds is refused by Validate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::totem {

using namespace std::chrono_literals;

// How totem packets travel (totem.transport).
enum class Transport : std::uint8_t {
  kKnet,  // kronosnet: one unicast copy per peer whose link is up; links found by ping/pong (default)
  kUdp,   // UDP multicast: one copy on the LAN
};
std::string_view TransportName(Transport t);  // "knet", "udp"

// Corosync's minimum for token, join, consensus, merge and token_retransmit: 3 x 1000/HZ, HZ 100.
inline constexpr Duration kMinimumTimeout = 30ms;
// Largest value any timeout here may take (a bound of this project, not of Corosync).
inline constexpr Duration kMaximumTimeout = 10min;
// Largest max_messages and window_size accepted (Corosync advises window_size <= 256000 / MTU,
// about 170; its receive queue holds 16,384 packets).
inline constexpr std::uint32_t kMaxWindow = 1000;
// Largest knet_mtu knet accepts (KNET_PMTUD_SIZE_V4), and the least other than 0 (IPv4's
// minimum datagram: below it knet's fragments would carry no data).
inline constexpr std::uint32_t kMaxKnetMtu = 65535;
inline constexpr std::uint32_t kMinKnetMtu = 576;
// Largest token_retransmits_before_loss_const, miss_count_const and knet_pong_count accepted (a
// bound of this project; Corosync reads any 32-bit value).
inline constexpr std::uint32_t kMaxTotemConstant = 100;

struct TotemConfig {
  Transport transport = Transport::kKnet;
  Duration token = 3000ms;              // token loss timeout for two nodes
  Duration token_coefficient = 650ms;   // added per node beyond two (nodelists of 3+ nodes)
  std::optional<Duration> consensus;    // unset: 1.2 x the effective token
  Duration join = 50ms;                 // gather: join resend interval
  Duration merge = 200ms;               // idle representative's merge-detect interval
  Duration send_join = 0ms;             // each join waits uniform [0, send_join)
  std::uint32_t max_messages = 17;      // messages one node multicasts per token visit
  std::uint32_t window_size = 50;       // messages the ring multicasts per rotation
  // A lost token is re-sent after token / (this + 0.2) (token_retransmit; hold follows it).
  std::uint32_t token_retransmits_before_loss_const = 4;
  std::uint32_t miss_count_const = 5;   // token visits a packet must be missing before it is asked for
  // knet (totem.interface.knet_*): a link is pinged every knet_ping_interval, goes down when no
  // pong came for knet_ping_timeout, and comes up after knet_pong_count pongs. Unset: derived
  // from the effective token as Corosync does (calc_knet_ping_timers).
  std::optional<Duration> knet_ping_interval;
  std::optional<Duration> knet_ping_timeout;
  std::uint32_t knet_pong_count = 2;
  // knet's MTU (totem.knet_mtu): 0 finds each link's path MTU by probing it (PMTUD, every
  // knet_pmtud_interval); another value is the interfaces' MTU and turns the probing off.
  std::uint32_t knet_mtu = 0;
  // Not scenario keys (corosync.conf has them; nobody tunes them): Corosync's defaults.
  std::uint32_t fail_recv_const = 2500;
  std::uint32_t seqno_unchanged_const = 30;

  // Corosync's own refusals (totem_volatile_config_validate) for a nodelist of `nodes` nodes,
  // plus this project's bounds (TotemSettings()' ranges); the message starts with the key.
  Status Validate(std::size_t nodes) const;
};

// The table of totem settings a scenario may set: one row per numeric key of TotemConfig, the one
// definition of its key, unit, range, place in corosync.conf and one-line doc. The scenario loader
// reads the `corosync:` keys from it, TotemConfig::Validate checks its ranges, the netns backend's
// corosync.conf writer writes its rows, and scenarios/README.md's table is generated from it
// (tests/sim/scenario/corosync_section_test.cc). Adding a key: a member in TotemConfig, one row in
// config.cc, and the code that uses it (the ns-3 model); nothing else. Two keys are not numbers
// and so not rows: `transport` (TransportName) and the scenario's own `crash`.
struct TotemSetting {
  using Member = std::variant<Duration TotemConfig::*, std::optional<Duration> TotemConfig::*,
                              std::uint32_t TotemConfig::*>;
  enum class Section : std::uint8_t {
    kTotem,          // corosync.conf's totem section
    kKnetInterface,  // the interface section of link 0, with the knet transport only
    kKnetTotem,      // the totem section, with the knet transport only
  };
  std::string_view key;  // corosync.conf(5)'s name, and the scenario's key under `corosync:`
  Member member;
  std::uint64_t min;     // inclusive; milliseconds for a duration
  std::uint64_t max;     // inclusive; milliseconds for a duration
  Section section;
  std::string_view unset;  // for an optional member: what Corosync derives when it is unset
  std::string_view doc;    // one line: what it does

  bool is_duration() const { return !std::holds_alternative<std::uint32_t TotemConfig::*>(member); }
  // The value in `config` (milliseconds for a duration, rounded down); nullopt when unset.
  std::optional<std::uint64_t> Get(const TotemConfig& config) const;
  // Sets the value (milliseconds for a duration); the caller checks the range.
  void Set(TotemConfig* config, std::uint64_t value) const;
};
std::span<const TotemSetting> TotemSettings();
const TotemSetting* FindTotemSetting(std::string_view key);

// What Corosync runs with for a nodelist of `nodes` nodes (whole milliseconds, rounded down as
// Corosync's integer arithmetic does).
struct TotemTimeouts {
  Duration token;             // effective: token + (nodes - 2) x token_coefficient when nodes > 2
  Duration token_retransmit;  // token / (token_retransmits_before_loss_const + 0.2)
  Duration hold;              // token_retransmit x 0.8 - 10 ms
  Duration consensus;         // as set, else 1.2 x token
  Duration join;
  Duration merge;
  Duration send_join;
  Duration knet_ping_interval;  // as set, else token / (2 x knet_pong_count)
  Duration knet_ping_timeout;   // as set, else token / knet_pong_count
};
TotemTimeouts DeriveTimeouts(const TotemConfig& config, std::size_t nodes);

}  // namespace pbxstate::totem
