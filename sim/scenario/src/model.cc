#include <string>

#include "pbxstate/scenario/loader.h"
#include "pbxstate/check.h"
#include "pbxstate/random.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::scenario {

std::string_view TransportModeName(TransportMode mode) {
  switch (mode) {
    case TransportMode::kBroadcast: return "broadcast";
    case TransportMode::kMulticast: return "multicast";
    case TransportMode::kUnicast: return "unicast";
  }
  return "?";
}

std::string_view RoutingStrategyName(RoutingStrategy strategy) {
  switch (strategy) {
    case RoutingStrategy::kBlindPeer: return "blind-peer";
    case RoutingStrategy::kLocation: return "location";
  }
  return "?";
}

std::string_view RoutingStrategyMetricName(RoutingStrategy strategy) {
  switch (strategy) {
    case RoutingStrategy::kBlindPeer: return "blind_peer";
    case RoutingStrategy::kLocation: return "location";
  }
  return "?";
}

std::uint32_t Topology::node_count() const {
  std::uint32_t n = 0;
  for (const Site& s : sites) n += s.node_count;
  return n;
}

std::size_t Topology::SiteOf(NodeId node) const {
  for (std::size_t i = 0; i < sites.size(); ++i) {
    if (node >= sites[i].first_node && node < sites[i].first_node + sites[i].node_count) return i;
  }
  return sites.size();
}

const SiteLink* Topology::FindLink(std::size_t a, std::size_t b) const {
  if (a > b) std::swap(a, b);
  for (const SiteLink& l : links) {
    if (l.a == a && l.b == b) return &l;
  }
  return nullptr;
}

std::optional<std::size_t> Topology::FindSite(std::string_view name) const {
  for (std::size_t i = 0; i < sites.size(); ++i) {
    if (named_sites && sites[i].name == name) return i;
  }
  return std::nullopt;
}

std::string GeneratedDeviceName(std::uint32_t index) { return "PJSIP/dev" + std::to_string(index); }
std::string GeneratedMailboxName(std::uint32_t index) {
  return "mbox" + std::to_string(index) + "@default";
}
std::string GeneratedAorName(std::uint32_t index) { return "aor" + std::to_string(index); }
std::string ChurnedDeviceName(std::uint64_t index) { return "PJSIP/churn" + std::to_string(index); }
std::string ChurnedAorName(std::uint64_t index) { return "churn" + std::to_string(index); }
std::string ChurnedMailboxName(std::uint64_t index) { return "churn" + std::to_string(index) + "@churn"; }

std::string ScenarioClusterKey(std::uint64_t seed) {
  // A personalised stream: the key differs from any other use of the seed's SplitMix64 stream.
  SplitMix64 random(seed ^ 0x7062787374617465ull);  // "pbxstate"
  std::string key;
  while (key.size() < kClusterKeyBytes) {
    const std::uint64_t z = random.Next();
    for (int i = 0; i < 8 && key.size() < kClusterKeyBytes; ++i) key.push_back(static_cast<char>((z >> (8 * i)) & 0xFF));
  }
  return key;
}

Duration DetectionTime(const Scenario& s, Detector detector) {
  switch (detector) {
    case Detector::kHeartbeat: return s.engine.suspect_after;
    case Detector::kCorosync: {
      const totem::TotemTimeouts t =
          totem::DeriveTimeouts(s.corosync ? s.corosync->totem : totem::TotemConfig{}, s.topology.node_count());
      return t.token + t.consensus;
    }
    case Detector::kViewDelay: return s.membership.view_delay;
  }
  return {};
}

EngineConfig EngineConfigOf(const Scenario& s) {
  EngineConfig e = s.engine;
  e.node_sites.clear();
  for (NodeId n = 1; n <= s.topology.node_count(); ++n) e.node_sites[n] = static_cast<std::uint32_t>(s.topology.SiteOf(n));
  return e;
}

Duration Scenario::Quiet() const {
  PBXSTATE_CHECK(!quiet.plus_detection || detection.has_value());
  return quiet.Resolve(detection.value_or(Duration{}));
}

SourcePos Scenario::EnginePos(std::string_view key) const {
  const auto it = engine_pos.find(key);
  return it != engine_pos.end() ? it->second : SourcePos{};
}

std::string ScenarioError::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

}  // namespace pbxstate::scenario
