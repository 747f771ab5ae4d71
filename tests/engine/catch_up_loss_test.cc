// A catch-up pull under heavy random loss (swarm seeds 17796 and 14682: 20-27% loss on every
// link to the end, a restarted node pulled an origin of 4 pages from two donors in turn for 45 s,
// every session ending in sync_timeout with 1 to 3 of them): the puller keeps a page that comes
// past a gap (engine/README.md, "Catch-up sessions").

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "codec.h"
#include "frame_peek.h"
#include "mini_net.h"

namespace pbxstate {
namespace {

using namespace testing_mini_net;
using namespace std::chrono_literals;

// Node 1 alone holds kDevices devices that node 2 lacks; node 2
// joins its view and pulls them. `lose` decides, per SYNC_PAGE of node 1 to node 2, whether it is
// lost, from its session, its page number, whether it is the session's last and how many copies
// of it were sent before; every copy's send time is kept.
class LossyPull {
 public:
  static constexpr int kDevices = 400;  // several pages of max_frame_bytes
  using Rule = std::function<bool(std::uint32_t session, std::uint32_t page, bool last, int copy)>;

  LossyPull(std::size_t window, Rule rule)
      : net(2, MembershipSource::kTransport,
            [window](EngineConfig& c) {
              c.anti_entropy_interval = 0ms;  // only the catch-up session may repair
              c.sync_window_pages = window;
              c.sync_retransmit = 100ms;  // the retransmit timer: at least 20 ms, until a sample 100 ms
              c.sync_timeout = 1s;        // at most 500 ms
            }),
        lose(std::move(rule)) {
    net.HoldApart(kDevices);
    net.drop = [this](NodeId from, NodeId to, std::span<const std::uint8_t> b) { return Lost(from, to, b); };
    net.SetView({1, 2});
  }

  bool CaughtUp() {
    return net.engines[2]->Digest() == net.engines[1]->Digest() &&
           net.engines[2]->ClusterDeviceState("d" + std::to_string(kDevices - 1)) == DeviceState::kBusy;
  }

  MiniNet net;
  Rule lose;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<MonoTime>> sends;  // (session, page)
  std::uint32_t last_page = 0;                                                     // numbered last

 private:
  bool Lost(NodeId from, NodeId to, std::span<const std::uint8_t> b) {
    if (from != 1 || to != 2) return false;
    codec::FrameHeader h{};
    std::span<const std::uint8_t> body;
    codec::SyncPage p;
    if (!testing_frame_peek::PeekHeader(b, &h, &body) || h.type != codec::FrameType::kSyncPage ||
        codec::DecodeSyncPage(body, testing_frame_peek::DefaultDecodeLimits(), &p)) {
      return false;
    }
    const codec::SyncPageAddressee& a = p.to.front();
    if (a.last) last_page = a.page;
    std::vector<MonoTime>& copies = sends[{a.session, a.page}];
    copies.push_back(net.now);
    return lose(a.session, a.page, a.last, static_cast<int>(copies.size()) - 1);
  }
};

// The session's last page comes once, past a gap (the first copy of the page before it is lost),
// and every later copy of it is lost. Before, the puller dropped it, the session timed out waiting
// for it, and every next session, from the watermark again, lost the same way: node 2 never caught
// up. Kept, it ends the session once the gap fills, and the donor never sends it again.
TEST(CatchUpLoss, ThePageThatEndsASessionIsKeptWhenItComesPastAGap) {
  LossyPull quiet(8, [](std::uint32_t, std::uint32_t, bool, int) { return false; });
  quiet.net.Run(1s);
  ASSERT_TRUE(quiet.CaughtUp());
  const std::uint32_t last = quiet.last_page;  // the same cut in every session
  ASSERT_GE(last, 2u);

  LossyPull pull(8, [last](std::uint32_t, std::uint32_t page, bool is_last, int copy) {
    return is_last ? copy > 0 : page + 1 == last && copy == 0;
  });
  pull.net.Run(5s);
  const EngineStats& stats = pull.net.engines[2]->stats();
  EXPECT_EQ(stats.sync_sessions_completed, 1u);
  EXPECT_EQ(stats.sync_sessions_abandoned, 0u);
  ASSERT_EQ(pull.last_page, last);
  const std::vector<MonoTime>& last_copies = pull.sends[{1, last}];
  const std::vector<MonoTime>& gap_copies = pull.sends[{1, last - 1}];
  ASSERT_EQ(gap_copies.size(), 2u);
  EXPECT_LT(last_copies.front(), gap_copies.back());  // it came before the gap filled
  EXPECT_EQ(last_copies.size(), 1u);                  // and ended the session: never sent again
  EXPECT_TRUE(pull.CaughtUp());
}

}  // namespace
}  // namespace pbxstate
