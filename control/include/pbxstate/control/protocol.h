// pbxstated's control protocol, one definition for every side of it: the daemon (server), the
// namespace backend's runner and the Python tests (clients). daemon/CONTROL.md is the reference a
// person reads; tests/control checks that every op, error code and statistics name it lists is
// the one defined here, and no other.
//
// This header: the bounds, the error codes, the ops, and requests (typed, parsed from a line by
// the server, encoded into a line by a client). Replies are in replies.h, events in events.h, the
// socket client in client.h. Nothing here knows about sockets or the daemon's internals; the
// library depends on the engine's public types only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::control {

// ---- bounds (CONTROL.md) ------------------------------------------------------------------------

// A request line longer than this is refused (bad_request) and its connection closed.
inline constexpr std::size_t kMaxRequestLineBytes = 64 * 1024;
// Control connections at once; more are answered resource_exhausted and closed.
inline constexpr std::size_t kMaxControlConnections = 32;
// A response line longer than this (newline included) is replaced by a too_large error.
inline constexpr std::size_t kMaxResponseBytes = 64u << 20;
// Unsent events a subscriber may hold before it is dropped.
inline constexpr std::size_t kMaxSubscriberBufferBytes = 16u << 20;
// A client refuses an event line longer than this: the largest event is a registration change
// with two contacts of the engine's max_contact_bytes (bounded far below this).
inline constexpr std::size_t kMaxEventLineBytes = 1u << 20;

// `generate` and `watch` (CONTROL.md "Benchmark instruments"). A run holds 8 bytes per change on
// the generating node and 8 per change + 4 per device on a watching node: at most 12 MiB.
inline constexpr std::uint64_t kMaxGenerateCount = 1'000'000;
inline constexpr std::uint64_t kMaxGenerateDevices = 1'000'000;
inline constexpr std::uint64_t kMaxGenerateRatePerS = 1'000'000;
inline constexpr std::uint64_t kMaxGenerateDurationMs = 600'000;
inline constexpr std::uint64_t kDefaultGenerateDurationMs = 60'000;
inline constexpr std::size_t kMaxGeneratePrefixBytes = 64;
// Times per `generate_result`/`watch_result` page (about 20 bytes each in JSON: ~1.3 MB a page).
inline constexpr std::uint64_t kMaxResultPage = 65'536;

// ---- errors ---------------------------------------------------------------------------------------

// The `code` of a response with "ok": false.
enum class ErrorCode : std::uint8_t {
  kInvalidArgument,     // the engine (or the daemon) refused a value
  kResourceExhausted,   // a bound was reached (engine, connections)
  kFailedPrecondition,  // not now (a generate run is going on; the engine's state)
  kBadRequest,          // the request line itself is malformed; the message names the field
  kTooLarge,            // the response would exceed kMaxResponseBytes
};
// The wire name ("invalid_argument", ...); ParseErrorCode is its inverse.
std::string_view ErrorCodeName(ErrorCode code);
std::optional<ErrorCode> ParseErrorCode(std::string_view name);
// Every code, in declaration order.
std::span<const ErrorCode> ErrorCodes();

struct Error {
  ErrorCode code = ErrorCode::kBadRequest;
  std::string message;  // a sentence naming the field or the reason
};

// An engine refusal as the protocol reports it, and back: InvalidArgument <-> invalid_argument,
// ResourceExhausted <-> resource_exhausted, FailedPrecondition <-> failed_precondition;
// bad_request is an InvalidArgument and too_large a ResourceExhausted for a client. The message
// of ToStatus is "pbxstated: <code>: <message>".
Error FromStatus(const Status& status);
Status ToStatus(const Error& error);

// ---- ops ------------------------------------------------------------------------------------------

enum class Op : std::uint8_t {
  kHello, kSetDevice, kRemoveDevice, kSetMailbox, kRemoveMailbox, kRegister, kUnregister, kRemoveContact,
  kDevice, kLocate, kMembers, kStats, kDump, kSubscribe, kSetKeys, kStop,
  // Benchmark instruments (CONTROL.md "Benchmark instruments")
  kGenerate, kGenerateResult, kWatch, kWatchResult,
};

struct OpInfo {
  Op op;
  std::string_view name;  // the wire name, the request's "op"
  bool instrument;        // a benchmark instrument (listed in its own CONTROL.md table)
};
// Every op, in CONTROL.md's order. A new Op without an entry here fails the ops test.
std::span<const OpInfo> Ops();
std::string_view OpName(Op op);
std::optional<Op> ParseOp(std::string_view name);

// ---- requests -------------------------------------------------------------------------------------

// What `generate` and `watch` ask for (range-checked by ParseRequest).
struct LoadSpec {
  std::string prefix;
  std::uint64_t devices = 0;
  std::uint64_t count = 0;
  std::uint64_t rate_per_s = 0;                                // generate only; 0 = saturate
  std::uint64_t max_duration_ms = kDefaultGenerateDurationMs;  // generate only
  friend bool operator==(const LoadSpec&, const LoadSpec&) = default;
};

// One request. Only the fields of its op are meaningful (the comment says which); the others
// keep their defaults, so two requests compare equal when they encode to the same line.
struct Request {
  Op op = Op::kHello;
  std::string device;                         // set_device, remove_device, device
  DeviceState state = DeviceState::kUnknown;  // set_device
  std::string mailbox;                        // set_mailbox, remove_mailbox
  MailboxCounts counts;                       // set_mailbox
  std::string aor;                            // register, unregister, remove_contact, locate
  std::string contact;                        // register, remove_contact
  std::int64_t expires_unix_ns = 0;           // register: CLOCK_REALTIME ns (the engine's WallTime)
  bool reachable = true;                      // register
  std::uint32_t rtt_us = 0;                   // register
  // register (optional; empty: none). Not bounded here: the engine refuses contact, path and user
  // agent longer together than its max_contact_bytes, and that refusal is the answer.
  std::string path;
  std::string user_agent;
  std::string key_file;                       // set_keys (required, non-empty)
  std::string previous_key_file;              // set_keys (optional; empty: none)
  LoadSpec load;                              // generate (all fields), watch (prefix, devices, count)
  std::uint64_t from = 0;                     // generate_result, watch_result: first index of the page
  std::uint64_t limit = kMaxResultPage;       // generate_result, watch_result: page size

  // Builders for clients: a request of each op with its fields set.
  static Request Simple(Op op);  // an op without fields: hello, members, stats, dump, subscribe, stop
  static Request SetDevice(std::string device, DeviceState state);
  static Request SetMailbox(std::string mailbox, MailboxCounts counts);
  static Request Register(std::string aor, std::string contact, std::int64_t expires_unix_ns, bool reachable = true,
                          std::uint32_t rtt_us = 0, std::string path = {}, std::string user_agent = {});
  static Request Unregister(std::string aor);
  static Request RemoveContact(std::string aor, std::string contact);
  static Request RemoveDevice(std::string device);
  static Request RemoveMailbox(std::string mailbox);
  static Request Device(std::string device);
  static Request Locate(std::string aor);
  static Request SetKeys(std::string key_file, std::string previous_key_file = {});
  static Request Generate(LoadSpec spec);
  static Request Watch(LoadSpec spec);                            // rate and duration are not sent
  static Request Page(Op op, std::uint64_t from, std::uint64_t limit);  // generate_result, watch_result

  friend bool operator==(const Request&, const Request&) = default;
};

// Parses one request line (without its newline), as the daemon does. Malformed JSON, a missing or
// ill-typed field, a value out of its range, an unknown op or state name: a kBadRequest error
// whose message starts with the op and names the field ("generate: field 'count' must be an
// integer in [1, 1000000]").
std::variant<Request, Error> ParseRequest(std::string_view line);

// The request's line, newline included: the fields of its op only. ParseRequest(line) gives the
// request back for every request ParseRequest accepts.
std::string RequestLine(const Request& request);

}  // namespace pbxstate::control
