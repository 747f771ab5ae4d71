// pbxstate-ns3-timing: how long (wall time) a large simulated cluster takes to run.
//
// Builds one LAN of --nodes nodes, lets them find each other, makes --changes device-state
// changes at random nodes spread evenly over the middle of the run, lets it settle, and prints
// wall time, traffic and delivery latency, and whether every node ended with the same view.
// Exit status: 0 when all nodes agree at the end, 1 otherwise, 2 on bad arguments.
//
//   pbxstate-ns3-timing --nodes=1000 --changes=10000 --seconds=40 --mode=lan
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pbxstate/engine.h"
#include "pbxstate/ns3/world.h"

namespace {

using pbxstate::ChangeCause;
using pbxstate::Duration;
using pbxstate::EntryKind;
using pbxstate::NodeId;
using pbxstate::ViewChange;

struct Options {
  std::uint32_t nodes = 1000;
  std::uint32_t changes = 1000;
  std::uint32_t devices = 500;
  double seconds = 40;
  std::string mode = "lan";
  std::int64_t heartbeat_ms = 1000;
  std::int64_t suspect_ms = 5000;
  std::int64_t anti_entropy_ms = 2000;
  std::int64_t batch_ms = 0;
  std::uint32_t seed = 1;
};

bool ParseArg(std::string_view arg, Options* o) {
  auto value = [&](std::string_view name, auto* out) {
    if (arg.substr(0, name.size()) != name) return false;
    const std::string v(arg.substr(name.size()));
    using T = std::remove_pointer_t<decltype(out)>;
    if constexpr (std::is_same_v<T, std::string>) {
      *out = v;
    } else if constexpr (std::is_same_v<T, double>) {
      *out = std::strtod(v.c_str(), nullptr);
    } else {
      *out = static_cast<T>(std::strtoll(v.c_str(), nullptr, 10));
    }
    return true;
  };
  return value("--nodes=", &o->nodes) || value("--changes=", &o->changes) || value("--devices=", &o->devices) ||
         value("--seconds=", &o->seconds) || value("--mode=", &o->mode) || value("--heartbeat-ms=", &o->heartbeat_ms) ||
         value("--suspect-ms=", &o->suspect_ms) || value("--anti-entropy-ms=", &o->anti_entropy_ms) ||
         value("--batch-ms=", &o->batch_ms) || value("--seed=", &o->seed);
}

// Delivery latency: from a change at its origin to its application at another node, matched by
// (origin, incarnation, sequence). Changes coalesced away before they left are not counted.
class LatencyCollector : public pbxstate::ns3t::ViewCollector {
 public:
  void OnViewChange(NodeId node, ns3::Time at, const ViewChange& change) override {
    if (change.kind != EntryKind::kDevice) return;
    const std::uint64_t key = Key(change);
    if (change.cause == ChangeCause::kLocal) {
      origin_time_[key] = at.GetNanoSeconds();
    } else if (change.cause == ChangeCause::kRemote && node != change.origin) {
      auto it = origin_time_.find(key);
      if (it != origin_time_.end()) latencies_ns_.push_back(at.GetNanoSeconds() - it->second);
    }
    ++view_changes_;
  }
  std::vector<std::int64_t>& latencies() { return latencies_ns_; }
  std::uint64_t view_changes() const { return view_changes_; }

 private:
  static std::uint64_t Key(const ViewChange& c) {
    return (static_cast<std::uint64_t>(c.origin) << 44) ^ (c.version.incarnation << 24) ^ c.version.sequence;
  }
  std::unordered_map<std::uint64_t, std::int64_t> origin_time_;
  std::vector<std::int64_t> latencies_ns_;
  std::uint64_t view_changes_ = 0;
};

double Quantile(std::vector<std::int64_t>& v, double q) {
  if (v.empty()) return 0;
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1e6;
}

// Schedules the workload: o.changes device changes evenly spread over [warmup, warmup + window),
// each at a random node. `*refused` (which must outlive the run) counts changes an engine refused.
void ScheduleChanges(const Options& o, pbxstate::ns3sim::Ns3World& world, Duration warmup, Duration window,
                     std::uint64_t* refused) {
  std::mt19937_64 rng(o.seed);
  const pbxstate::DeviceState states[] = {pbxstate::DeviceState::kNotInUse, pbxstate::DeviceState::kInUse,
                                          pbxstate::DeviceState::kBusy, pbxstate::DeviceState::kRinging,
                                          pbxstate::DeviceState::kOnHold};
  for (std::uint32_t i = 0; i < o.changes; ++i) {
    const Duration at = warmup + window * i / std::max<std::uint32_t>(o.changes, 1);
    const NodeId node = static_cast<NodeId>(1 + rng() % o.nodes);
    const std::string device = "Custom:dev" + std::to_string(rng() % std::max<std::uint32_t>(o.devices, 1));
    const pbxstate::DeviceState state = states[rng() % 5];
    world.At(at, [&world, refused, node, device, state] {
      pbxstate::Engine* e = world.engine(node);
      if (e == nullptr || !e->SetDeviceState(device, state).ok()) ++*refused;
    });
  }
}

// Prints what the run did (engine traffic, wall and CPU time, delivery quantiles, agreement);
// returns whether every node agrees.
bool PrintReport(const Options& o, const pbxstate::ns3sim::Ns3World& world, LatencyCollector& collector,
                 std::chrono::steady_clock::time_point wall_start, std::chrono::steady_clock::time_point wall_built,
                 std::chrono::steady_clock::time_point wall_run, std::uint64_t refused) {
  const bool agree = world.Agree(world.nodes());
  std::uint64_t min_members = o.nodes;
  for (NodeId n : world.nodes()) min_members = std::min<std::uint64_t>(min_members, world.engine(n)->Members().size());
  const auto total = world.TotalCounters();
  pbxstate::EngineStats es;
  for (NodeId n : world.nodes()) {
    const pbxstate::EngineStats& s = world.engine(n)->stats();
    es.broadcasts_out += s.broadcasts_out;
    es.unicasts_out += s.unicasts_out;
    es.heartbeats_sent += s.heartbeats_sent;
    es.digests_sent += s.digests_sent;
    es.sync_pages_sent += s.sync_pages_sent;
    es.sync_sessions_started += s.sync_sessions_started;
  }
  std::printf("engine broadcasts=%llu unicasts=%llu heartbeats=%llu digests=%llu sync_sessions=%llu sync_pages=%llu\n",
              static_cast<unsigned long long>(es.broadcasts_out), static_cast<unsigned long long>(es.unicasts_out),
              static_cast<unsigned long long>(es.heartbeats_sent), static_cast<unsigned long long>(es.digests_sent),
              static_cast<unsigned long long>(es.sync_sessions_started),
              static_cast<unsigned long long>(es.sync_pages_sent));
  auto& lat = collector.latencies();
  const double build_s = std::chrono::duration<double>(wall_built - wall_start).count();
  const double run_s = std::chrono::duration<double>(wall_run - wall_built).count();
  // CPU seconds of this process: the wall time it would take alone on one core (a shared,
  // loaded machine stretches wall time).
  const double cpu_s = static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
  std::printf(
      "nodes=%u changes=%u mode=%s sim_seconds=%.1f wall_build_s=%.2f wall_run_s=%.2f wall_total_s=%.2f cpu_s=%.2f\n"
      "frames_sent=%llu wire_bytes_sent=%llu frames_received=%llu frames_per_change=%.1f refused=%llu "
      "wakeups_deferred=%llu\n"
      "delivery_ms p0=%.3f p50=%.3f p95=%.3f p99=%.3f p100=%.3f samples=%zu view_changes=%llu\n"
      "agree=%d min_members=%llu\n",
      o.nodes, o.changes, o.mode.c_str(), o.seconds, build_s, run_s, build_s + run_s, cpu_s,
      static_cast<unsigned long long>(total.frames_sent), static_cast<unsigned long long>(total.wire_bytes_sent),
      static_cast<unsigned long long>(total.frames_received),
      o.changes ? static_cast<double>(total.frames_sent) / o.changes : 0.0, static_cast<unsigned long long>(refused),
      static_cast<unsigned long long>(total.wakeups_deferred), Quantile(lat, 0), Quantile(lat, 0.5),
      Quantile(lat, 0.95), Quantile(lat, 0.99), Quantile(lat, 1), lat.size(),
      static_cast<unsigned long long>(collector.view_changes()), agree ? 1 : 0,
      static_cast<unsigned long long>(min_members));
  return agree;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (!ParseArg(argv[i], &o)) {
      std::cerr << "usage: pbxstate-ns3-timing [--nodes=N] [--changes=N] [--devices=N] [--seconds=S]"
                   " [--mode=lan|fanout] [--heartbeat-ms=] [--suspect-ms=] [--anti-entropy-ms=] [--batch-ms=] [--seed=]\n";
      return 2;
    }
  }
  if (o.mode != "lan" && o.mode != "fanout") {
    std::cerr << "--mode must be lan or fanout\n";
    return 2;
  }
  using namespace std::chrono_literals;
  const Duration warmup = std::max<Duration>(3 * std::chrono::milliseconds(o.heartbeat_ms), 2s);
  const Duration end = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.seconds));
  const Duration settle = std::max<Duration>(3 * std::chrono::milliseconds(o.anti_entropy_ms), 5s);
  if (end <= warmup + settle) {
    std::cerr << "--seconds too short for warm-up and settling\n";
    return 2;
  }

  LatencyCollector collector;
  pbxstate::ns3sim::WorldConfig config = pbxstate::ns3sim::WorldConfig::SingleLan(o.nodes);
  config.broadcast_mode =
      o.mode == "lan" ? pbxstate::ns3sim::BroadcastMode::kLanBroadcast : pbxstate::ns3sim::BroadcastMode::kUnicastFanout;
  config.engine.heartbeat_interval = std::chrono::milliseconds(o.heartbeat_ms);
  config.engine.suspect_after = std::chrono::milliseconds(o.suspect_ms);
  config.engine.anti_entropy_interval = std::chrono::milliseconds(o.anti_entropy_ms);
  config.engine.batch_window = std::chrono::milliseconds(o.batch_ms);
  config.engine.max_nodes = std::max<std::size_t>(config.engine.max_nodes, o.nodes);
  config.seed = o.seed;
  config.start_spread = std::chrono::milliseconds(o.heartbeat_ms);
  config.collector = &collector;

  const auto wall_start = std::chrono::steady_clock::now();
  std::unique_ptr<pbxstate::ns3sim::Ns3World> world;
  pbxstate::Status st = pbxstate::ns3sim::Ns3World::Create(config, &world);
  if (!st.ok()) {
    std::cerr << "world: " << st.ToString() << "\n";
    return 2;
  }
  const auto wall_built = std::chrono::steady_clock::now();

  std::uint64_t refused = 0;
  ScheduleChanges(o, *world, warmup, end - warmup - settle, &refused);
  // Progress on stderr every 5 simulated seconds: a 1,000-node run takes minutes.
  for (Duration t = 5s; t < end; t += 5s) {
    world->At(t, [t, wall_built] {
      std::fprintf(stderr, "sim %.0fs wall %.1fs cpu %.1fs\n", std::chrono::duration<double>(t).count(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_built).count(),
                   static_cast<double>(std::clock()) / CLOCKS_PER_SEC);
    });
  }
  world->RunUntil(end);
  const auto wall_run = std::chrono::steady_clock::now();

  const bool agree = PrintReport(o, *world, collector, wall_start, wall_built, wall_run, refused);
  world.reset();
  return agree ? 0 : 1;
}
