// A minimal hand-driven network for engine unit tests: engines on MiniEnvs, frames delivered
// after a fixed delay in order, timers in time order; `drop` and `cut` decide per frame. With
// `deliver_overheard` (and unicast_reaches_everyone on the sender's env), a unicast also reaches
// every other engine through Engine::OnOverheard, as CPG delivers it (CpgEnv).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "engine_set.h"
#include "pbxstate/engine.h"

namespace pbxstate {
namespace testing_mini_net {

using namespace std::chrono_literals;

const WallTime kEpoch = kSimEpoch;

struct Frame {
  MonoTime at;
  NodeId from, to;
  std::vector<std::uint8_t> bytes;
  NodeId overheard_by = kNoNode;  // not kNoNode: a copy of a unicast to `to`, for this engine
};

class MiniNet;

class MiniEnv : public Env {
 public:
  MiniEnv(MiniNet* net, NodeId id) : net_(net), id_(id) {}
  MonoTime Now() override;
  WallTime WallNow() override { return kEpoch + Now().time_since_epoch(); }
  void ScheduleWakeup(MonoTime at) override { wakeup = at; }
  SendStatus Broadcast(std::span<const std::uint8_t> frame) override;
  SendStatus Unicast(NodeId to, std::span<const std::uint8_t> frame) override;
  std::uint64_t Random() override { return rng(); }
  void Log(LogLevel, std::string_view) override {}
  std::optional<std::size_t> SendBacklog() override { return backlog; }
  bool UnicastReachesEveryone() const override { return unicast_reaches_everyone; }

  std::optional<MonoTime> wakeup;
  std::optional<std::size_t> backlog;  // nullopt: a host that cannot tell (the default)
  std::mt19937_64 rng{7};
  SendStatus next_status = SendStatus::kOk;
  int try_again_budget = 0;  // answer kTryAgain this many times
  // What UnicastReachesEveryone() answers (a CPG-like host when true); the network delivers a
  // unicast to its addressee alone (what the others' drop amounts to) unless the net's
  // deliver_overheard is set too.
  bool unicast_reaches_everyone = false;
  int broadcast_calls = 0, unicast_calls = 0;  // Broadcast/Unicast calls answered kOk

 private:
  MiniNet* net_;
  NodeId id_;
};

// Delivers frames after a fixed delay, in order; `drop` decides per frame.
class MiniNet {
 public:
  explicit MiniNet(int n, MembershipSource membership = MembershipSource::kHeartbeat,
                   std::function<void(EngineConfig&)> tune = nullptr, bool unicast_reaches_everyone = false) {
    for (int i = 1; i <= n; ++i) {
      const auto id = static_cast<NodeId>(i);
      envs[id] = std::make_unique<MiniEnv>(this, id);
      envs[id]->unicast_reaches_everyone = unicast_reaches_everyone;
    }
    engines.CreateAndStart(envs, membership, tune);
    if (membership == MembershipSource::kTransport) SetView(AllIds());
  }

  std::vector<NodeId> AllIds() const { return engines.AllIds(); }
  void SetView(const std::vector<NodeId>& members) { engines.SetView(++view_id, members); }

  // The catch-up tests' start (transport membership): node 1 alone holds `devices` devices named
  // `prefix`0.. in `state`, which node 2, in a view of its own, lacks; what was sent meanwhile is
  // dropped. The test then joins them (SetView({1, 2})) and watches node 2 pull.
  void HoldApart(int devices, const std::string& prefix = "d", DeviceState state = DeviceState::kBusy) {
    SetView({1});
    engines[2]->OnMembership({99, {2}});
    for (int i = 0; i < devices; ++i) ASSERT_TRUE(engines[1]->SetDeviceState(prefix + std::to_string(i), state).ok());
    Run(100ms);
    queue.clear();
  }

  // Whether the frame is on its way (not lost on send).
  bool Send(NodeId from, NodeId to, std::span<const std::uint8_t> bytes) {
    ++sent[{from, to}];
    if (drop && drop(from, to, bytes)) return false;
    queue.push_back({now + delay, from, to, {bytes.begin(), bytes.end()}});
    return true;
  }

  // A unicast's copies for every engine but its sender and addressee (deliver_overheard).
  void Overhear(NodeId from, NodeId to, std::span<const std::uint8_t> bytes) {
    for (const auto& [id, e] : engines) {
      if (id != from && id != to) queue.push_back({now + delay, from, to, {bytes.begin(), bytes.end()}, id});
    }
  }

  // Runs until `until`, delivering frames and timers in time order.
  void RunUntil(MonoTime until) {
    while (true) {
      std::optional<MonoTime> next;
      if (!queue.empty()) next = queue.front().at;
      for (auto& [id, env] : envs) {
        if (env->wakeup && engines.count(id) && (!next || *env->wakeup < *next)) next = env->wakeup;
      }
      if (!next || *next > until) break;
      now = *next;
      if (!queue.empty() && queue.front().at == now) {
        Frame f = std::move(queue.front());
        queue.pop_front();
        const NodeId at = f.overheard_by != kNoNode ? f.overheard_by : f.to;
        if (engines.count(at) && !(cut && cut(f.from, at))) {
          if (f.overheard_by != kNoNode) {
            engines[at]->OnOverheard(f.from, f.to, f.bytes);
          } else {
            ++in_flight_hist[{f.from, f.to}];
            engines[f.to]->OnFrame(f.from, f.bytes);
          }
        }
        continue;
      }
      for (auto& [id, env] : envs) {
        if (env->wakeup && *env->wakeup == now && engines.count(id)) {
          env->wakeup.reset();
          engines[id]->OnTimer();
        }
      }
    }
    now = until;
  }
  void Run(Duration d) { RunUntil(now + d); }

  MonoTime now{};
  Duration delay = 1ms;
  bool deliver_overheard = false;
  std::uint64_t view_id = 0;
  std::deque<Frame> queue;
  std::map<NodeId, std::unique_ptr<MiniEnv>> envs;
  testing_engine_set::EngineSet engines;  // after envs: destroyed before them
  std::map<std::pair<NodeId, NodeId>, int> sent, in_flight_hist;
  std::function<bool(NodeId, NodeId, std::span<const std::uint8_t>)> drop;  // lost on send
  std::function<bool(NodeId, NodeId)> cut;                                   // lost on delivery
};

inline MonoTime MiniEnv::Now() { return net_->now; }
inline SendStatus MiniEnv::Broadcast(std::span<const std::uint8_t> frame) {
  if (try_again_budget > 0) {
    --try_again_budget;
    return SendStatus::kTryAgain;
  }
  for (auto& [id, e] : net_->envs) {
    if (id != id_) net_->Send(id_, id, frame);
  }
  ++broadcast_calls;
  return SendStatus::kOk;
}
inline SendStatus MiniEnv::Unicast(NodeId to, std::span<const std::uint8_t> frame) {
  if (try_again_budget > 0) {
    --try_again_budget;
    return SendStatus::kTryAgain;
  }
  if (net_->Send(id_, to, frame) && unicast_reaches_everyone && net_->deliver_overheard) net_->Overhear(id_, to, frame);
  ++unicast_calls;
  return SendStatus::kOk;
}

}  // namespace testing_mini_net
}  // namespace pbxstate
