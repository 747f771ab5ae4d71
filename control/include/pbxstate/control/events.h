// Events of pbxstated's control protocol (daemon/CONTROL.md, "Events"): what a connection receives
// after `subscribe`, one JSON object per line. The daemon encodes them from the engine's callbacks;
// clients decode them into the engine's own types (a view event is a ViewChange, field for field).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "pbxstate/engine.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::control {

// A ViewChange that owns what it points at (its key, its registrations). Copying or moving one
// re-points `change` at the copy's own storage.
class OwnedViewChange {
 public:
  OwnedViewChange() { Bind(); }
  OwnedViewChange(const OwnedViewChange& other);
  OwnedViewChange& operator=(const OwnedViewChange& other);
  OwnedViewChange(OwnedViewChange&& other) noexcept;
  OwnedViewChange& operator=(OwnedViewChange&& other) noexcept;

  // Copies `c` and everything it points at.
  explicit OwnedViewChange(const ViewChange& c);

  const ViewChange& change() const { return change_; }
  // For decoders: the fields the view points at.
  ViewChange& mutable_change() { return change_; }
  void set_key(std::string key);
  void set_registrations(std::optional<RegistrationInfo> old_registration,
                         std::optional<RegistrationInfo> new_registration);
  const std::optional<RegistrationInfo>& old_registration() const { return old_registration_; }
  const std::optional<RegistrationInfo>& new_registration() const { return new_registration_; }

 private:
  void Bind();
  std::string key_;
  std::optional<RegistrationInfo> old_registration_, new_registration_;
  ViewChange change_{};
};

// {"event":"view", "t_mono_ns", "kind", "cause", "key", "origin", "version", ...by kind}
struct ViewEvent {
  std::int64_t t_mono_ns = 0;
  OwnedViewChange view;  // registrations' expires: the engine's WallTime (Unix ns)
};
// {"event":"members", "t_mono_ns", "members", "view_id"}: after every membership change.
struct MembersEvent {
  std::int64_t t_mono_ns = 0;
  std::vector<NodeId> members;
  std::uint64_t view_id = 0;
};
// {"event":"transport_view", "t_mono_ns", "view_id", "members"}: a CPG configuration the transport
// handed the engine (Engine::OnMembership), stamped just before the engine took it; also the first
// line after the `subscribe` answer (the view in force, with the time it was handed over; t_mono_ns
// 0 and no members when none has been yet). A harness judges transport membership by these.
struct TransportViewEvent {
  std::int64_t t_mono_ns = 0;
  std::uint64_t view_id = 0;
  std::vector<NodeId> members;  // sorted, this node included
};
// {"event":"stopping", "t_mono_ns"}: the last line before a graceful stop.
struct StoppingEvent {
  std::int64_t t_mono_ns = 0;
};
using Event = std::variant<ViewEvent, MembersEvent, TransportViewEvent, StoppingEvent>;

// The daemon's side: a view event straight from the engine's callback (no copy of the change).
nlohmann::json EncodeViewChange(const ViewChange& change, std::int64_t t_mono_ns);
nlohmann::json EncodeEvent(const Event& event);
// The line of an event, newline included.
std::string EventLine(const nlohmann::json& event);

// A client's side. An unknown "event", a missing field or one of the wrong type is
// InvalidArgument naming it.
Status DecodeEvent(const nlohmann::json& line, Event* out);

}  // namespace pbxstate::control
