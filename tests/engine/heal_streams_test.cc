// Streams at a heal on CPG (issue 15; engine/README.md, "Catch-up sessions", "Following a
// stream"): eight nodes split 5/3 as in scenarios/call-routing-partition.yaml, each registering
// while cut off. At the heal the small side pulls five origins with four pull slots each, the
// large side three. Where a unicast reaches every node, the pullers start different origins first
// and follow each other's streams without a slot, so no origin is left to run alone at the end.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "codec.h"
#include "frame_peek.h"
#include "mini_net.h"

namespace pbxstate {
namespace {

using namespace testing_mini_net;
using namespace std::chrono_literals;

// The split of scenarios/call-routing-partition.yaml in small: nodes 1 to 5 and 6 to 8 apart
// from the start, each registering kEntriesPerNode AORs of its own; the heal (HealAndCountTrips)
// brings the small side 5 origins and the large side 3.
struct SplitHeal {
  static constexpr int kEntriesPerNode = 1500;

  explicit SplitHeal(bool unicast_reaches_everyone, Duration anti_entropy_interval = 0ms)
      : net(8, MembershipSource::kTransport, [=](EngineConfig& c) { c.anti_entropy_interval = anti_entropy_interval; },
            unicast_reaches_everyone) {
    net.delay = 2ms;
    net.deliver_overheard = unicast_reaches_everyone;  // as CPG delivers a unicast (CpgEnv)
    net.SetView({1, 2, 3, 4, 5});
    net.SetView({6, 7, 8});
    EXPECT_EQ(net.engines.RegisterOwnAors(net.envs, kEntriesPerNode), 0);
    net.Run(1s);
    for (NodeId n = 1; n <= 8; ++n) {
      pages_sent_before += net.engines[n]->stats().sync_pages_sent;
      sessions_before += net.engines[n]->stats().sync_sessions_started;
    }
  }
  bool Agreed() const {
    for (NodeId n = 2; n <= 8; ++n) {
      if (net.engines.at(n)->Digest() != net.engines.at(1)->Digest()) return false;
    }
    return true;
  }
  // Heals and runs in steps of one one-way trip until every node holds the same entries (at most
  // 10 s); returns the trips from the first catch-up request on. Counts the streams each donor
  // opened per origin (a page whose every addressee is at its page 0).
  int HealAndCountTrips(const std::vector<NodeId>& early = {}, Duration lead = 0ms) {
    std::optional<MonoTime> first_request;
    net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> b) {
      codec::FrameHeader h{};
      std::span<const std::uint8_t> body;
      if (!testing_frame_peek::PeekHeader(b, &h, &body)) return false;
      // `early`'s digests reach only each other: they pull from each other, one member a stream.
      const auto is_early = [&](NodeId n) { return std::find(early.begin(), early.end(), n) != early.end(); };
      if (h.type == codec::FrameType::kDigest && early_digests_to_each_other && is_early(from) && !is_early(to)) return true;
      codec::Digest digest{};
      const bool join_digest = h.type == codec::FrameType::kDigest && !codec::DecodeDigest(body, &digest) &&
                               digest.mode == codec::DigestMode::kJoin;
      if (h.type == codec::FrameType::kDigest && digest_lag && (join_digest || !lag_join_digests_only)) {
        const Duration lag = digest_lag(from, to);
        if (lag > Duration{0}) {
          // Held back: queued in time order, after the frames already due by then.
          const Frame f{net.now + net.delay + lag, from, to, {b.begin(), b.end()}};
          net.queue.insert(std::upper_bound(net.queue.begin(), net.queue.end(), f.at,
                                            [](MonoTime at, const Frame& q) { return at < q.at; }),
                           f);
          return true;  // not queued again by MiniNet (an overheard digest is ignored anyway)
        }
      }
      if (h.type == codec::FrameType::kSyncRequest && !first_request) first_request = net.now;
      codec::SyncPage p{};
      if (h.type != codec::FrameType::kSyncPage || codec::DecodeSyncPage(body, testing_frame_peek::DefaultDecodeLimits(), &p)) return false;
      if (std::all_of(p.to.begin(), p.to.end(), [](const auto& a) { return a.page == 0; })) {
        opened.insert({p.origin, from, net.now});  // a shared page is sent once per node: one entry
      }
      return false;
    };
    // The merged view reaches `early` first (on emu, the join digests that two nodes sent each
    // other came 50 ms before the others' and they pulled from each other, one member a stream).
    // Their digests reach only each other (early_digests_to_each_other).
    const std::vector<NodeId> all = net.AllIds();
    ++net.view_id;
    for (NodeId id : early) net.engines[id]->OnMembership({net.view_id, all});
    if (!early.empty()) net.Run(lead);
    for (NodeId id : all) {
      if (std::find(early.begin(), early.end(), id) == early.end()) net.engines[id]->OnMembership({net.view_id, all});
    }
    for (int step = 0; step < 5000 && !Agreed(); ++step) net.Run(net.delay);
    EXPECT_TRUE(Agreed());
    for (NodeId n = 1; n <= 8; ++n) {
      pages_sent += net.engines[n]->stats().sync_pages_sent;
      sessions += net.engines[n]->stats().sync_sessions_started;
    }
    pages_sent -= pages_sent_before;
    sessions -= sessions_before;
    EXPECT_TRUE(first_request.has_value());
    net.drop = nullptr;  // it refers to this call's locals
    return static_cast<int>((net.now - first_request.value_or(net.now)) / net.delay);
  }
  std::map<NodeId, int> StreamsPerOrigin() const {
    std::map<NodeId, int> n;
    for (const auto& [origin, donor, at] : opened) ++n[origin];
    return n;
  }
  MiniNet net;
  std::uint64_t pages_sent_before = 0, sessions_before = 0, pages_sent = 0, sessions = 0;
  bool early_digests_to_each_other = true;  // else `early`'s digests reach every node
  // Extra one-way time of a digest from `from` to `to`, if set (the join digests' order per puller).
  std::function<Duration(NodeId, NodeId)> digest_lag;
  bool lag_join_digests_only = false;  // digest_lag holds back join digests, not offers or replies
  std::set<std::tuple<NodeId, NodeId, MonoTime>> opened;  // (origin, donor, when) of each stream
};

// Before (every node starting its wants in origin order, a want waiting for a pull slot until a
// pull ended): the small side's nodes all started origins 1 to 4 and origin 5 only once one of
// those ended: 40 trips from the first request to agreement, 552 pages, 30 pulls. After: 24
// trips, 558 pages (followers go round to the page they joined at), 32 pulls (two refused as
// busy: five origins asked of one donor with max_sync_serves 4). One origin's 67 pages alone
// take about 20 trips (a window of 8 after slow start). With the owner's join offer awaited
// (route20's Want::owner_due), then with the owner asked at once (OwnerOfferExpected): 22 trips,
// 558 pages, 30 pulls, none refused (each owner streams its own).
TEST(HealStreams, EveryOriginIsStreamedOnceAndNoneRunsAloneAtTheEnd) {
  SplitHeal heal(/*unicast_reaches_everyone=*/true);
  const int trips = heal.HealAndCountTrips();
  std::printf("split 5/3 healed on CPG: agreed %d trips after the first request, %llu pages sent, %llu pulls started\n",
              trips, static_cast<unsigned long long>(heal.pages_sent), static_cast<unsigned long long>(heal.sessions));
  const std::map<NodeId, int> streams = heal.StreamsPerOrigin();
  EXPECT_EQ(streams.size(), 8u);
  for (const auto& [origin, n] : streams) EXPECT_EQ(n, 1) << "origin " << origin;
  EXPECT_LT(trips, 30);
  // Followers go round to where they joined: a few pages more than one stream per origin
  // (8 x 67), not a second stream's worth.
  EXPECT_LT(heal.pages_sent, 8u * 67u + 67u / 2u);
}

// Nodes 3 and 8 get the merged view 20 ms before the others and pull from each other: node 8
// streams origins 6 to 8 to node 3 alone, and node 3 origins 1, 2, 4, 5 to node 8 alone, as plain
// pages. The others, overhearing those pages, join those streams rather than open their own.
// Before (only shared pages noted): 16 streams for the 8 origins, 1,046 pages. Here the join
// digests of nodes 3 and 8 to the others are lost (early_digests_to_each_other). With route20's
// wait for the owner's offer (Want::owner_due, which never came here) 45 trips and 560 pages;
// without it, and with the owner asked at once (OwnerOfferExpected), 25 trips and 582 pages.
TEST(HealStreams, AStreamOfOneMemberIsFollowedToo) {
  SplitHeal heal(/*unicast_reaches_everyone=*/true);
  const int trips = heal.HealAndCountTrips({3, 8}, 6ms);
  std::printf("split 5/3, nodes 3 and 8 healed 6 ms first: agreed %d trips after the first request, %llu pages sent\n",
              trips, static_cast<unsigned long long>(heal.pages_sent));
  for (const auto& [origin, n] : heal.StreamsPerOrigin()) EXPECT_EQ(n, 1) << "origin " << origin;
  EXPECT_LT(heal.pages_sent, 8u * 67u + 67u);
}

// Nodes 3 and 8 get the merged view 20 ms first and their digests reach every node first: every
// puller of a side asks one donor, the small side five origins of node 3 with max_sync_serves 4,
// and two requests are refused as busy while node 3 is the only donor they know. The other
// digests come a trip later; a donor ranked first then is asked at once, not after the pause
// that followed the refusal (sync_retransmit and up to as long again). Before: 153 trips.
TEST(HealStreams, ADonorThatComesAfterABusyRefusalIsAskedAtOnce) {
  SplitHeal heal(/*unicast_reaches_everyone=*/true);
  heal.early_digests_to_each_other = false;
  const int trips = heal.HealAndCountTrips({3, 8}, 20ms);
  EXPECT_LT(trips, 40);
}

// The join digests of a side reach the pullers of the other side in orders of their own, as on
// emu's ring: each side's first node (6, and 1 for the other side) has its digests to its first
// two joiners out in one token visit and the rest a rotation later; its side's other nodes send
// theirs to everyone, a millisecond apart each. So nodes 1 and 2 read 6's offer first and nodes
// 3 to 5 read 7's; nodes 6 and 7 read 1's and node 8 2's. Before: each puller asked the first
// donor it read, ranked the owner first only among the offers read by then, and every origin of
// the small side had two streams, at nodes 6 and 7 (on emu at this heal, nodes 6 and 7 served
// about 430 pages each, `sim/emu/README.md`, "Following streams at the heal"): 24 trips, 756
// pages, 32 pulls (origins 6 to 8 streamed by both). After: every puller waits for the owner's
// join offer (route20's Want::owner_due), one stream per origin at its owner: 23 trips, 558 pages,
// 30 pulls; with the owner asked at once instead (OwnerOfferExpected): 22 trips, the same pages.
TEST(HealStreams, PullersThatReadTheJoinDigestsInAnotherOrderAskOneDonor) {
  SplitHeal heal(/*unicast_reaches_everyone=*/true);
  heal.digest_lag = [](NodeId from, NodeId to) {
    const NodeId first = from <= 5 ? 1 : 6;                 // the first node of the sender's side
    const NodeId first_joiner = from <= 5 ? 6 : 1;          // its joiners in id order
    const Duration visit = 1ms, rotation = (from <= 5 ? 5 : 3) * visit;
    if (from == first) return to < first_joiner + 2 ? Duration{0} : rotation;
    return static_cast<int>(from - first) * visit;
  };
  const int trips = heal.HealAndCountTrips();
  std::printf("split 5/3, join digests read in other orders: agreed %d trips after the first request, %llu pages sent, %llu pulls started\n",
              trips, static_cast<unsigned long long>(heal.pages_sent), static_cast<unsigned long long>(heal.sessions));
  std::map<NodeId, std::set<NodeId>> donors;  // per origin
  for (const auto& [origin, donor, at] : heal.opened) donors[origin].insert(donor);
  for (const auto& [origin, d] : donors) {
    EXPECT_EQ(heal.StreamsPerOrigin().at(origin), 1) << "origin " << origin;
    EXPECT_EQ(d, std::set<NodeId>{origin}) << "origin " << origin << " streamed by its owner";
  }
  EXPECT_EQ(donors.size(), 8u);
  EXPECT_LT(heal.pages_sent, 8u * 67u + 67u / 2u);
  EXPECT_LT(trips, 30);
}

// The join digests of the small side reach the large side 30 ms late (a node's join digests go
// out over several token visits, and one whose view came later sends them later), while the
// heartbeats, the offers that answer them (HandleSummary) and the replies that answer those go
// as they come. So the large side reads the small side's origins first in offers and replies,
// the first offers those of anti-entropy (every 50 ms here) before any join digest. Before, only
// a want that a join digest raised waited for the owner's offer, and the large side asked node 2,
// whose offer came first, for every origin of the small side: node 2 streamed origins 1 to 5 (and
// 6 to 8 beside their owner), 1,095 pages, 32 pulls, 55 trips. Waiting for the owner's join
// digest for every want (tried) put each origin at its owner, 851 pages, but 70 trips: the join
// digests come join_digest_holdoff after the views, the anti-entropy offers sooner. Now a want
// that another node's digest raised asks the owner at once while its offer is on its way
// (OwnerOfferExpected): every stream at its owner, 855 pages, 30 pulls, 55 trips. Origins 6 to 8
// are streamed twice by their owners: a second stream opened by a puller whose request came
// after the first ended (not a second donor).
TEST(HealStreams, PullersThatReadAnOfferBeforeAnyJoinDigestAskTheOwner) {
  SplitHeal heal(/*unicast_reaches_everyone=*/true, /*anti_entropy_interval=*/50ms);
  heal.lag_join_digests_only = true;
  heal.digest_lag = [](NodeId from, NodeId to) { return from <= 5 && to > 5 ? Duration{30ms} : Duration{0}; };
  const int trips = heal.HealAndCountTrips();
  std::map<NodeId, std::set<NodeId>> donors;  // per origin
  for (const auto& [origin, donor, at] : heal.opened) donors[origin].insert(donor);
  std::printf("split 5/3, the small side's join digests 30 ms late: agreed %d trips after the first request, %llu pages sent, %llu pulls started\n",
              trips, static_cast<unsigned long long>(heal.pages_sent), static_cast<unsigned long long>(heal.sessions));
  for (const auto& [origin, d] : donors) {
    std::printf("  origin %u: %d streams, donors", origin, heal.StreamsPerOrigin().at(origin));
    for (NodeId n : d) std::printf(" %u", n);
    std::printf("\n");
  }
  for (const auto& [origin, d] : donors) {
    EXPECT_LE(heal.StreamsPerOrigin().at(origin), 2) << "origin " << origin;
    EXPECT_EQ(d, std::set<NodeId>{origin}) << "origin " << origin << " streamed by its owner";
  }
  EXPECT_EQ(donors.size(), 8u);
  EXPECT_LT(heal.pages_sent, 8u * 67u + 5u * 67u);  // 1,095 before
  EXPECT_LT(trips, 60);
}

// Where a unicast reaches one node, nothing is overheard and wants start in origin order: a
// stream per puller, as before.
TEST(HealStreams, NothingIsFollowedWhereAUnicastReachesOneNode) {
  SplitHeal heal(/*unicast_reaches_everyone=*/false);
  heal.HealAndCountTrips();
  // 3 pullers of 5 origins and 5 of 3: 30 streams of about 67 pages.
  EXPECT_GE(heal.pages_sent, 30u * 60u);
}

}  // namespace
}  // namespace pbxstate
