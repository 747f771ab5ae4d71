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
  MiniNet net(3, MembershipSource::kHeartbeat, [](EngineConfig& c) {
    c.anti_entropy_interval = c.node_id == 2 ? Duration::zero() : Duration(200ms);
  });
  int whole_set_pulls = 0;
  bool lose_updates_to_2 = false;
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> b) {
    whole_set_pulls += IsWholeSetPull(b);
    return lose_updates_to_2 && from == 1 && to == 2 && b.size() > 3 && b[3] == 1;  // UPDATES
  };
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

}  // namespace
}  // namespace pbxstate
