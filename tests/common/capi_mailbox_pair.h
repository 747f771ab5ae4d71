// Two engines on plain C callbacks (nodes 2 and 3 of a view {1, 2, 3}) whose mailbox repair
// moves a mailbox that only node 2 holds to node 3, on a network where a unicast reaches every
// node (CPG): what the tests of pbxstate_engine_on_overheard (tests/engine/capi) and of the C
// CPG host (tests/transports/corosync) hand node 1 as the unicasts it overheard.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "pbxstate/c_api.h"

namespace pbxstate::testing {

class CMailboxPair {
 public:
  static constexpr const char* kMailbox = "a@default";
  static constexpr std::uint32_t kNewMessages = 5;

  // A frame one of the pair sent: to 0 for a broadcast.
  struct Sent {
    pbxstate_node_id from = 0;
    pbxstate_node_id to = 0;
    std::vector<std::uint8_t> bytes;
  };

  // Creates and starts both engines (node 2 holding kMailbox) and runs them against each other
  // on a virtual clock, 10 ms a step, for at most `steps` steps, until node 3 holds the mailbox.
  // Frames to node 1 go nowhere. Returns whether node 3 got it; the unicasts from node 2 to
  // node 3 are in unicasts_2_to_3(), in the order sent (entries among them).
  bool Run(int steps = 1000) {
    for (Node& n : nodes_) Create(&n);
    pbxstate_mailbox_counts counts{kNewMessages, 0, 0};
    if (pbxstate_engine_set_mailbox(nodes_[0].engine, kMailbox, std::string(kMailbox).size(), &counts) != PBXSTATE_OK) {
      return false;
    }
    nodes_[0].outbox.clear();  // its UPDATES are lost: the repair is what brings the mailbox
    for (int step = 0; step < steps && !Holds(nodes_[1].engine); ++step) {
      for (Node& n : nodes_) {
        n.now += 10'000'000;
        pbxstate_engine_on_timer(n.engine);
      }
      Route();
    }
    return Holds(nodes_[1].engine);
  }

  const std::vector<Sent>& unicasts_2_to_3() const { return unicasts_2_to_3_; }

  // The pair's wall clock, the host's own (a record more than max_clock_skew ahead of a node's
  // wall clock is refused there): an overhearing node's env uses it too.
  static std::int64_t WallNs(void* /*user*/) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Whether `engine` holds kMailbox with kNewMessages new messages.
  static bool Holds(const pbxstate_engine* engine) {
    pbxstate_mailbox_value v{};
    return pbxstate_engine_mailbox(engine, kMailbox, std::string(kMailbox).size(), &v) == PBXSTATE_OK &&
           v.counts.new_messages == kNewMessages;
  }

  CMailboxPair() = default;
  CMailboxPair(const CMailboxPair&) = delete;  // the engines' callbacks point into nodes_
  CMailboxPair& operator=(const CMailboxPair&) = delete;
  ~CMailboxPair() {
    for (Node& n : nodes_) pbxstate_engine_destroy(n.engine);
  }

 private:
  struct Node {
    explicit Node(pbxstate_node_id node) : id(node) {}
    pbxstate_node_id id;
    std::int64_t now = 1'000'000'000;
    std::vector<Sent> outbox;
    pbxstate_engine* engine = nullptr;
  };

  static Node* N(void* u) { return static_cast<Node*>(u); }
  static int Keep(void* u, pbxstate_node_id to, const std::uint8_t* f, std::size_t n) {
    N(u)->outbox.push_back({N(u)->id, to, std::vector<std::uint8_t>(f, f + n)});
    return PBXSTATE_SEND_OK;
  }

  static void Create(Node* n) {
    pbxstate_config cfg;
    pbxstate_config_init(&cfg);
    cfg.node_id = n->id;
    cfg.incarnation = 100 + n->id;
    cfg.membership = PBXSTATE_MEMBERSHIP_TRANSPORT;
    pbxstate_env env{};
    env.user = n;
    env.now_ns = [](void* u) { return N(u)->now; };
    env.wall_now_ns = WallNs;
    env.schedule_wakeup = [](void*, std::int64_t) {};  // every step calls on_timer
    env.broadcast = [](void* u, const std::uint8_t* f, std::size_t len) { return Keep(u, 0, f, len); };
    env.unicast = Keep;
    env.random = [](void* u) { return std::uint64_t{N(u)->id}; };
    env.unicast_reaches_everyone = 1;
    pbxstate_engine_create(&cfg, &env, &n->engine, nullptr, 0);
    const pbxstate_node_id members[] = {1, 2, 3};
    pbxstate_engine_on_membership(n->engine, 1, members, 3);
    pbxstate_engine_start(n->engine);
  }

  // Every frame of the pair to the other one (a broadcast too); a unicast from node 2 to node 3
  // is also kept for node 1.
  void Route() {
    for (Node& from : nodes_) {
      std::vector<Sent> out;
      out.swap(from.outbox);
      for (const Sent& s : out) {
        if (s.to == 1) continue;
        if (s.from == 2 && s.to == 3) unicasts_2_to_3_.push_back(s);
        Node& other = nodes_[from.id == 2 ? 1 : 0];
        pbxstate_engine_on_frame(other.engine, from.id, s.bytes.data(), s.bytes.size());
      }
    }
  }

  Node nodes_[2] = {Node(2), Node(3)};
  std::vector<Sent> unicasts_2_to_3_;
};

}  // namespace pbxstate::testing
