// Private to the control library: the JSON codec of each reply type (replies.h). EncodeReply and
// DecodeReply dispatch to these; stats.cc holds the statistics' and replies.cc the others'.
#pragma once

#include <nlohmann/json.hpp>

#include "pbxstate/control/replies.h"
#include "pbxstate/status.h"

namespace pbxstate::control::internal {

// Each Encode writes the reply's fields into `out` (an object that already holds "ok": true);
// each Decode reads them from a response whose "ok" is true.
void Encode(const HelloReply& r, nlohmann::json* out);
void Encode(const TimeReply& r, nlohmann::json* out);
void Encode(const DeviceReply& r, nlohmann::json* out);
void Encode(const MembersReply& r, nlohmann::json* out);
void Encode(const StatsReply& r, nlohmann::json* out);
void Encode(const DumpReply& r, nlohmann::json* out);
void Encode(const KeysReply& r, nlohmann::json* out);
void Encode(const StopReply& r, nlohmann::json* out);
void Encode(const GenerateReport& r, nlohmann::json* out);
void Encode(const WatchReport& r, nlohmann::json* out);

Status Decode(const nlohmann::json& j, HelloReply* r);
Status Decode(const nlohmann::json& j, TimeReply* r);
Status Decode(const nlohmann::json& j, DeviceReply* r);
Status Decode(const nlohmann::json& j, MembersReply* r);
Status Decode(const nlohmann::json& j, StatsReply* r);
Status Decode(const nlohmann::json& j, DumpReply* r);
Status Decode(const nlohmann::json& j, KeysReply* r);
Status Decode(const nlohmann::json& j, StopReply* r);
Status Decode(const nlohmann::json& j, GenerateReport* r);
Status Decode(const nlohmann::json& j, WatchReport* r);

}  // namespace pbxstate::control::internal
