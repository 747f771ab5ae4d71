#include <array>
#include <cctype>

#include "pbxstate/engine.h"
#include "pbxstate/env.h"
#include "pbxstate/stats.h"
#include "pbxstate/types.h"

namespace pbxstate {
namespace {
constexpr std::array<std::string_view, kDeviceStateCount> kDeviceStateNames = {
    "UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}
}  // namespace

std::string_view DeviceStateName(DeviceState state) {
  auto i = static_cast<std::size_t>(state);
  return i < kDeviceStateNames.size() ? kDeviceStateNames[i] : std::string_view("?");
}

std::optional<DeviceState> ParseDeviceState(std::string_view name) {
  for (std::size_t i = 0; i < kDeviceStateNames.size(); ++i) {
    if (EqualsIgnoreCase(name, kDeviceStateNames[i])) return static_cast<DeviceState>(i);
  }
  return std::nullopt;
}

std::string_view ChangeCauseName(ChangeCause cause) {
  switch (cause) {
    case ChangeCause::kLocal: return "local";
    case ChangeCause::kRemote: return "remote";
    case ChangeCause::kDeparture: return "departure";
    case ChangeCause::kRestart: return "restart";
    case ChangeCause::kExpiry: return "expiry";
  }
  return "?";
}

std::string_view EntryKindName(EntryKind kind) {
  switch (kind) {
    case EntryKind::kDevice: return "device";
    case EntryKind::kMailbox: return "mailbox";
    case EntryKind::kRegistration: return "registration";
  }
  return "?";
}

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kTruncated: return "truncated";
    case DropReason::kBadMagic: return "bad_magic";
    case DropReason::kBadVersion: return "bad_version";
    case DropReason::kUnknownType: return "unknown_type";
    case DropReason::kOversize: return "oversize";
    case DropReason::kMalformed: return "malformed";
    case DropReason::kFromSelf: return "from_self";
    case DropReason::kStaleIncarnation: return "stale_incarnation";
    case DropReason::kNotMember: return "not_member";
    case DropReason::kTooManyNodes: return "too_many_nodes";
    case DropReason::kUnexpected: return "unexpected";
    case DropReason::kStoreFull: return "store_full";
    case DropReason::kBadMac: return "bad_mac";
    case DropReason::kUnknownKey: return "unknown_key";
    case DropReason::kReplayed: return "replayed";
    case DropReason::kUnauthenticated: return "unauthenticated";
    case DropReason::kAuthNotConfigured: return "auth_not_configured";
    case DropReason::kSessionClosed: return "session_closed";
    case DropReason::kCount: break;
  }
  return "?";
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (name == LogLevelName(l)) return l;
  }
  return std::nullopt;
}

}  // namespace pbxstate
