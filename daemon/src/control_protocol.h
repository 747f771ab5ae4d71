// The control protocol's messages (daemon/CONTROL.md): parsing one request line into a typed
// Request, and building response and event lines. No sockets here: ControlServer moves lines,
// Daemon executes requests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "load_generator.h"
#include "pbxstate/engine.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::daemon {

// Bounds from CONTROL.md.
inline constexpr std::size_t kMaxRequestLineBytes = 64 * 1024;
inline constexpr std::size_t kMaxControlConnections = 32;
inline constexpr std::size_t kMaxResponseBytes = 64u << 20;
inline constexpr std::size_t kMaxSubscriberBufferBytes = 16u << 20;

enum class ControlCode { kInvalidArgument, kResourceExhausted, kFailedPrecondition, kBadRequest, kTooLarge };
std::string_view ControlCodeName(ControlCode code);

struct ControlError {
  ControlCode code;
  std::string message;
};

enum class Op {
  kHello, kSetDevice, kSetMailbox, kRegister, kUnregister, kDevice, kMembers, kStats, kDump, kSubscribe, kStop,
  kSetKeys,
  // Benchmark instruments (load_generator.h)
  kGenerate, kGenerateResult, kWatch, kWatchResult
};

struct Request {
  Op op = Op::kHello;
  std::string device;   // set_device, device
  DeviceState state = DeviceState::kUnknown;  // set_device
  std::string mailbox;  // set_mailbox
  MailboxCounts counts; // set_mailbox
  std::string aor;      // register, unregister
  std::string contact;  // register
  std::int64_t expires_unix_ns = 0;  // register
  bool reachable = true;             // register
  std::uint32_t rtt_us = 0;          // register
  std::string key_file;              // set_keys (required, non-empty)
  std::string previous_key_file;     // set_keys (optional; empty: none)
  LoadSpec load;                     // generate (all fields), watch (prefix, devices, count)
  std::uint64_t from = 0;            // generate_result, watch_result: first index of the page
  std::uint64_t limit = kMaxResultPage;  // generate_result, watch_result: page size
};

// Parses one request line (without its newline). Malformed JSON, a missing or ill-typed field,
// an unknown op or state name: a kBadRequest error whose message names the field.
std::variant<Request, ControlError> ParseRequest(std::string_view line);

// {"ok":false,"code":...,"error":...}
std::string ErrorLine(const ControlError& error);
ControlError FromStatus(const Status& status);

// JSON pieces shared by responses and events.
nlohmann::json StateOrNull(const std::optional<DeviceState>& state);
nlohmann::json VersionJson(const Version& version);
nlohmann::json MailboxJson(const MailboxValue& value);
nlohmann::json RegistrationJson(const RegistrationInfo& info);
nlohmann::json ContributionsJson(std::span<const DeviceContribution> contributions);
nlohmann::json StatsJson(const EngineStats& stats);

// {"event":"view",...}: ViewChange field for field.
nlohmann::json ViewEvent(const ViewChange& change, std::int64_t t_mono_ns);

// Serialises a response (with its newline). One longer than kMaxResponseBytes is replaced by a
// too_large error line, and *replaced (when given) is set.
std::string ResponseLine(const nlohmann::json& response, bool* replaced = nullptr);

}  // namespace pbxstate::daemon
