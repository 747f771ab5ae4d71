// An in-memory network for TotemNodes: a virtual clock, an event queue, a fixed one-way delay per
// datagram, per-datagram drops decided by a predicate, and a CPG client per node that records
// what it was given. Everything runs on the test's thread; the same inputs give the same run.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "pbxstate/totem/node.h"

namespace pbxstate::totem::testing {

using namespace std::chrono_literals;

class Net;

// One node: its TotemNode, timers, and what its CPG client received.
class Member final : public TotemNodeHost, public CpgClient {
 public:
  Member(Net* net, NodeId id, const TotemConfig& config, const std::vector<NodeId>& nodelist);
  TotemNode& node() { return *node_; }
  const TotemNode& node() const { return *node_; }
  NodeId id() const { return id_; }

  struct Delivery {
    NodeId from;
    std::string payload;
  };
  std::vector<Delivery> deliveries;
  std::vector<std::vector<NodeId>> views;
  std::vector<std::pair<Duration, std::vector<NodeId>>> rings;  // when each ring formed, members

  // TotemNodeHost
  MonoTime Now() override;
  void SetTimer(std::size_t timer, Duration delay) override;
  void CancelTimer(std::size_t timer) override;
  void SendDatagram(NodeId to, std::span<const std::uint8_t> bytes) override;
  void MulticastDatagram(std::span<const std::uint8_t> bytes) override;
  std::uint64_t Random() override { return rng_(); }
  void OnRingFormed(const RingId& ring, const std::vector<NodeId>& members) override;
  // CpgClient
  void OnCpgDeliver(NodeId from, std::span<const std::uint8_t> payload) override {
    deliveries.push_back({from, std::string(payload.begin(), payload.end())});
  }
  void OnCpgView(const std::vector<NodeId>& members) override { views.push_back(members); }

  std::vector<std::uint64_t> timer_generation;  // a timer fires only if its generation is current
  bool retired = false;                         // replaced by a reboot: its timers never fire

 private:
  Net* net_;
  NodeId id_;
  std::unique_ptr<TotemNode> node_;
  std::mt19937_64 rng_;
};

class Net {
 public:
  // `nodes` nodes 1..n with `config`; every datagram takes `delay` (loopback too).
  Net(std::size_t nodes, const TotemConfig& config, Duration delay = 100us);

  // Every node starts in a formed ring with every process joined.
  void StartFormed();
  Member& member(NodeId id) { return *members_.at(id - 1); }
  std::size_t size() const { return members_.size(); }
  Duration now() const { return now_; }

  // Runs events until `until` (absolute).
  void RunUntil(Duration until);
  // Runs `fn` at `at` (absolute).
  void At(Duration at, std::function<void()> fn);

  // Decides whether a datagram from -> to is dropped (loopback is never dropped). Default: none.
  std::function<bool(NodeId from, NodeId to, std::span<const std::uint8_t>)> drop;
  // Cuts: nodes in different groups do not hear each other (group 0: everybody else).
  void Partition(const std::vector<std::set<NodeId>>& groups);
  void Heal() { group_.clear(); }
  // The node's corosync is gone (no datagrams to or from it, no timers) / boots again.
  void Kill(NodeId id);
  void Boot(NodeId id, std::uint64_t last_ring_seq);

  std::uint64_t datagrams = 0;  // delivered, loopback excluded

 private:
  friend class Member;
  struct Event {
    Duration at;
    std::uint64_t order;
    std::function<void()> fn;
    bool operator>(const Event& o) const { return std::tie(at, order) > std::tie(o.at, o.order); }
  };
  void Schedule(Duration at, std::function<void()> fn);
  void Deliver(NodeId from, NodeId to, std::vector<std::uint8_t> bytes);
  bool Cut(NodeId a, NodeId b) const;

  TotemConfig config_;
  Duration delay_;
  Duration now_{0};
  std::uint64_t order_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<std::unique_ptr<Member>> members_;
  std::vector<std::unique_ptr<Member>> retired_;  // kept alive: their events may still be queued
  std::map<NodeId, int> group_;
  std::set<NodeId> dead_;
  std::vector<NodeId> nodelist_;
};

}  // namespace pbxstate::totem::testing
