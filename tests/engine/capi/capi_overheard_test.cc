// pbxstate_engine_on_overheard (c_api.h): the C host's way to hand the engine the unicasts its
// transport carried for other nodes (engine/README.md, "Overheard entries"), with its refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "capi_mailbox_pair.h"
#include "capi_test_host.h"

namespace {

using pbxstate::testing::CMailboxPair;
using pbxstate_capi_test::Host;
using pbxstate_capi_test::TestConfig;

// Node 1 of the view {1, 2, 3} over the test host, its unicasts reaching every node or not.
struct OverhearingNode {
  Host host;
  pbxstate_engine* engine = nullptr;
  explicit OverhearingNode(int unicast_reaches_everyone) {
    pbxstate_env env = host.Env();
    env.unicast_reaches_everyone = unicast_reaches_everyone;
    env.wall_now_ns = CMailboxPair::WallNs;
    const pbxstate_config cfg = TestConfig(1);
    EXPECT_EQ(pbxstate_engine_create(&cfg, &env, &engine, nullptr, 0), PBXSTATE_OK);
    host.engine = engine;
    const pbxstate_node_id members[] = {1, 2, 3};
    EXPECT_EQ(pbxstate_engine_on_membership(engine, 1, members, 3), PBXSTATE_OK);
    EXPECT_EQ(pbxstate_engine_start(engine), PBXSTATE_OK);
  }
  ~OverhearingNode() { pbxstate_engine_destroy(engine); }
};

TEST(CApiOverheard, EntriesForAnotherNodeRepairThisOneAndNothingIsAnswered) {
  CMailboxPair pair;
  ASSERT_TRUE(pair.Run());
  ASSERT_FALSE(pair.unicasts_2_to_3().empty());
  OverhearingNode n(1);
  ASSERT_FALSE(CMailboxPair::Holds(n.engine));
  pbxstate_stats before{};
  ASSERT_EQ(pbxstate_engine_stats(n.engine, &before), PBXSTATE_OK);
  const std::size_t sent_before = n.host.sent.size();
  for (const CMailboxPair::Sent& s : pair.unicasts_2_to_3()) {
    ASSERT_EQ(pbxstate_engine_on_overheard(n.engine, 2, 3, s.bytes.data(), s.bytes.size()), PBXSTATE_OK);
  }
  EXPECT_TRUE(CMailboxPair::Holds(n.engine));
  pbxstate_stats after{};
  ASSERT_EQ(pbxstate_engine_stats(n.engine, &after), PBXSTATE_OK);
  EXPECT_EQ(after.records_applied, before.records_applied + 1);
  EXPECT_EQ(after.frames_out, before.frames_out);  // an overhearer answers nothing
  EXPECT_EQ(n.host.sent.size(), sent_before);
}

TEST(CApiOverheard, RefusedWhereAUnicastGoesToItsAddresseeAlone) {
  CMailboxPair pair;
  ASSERT_TRUE(pair.Run());
  OverhearingNode n(0);
  for (const CMailboxPair::Sent& s : pair.unicasts_2_to_3()) {
    EXPECT_EQ(pbxstate_engine_on_overheard(n.engine, 2, 3, s.bytes.data(), s.bytes.size()),
              PBXSTATE_E_FAILED_PRECONDITION);
  }
  EXPECT_NE(std::string(pbxstate_engine_last_error(n.engine)).find("unicast_reaches_everyone"), std::string::npos);
  EXPECT_FALSE(CMailboxPair::Holds(n.engine));
}

TEST(CApiOverheard, RefusesAFrameForThisNodeOrNoNodeAndANullFrame) {
  OverhearingNode n(1);
  const std::uint8_t byte = 0;
  EXPECT_EQ(pbxstate_engine_on_overheard(n.engine, 2, 1, &byte, 1), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pbxstate_engine_last_error(n.engine)).find("pbxstate_engine_on_frame"), std::string::npos);
  EXPECT_EQ(pbxstate_engine_on_overheard(n.engine, 2, PBXSTATE_NO_NODE, &byte, 1), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_on_overheard(n.engine, 2, 3, nullptr, 4), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_EQ(pbxstate_engine_on_overheard(nullptr, 2, 3, &byte, 1), PBXSTATE_E_INVALID_ARGUMENT);
  // Bytes that are no frame: ignored, not counted as dropped (nothing was this node's).
  pbxstate_stats before{};
  ASSERT_EQ(pbxstate_engine_stats(n.engine, &before), PBXSTATE_OK);
  EXPECT_EQ(pbxstate_engine_on_overheard(n.engine, 2, 3, &byte, 1), PBXSTATE_OK);
  EXPECT_EQ(pbxstate_engine_on_overheard(n.engine, 2, 3, nullptr, 0), PBXSTATE_OK);
  pbxstate_stats after{};
  ASSERT_EQ(pbxstate_engine_stats(n.engine, &after), PBXSTATE_OK);
  EXPECT_EQ(std::memcmp(after.dropped, before.dropped, sizeof after.dropped), 0);
}

}  // namespace
