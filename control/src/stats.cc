// The `stats` reply: engine counters by the engine's own names (EngineStatFields, DropReasonName),
// the transport's and the control server's counters by the tables below.
#include <array>

#include "json_fields.h"
#include "reply_codec.h"

namespace pbxstate::control {

namespace {

using T = TransportStats;
constexpr std::array kTransportFields = {
    TransportStatField{"broadcasts_sent", &T::broadcasts_sent},
    TransportStatField{"unicasts_sent", &T::unicasts_sent},
    TransportStatField{"bytes_sent", &T::bytes_sent},
    TransportStatField{"envelope_bytes_sent", &T::envelope_bytes_sent},
    TransportStatField{"try_again", &T::try_again},
    TransportStatField{"queued", &T::queued},
    TransportStatField{"queue_full", &T::queue_full},
    TransportStatField{"queue_frames", &T::queue_frames},
    TransportStatField{"queue_bytes", &T::queue_bytes},
    TransportStatField{"queue_max_frames", &T::queue_max_frames},
    TransportStatField{"queue_max_bytes", &T::queue_max_bytes},
    TransportStatField{"queue_peak_frames", &T::queue_peak_frames},
    TransportStatField{"too_large", &T::too_large},
    TransportStatField{"unreachable", &T::unreachable},
    TransportStatField{"dropped_disconnected", &T::dropped_disconnected},
    TransportStatField{"messages_received", &T::messages_received},
    TransportStatField{"bytes_received", &T::bytes_received},
    TransportStatField{"own_messages", &T::own_messages},
    TransportStatField{"frames_delivered", &T::frames_delivered},
    TransportStatField{"unicast_not_for_us", &T::unicast_not_for_us},
    TransportStatField{"unicast_not_for_us_bytes", &T::unicast_not_for_us_bytes},
    TransportStatField{"envelope_errors", &T::envelope_errors},
    TransportStatField{"from_ignored_member", &T::from_ignored_member},
    TransportStatField{"duplicate_members", &T::duplicate_members},
    TransportStatField{"confchgs", &T::confchgs},
    TransportStatField{"totem_confchgs", &T::totem_confchgs},
    TransportStatField{"views", &T::views},
    TransportStatField{"connects", &T::connects},
    TransportStatField{"reconnects", &T::reconnects},
    TransportStatField{"connect_failures", &T::connect_failures},
    TransportStatField{"disconnects", &T::disconnects},
    TransportStatField{"wakeups", &T::wakeups},
    TransportStatField{"frames_before_attach", &T::frames_before_attach},
    TransportStatField{"random_seed", &T::random_seed},
};
// Every uint64 counter of TransportStats is in the table: 34 counters, the rest are the
// non-counter members (group, connected, view_id, view_members, ring_id_node, ring_id_seq).
static_assert(sizeof(TransportStats) ==
              sizeof(std::string) + 8 /* connected, padded */ + 8 /* view_id */ + sizeof(std::vector<NodeId>) +
                  8 /* ring_id_node */ + 8 /* ring_id_seq */ + kTransportFields.size() * 8,
              "a TransportStats counter without an entry in kTransportFields");

using D = DaemonStats;
constexpr std::array kDaemonFields = {
    DaemonStatField{"control_connections", &D::control_connections},
    DaemonStatField{"connections_accepted", &D::connections_accepted},
    DaemonStatField{"connections_refused", &D::connections_refused},
    DaemonStatField{"requests", &D::requests},
    DaemonStatField{"lines_too_long", &D::lines_too_long},
    DaemonStatField{"subscribers", &D::subscribers},
    DaemonStatField{"subscribers_dropped", &D::subscribers_dropped},
    DaemonStatField{"events_published", &D::events_published},
};
static_assert(sizeof(DaemonStats) == kDaemonFields.size() * sizeof(std::uint64_t),
              "a DaemonStats counter without an entry in kDaemonFields");

}  // namespace

std::span<const TransportStatField> TransportStatFields() { return kTransportFields; }
std::span<const DaemonStatField> DaemonStatFields() { return kDaemonFields; }

namespace internal {

namespace {

nlohmann::json EngineJson(const EngineStats& s) {
  json out = json::object();
  ForEachStat(s, [&out](std::string_view name, std::uint64_t value) { out[std::string(name)] = value; });
  json drops = json::object();
  for (int i = 0; i < kDropReasonCount; ++i) {
    drops[std::string(DropReasonName(static_cast<DropReason>(i)))] = s.dropped[static_cast<std::size_t>(i)];
  }
  out["dropped"] = std::move(drops);
  out["total_dropped"] = s.total_dropped();
  return out;
}

Status ReadEngine(const json& j, EngineStats* s) {
  constexpr std::string_view where = "stats.engine";
  for (const EngineStatField& f : EngineStatFields()) {
    if (Status st = Read(j, where, f.name.data(), &(s->*f.member)); !st.ok()) return st;
  }
  const json* drops = nullptr;
  if (Status st = ObjectField(j, where, "dropped", &drops); !st.ok()) return st;
  for (int i = 0; i < kDropReasonCount; ++i) {
    const std::string reason(DropReasonName(static_cast<DropReason>(i)));
    if (Status st = Read(*drops, "stats.engine.dropped", reason.c_str(), &s->dropped[static_cast<std::size_t>(i)]);
        !st.ok()) {
      return st;
    }
  }
  std::uint64_t total = 0;
  if (Status st = Read(j, where, "total_dropped", &total); !st.ok()) return st;
  if (total != s->total_dropped()) return FieldError(where, "total_dropped", "is not the sum of 'dropped'");
  return Status::Ok();
}

nlohmann::json TransportJson(const TransportStats& t) {
  json out = {{"group", t.group},
              {"connected", t.connected},
              {"view_id", t.view_id},
              {"view_members", t.view_members},
              {"ring_id", json::array({t.ring_id_node, t.ring_id_seq})}};
  for (const TransportStatField& f : kTransportFields) out[std::string(f.name)] = t.*f.member;
  return out;
}

Status ReadTransport(const json& j, TransportStats* t) {
  constexpr std::string_view where = "stats.transport";
  if (Status st = Read(j, where, "group", &t->group); !st.ok()) return st;
  if (Status st = Read(j, where, "connected", &t->connected); !st.ok()) return st;
  if (Status st = Read(j, where, "view_id", &t->view_id); !st.ok()) return st;
  if (Status st = ReadNodes(j, where, "view_members", &t->view_members); !st.ok()) return st;
  auto ring = j.find("ring_id");
  if (ring == j.end() || !ring->is_array() || ring->size() != 2 || !(*ring)[0].is_number_unsigned() ||
      !(*ring)[1].is_number_unsigned()) {
    return FieldError(where, "ring_id", "expected [node, seq]");
  }
  t->ring_id_node = (*ring)[0].get<std::uint64_t>();
  t->ring_id_seq = (*ring)[1].get<std::uint64_t>();
  for (const TransportStatField& f : kTransportFields) {
    if (Status st = Read(j, where, f.name.data(), &(t->*f.member)); !st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace

void Encode(const StatsReply& r, json* out) {
  json daemon = json::object();
  for (const DaemonStatField& f : kDaemonFields) daemon[std::string(f.name)] = r.daemon.*f.member;
  (*out)["engine"] = EngineJson(r.engine);
  (*out)["transport"] = TransportJson(r.transport);
  (*out)["daemon"] = std::move(daemon);
}

Status Decode(const json& j, StatsReply* r) {
  const json* engine = nullptr;
  const json* transport = nullptr;
  const json* daemon = nullptr;
  if (Status st = ObjectField(j, "stats", "engine", &engine); !st.ok()) return st;
  if (Status st = ObjectField(j, "stats", "transport", &transport); !st.ok()) return st;
  if (Status st = ObjectField(j, "stats", "daemon", &daemon); !st.ok()) return st;
  if (Status st = ReadEngine(*engine, &r->engine); !st.ok()) return st;
  if (Status st = ReadTransport(*transport, &r->transport); !st.ok()) return st;
  for (const DaemonStatField& f : kDaemonFields) {
    if (Status st = Read(*daemon, "stats.daemon", f.name.data(), &(r->daemon.*f.member)); !st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace internal
}  // namespace pbxstate::control
