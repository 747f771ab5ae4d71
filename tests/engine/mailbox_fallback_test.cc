// The whole-set fallback of mailbox repair (engine/README.md, "Mailbox repair", "The fallback's
// clock"): it is for range exchanges that keep failing (heavy loss), so on a network that loses
// nothing it must never run, however many differences come and go.
#include <gtest/gtest.h>

#include <string>

#include "codec.h"
#include "mini_net.h"

namespace pbxstate {
namespace {

using namespace testing_mini_net;

// Whether `b` is a SYNC_REQUEST for the mailbox set (the whole-set pull).
bool IsWholeSetPull(std::span<const std::uint8_t> b) {
  codec::FrameHeader h;
  std::span<const std::uint8_t> body;
  if (codec::DecodeHeader(b, {1400, 255, 512}, &h, &body) || h.type != codec::FrameType::kSyncRequest) return false;
  codec::SyncRequest r;
  return !codec::DecodeSyncRequest(body, &r) && r.origin == codec::kMailboxOrigin;
}

// The cases below: node 1 ahead of node 2, which sends no summary of its own (anti-entropy off
// there, as when its own rounds pick other peers; the others' rounds run every 200 ms). Counts
// the whole-set pulls sent, and loses node 1's UPDATES to node 2 while lose_updates_to_2 is set.
struct QuietPeerNet {
  QuietPeerNet(int nodes, MembershipSource membership)
      : net(nodes, membership, [](EngineConfig& c) {
          c.anti_entropy_interval = c.node_id == 2 ? Duration::zero() : Duration(200ms);
        }) {
    net.drop = [this](NodeId from, NodeId to, std::span<const std::uint8_t> b) {
      whole_set_pulls += IsWholeSetPull(b);
      return lose_updates_to_2 && from == 1 && to == 2 && b.size() > 3 && b[3] == 1;  // UPDATES
    };
  }
  MiniNet net;
  int whole_set_pulls = 0;
  bool lose_updates_to_2 = false;
};

// With heartbeat membership, nodes whose heartbeat summaries are equal send each other no
// summary and no digest. A node that received a digest from a peer lacking one of its mailboxes
// (the peer behind, itself ahead) started the fallback's clock for that peer and repaired it;
// then the peer's records never changed its set, and the peer's equal summary came only in its
// heartbeats, which did not stop the clock. The next difference, sync_timeout or more later
// (here the next write; in a cluster, a partition's writes found at the heal), was taken for one
// that range exchanges had failed to repair for that long, and the node pulled the peer's whole
// mailbox set (two such pulls here before heartbeats stopped the clock). Node 1 writes, node 2
// misses each write (its UPDATES to node 2 are lost) and sends no summary of its own
// (anti-entropy off there, so only node 3's rounds reach it, as when its own rounds pick other
// peers), node 3 holds the write and hears node 2's digests; nothing else is lost.
TEST(MailboxFallback, NeverRunsWithoutLossWithHeartbeatMembership) {
  QuietPeerNet q(3, MembershipSource::kHeartbeat);
  MiniNet& net = q.net;
  int& whole_set_pulls = q.whole_set_pulls;
  bool& lose_updates_to_2 = q.lose_updates_to_2;
  net.Run(3s);
  for (int round = 0; round < 4; ++round) {
    const std::string box = std::to_string(100 + round) + "@default";
    lose_updates_to_2 = true;
    ASSERT_TRUE(net.engines[1]->SetMailbox(box, {static_cast<std::uint32_t>(round + 1), 0, 0}).ok());
    net.Run(10ms);
    lose_updates_to_2 = false;
    net.Run(4s);  // longer than sync_timeout (3 s): a clock left running is due at the next round
    for (NodeId n : {2u, 3u}) {
      ASSERT_TRUE(net.engines[n]->Mailbox(box)) << "round " << round << ", node " << n;
      EXPECT_EQ(net.engines[n]->Digest(), net.engines[1]->Digest()) << "round " << round << ", node " << n;
    }
  }
  EXPECT_EQ(whole_set_pulls, 0);
}

// A transport view change stops the fallback's clock (engine/README.md, "The fallback's clock").
// On real corosync (mailbox-heal-100k on emu) a same-side peer's digest started a node's clock
// during the cut and nothing of that peer came to stop it; at the merged views, 3.3 s later, the
// other side's join digests, which differ anyway, found it past sync_timeout, and the first one
// pulled a whole set. One way to such a clock: node 1, ahead, repairs node 2 through the range
// exchange that node 2's digest starts, and node 2's equal set is never shown to it. Nodes 3 and
// 4 are the other side, which writes during the cut. Nothing is lost at the heal.
TEST(MailboxFallback, AViewChangeRestartsTheClock) {
  QuietPeerNet q(4, MembershipSource::kTransport);
  MiniNet& net = q.net;
  int& whole_set_pulls = q.whole_set_pulls;
  bool& lose_updates_to_2 = q.lose_updates_to_2;
  for (NodeId n : {1u, 3u}) ASSERT_TRUE(net.engines[n]->SetMailbox(std::to_string(n) + "@default", {1, 0, 0}).ok());
  net.Run(1s);
  const auto side = [](NodeId n) { return n <= 2 ? 0 : 1; };
  net.cut = [&](NodeId from, NodeId to) { return side(from) != side(to); };
  net.SetView({1, 2});
  net.SetView({3, 4});
  lose_updates_to_2 = true;
  ASSERT_TRUE(net.engines[1]->SetMailbox("100@default", {2, 0, 0}).ok());
  ASSERT_TRUE(net.engines[3]->SetMailbox("300@default", {3, 0, 0}).ok());
  net.Run(10ms);
  lose_updates_to_2 = false;
  net.Run(1s);
  ASSERT_TRUE(net.engines[2]->Mailbox("100@default"));  // repaired by node 1's exchange
  ASSERT_EQ(whole_set_pulls, 0);
  net.Run(3s);  // past sync_timeout (3 s) since node 2's digest started node 1's clock
  net.cut = nullptr;
  net.SetView({1, 2, 3, 4});
  net.Run(3s);
  for (NodeId n : {2u, 3u, 4u}) EXPECT_EQ(net.engines[n]->Digest(), net.engines[1]->Digest()) << "node " << n;
  EXPECT_EQ(whole_set_pulls, 0);
}

// The view change's restart must not keep the fallback from a difference that range exchanges
// cannot settle: every UPDATES and MAILBOX_ENTRIES frame of node 1 is lost, so only a whole-set
// pull from node 1 brings its write to nodes 2-4 (as in swarm seed 87649), and node 5 joins
// while their clocks run.
TEST(MailboxFallback, StillRunsAfterAViewChange) {
  MiniNet net(5, MembershipSource::kTransport, [](EngineConfig& c) { c.anti_entropy_interval = 200ms; });
  int whole_set_pulls = 0;
  net.drop = [&](NodeId from, NodeId, std::span<const std::uint8_t> b) {
    whole_set_pulls += IsWholeSetPull(b);
    return from == 1 && b.size() > 3 && (b[3] == 1 || b[3] == 10);  // UPDATES, MAILBOX_ENTRIES
  };
  net.cut = [](NodeId from, NodeId to) { return (from == 5) != (to == 5); };
  net.SetView({1, 2, 3, 4});
  net.SetView({5});
  net.Run(1s);
  ASSERT_TRUE(net.engines[1]->SetMailbox("300@sales", {36, 4, 3}).ok());
  net.Run(2s);  // the lacking nodes' clocks run, short of sync_timeout
  ASSERT_EQ(whole_set_pulls, 0);
  net.cut = nullptr;
  net.SetView({1, 2, 3, 4, 5});
  net.Run(20s);
  for (NodeId n : {2u, 3u, 4u, 5u}) {
    const auto m = net.engines[n]->Mailbox("300@sales");
    ASSERT_TRUE(m) << "node " << n;
    EXPECT_EQ(m->writer, 1u) << "node " << n;
  }
  EXPECT_GT(whole_set_pulls, 0);
}

}  // namespace
}  // namespace pbxstate
