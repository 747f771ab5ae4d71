// Engine::Locate: where a phone can be reached, from each node's own view.
#include <gtest/gtest.h>

#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class Location : public ::testing::Test {
 protected:
  void SetUp() override {
    opt_.nodes = 3;
    opt_.seed = 11;
    opt_.membership = MembershipSource::kHeartbeat;
    opt_.engine.departure_grace = seconds(5);
    c_ = MakeCluster(opt_);
    ASSERT_TRUE(c_);
    PBX_ASSERT_OK(c_->Advance(seconds(3)));
    ASSERT_TRUE(c_->Converged());
  }
  inproc::ClusterOptions opt_;
  std::unique_ptr<inproc::Cluster> c_;
};

TEST_F(Location, AnswersTheHolderWithReachabilityAndAge) {
  EXPECT_TRUE(c_->engine(0)->Locate("alice").empty());
  PBX_ASSERT_OK(c_->SetRegistration(1, "alice", "sip:alice@198.18.0.20", seconds(600)));
  PBX_ASSERT_OK(c_->Advance(milliseconds(100)));
  PBX_ASSERT_OK(c_->Advance(seconds(2)));
  const auto at0 = c_->engine(0)->Locate("alice");
  ASSERT_EQ(at0.size(), 1u);
  EXPECT_EQ(at0[0].node, 2u);  // node ids are index + 1
  EXPECT_EQ(at0[0].contact, "sip:alice@198.18.0.20");
  EXPECT_TRUE(at0[0].reachable);
  EXPECT_EQ(at0[0].status, ContactStatus::kReachable);
  // Learned within the first 100 ms after the change, asked 2 s later.
  EXPECT_GE(at0[0].age, seconds(2));
  EXPECT_LE(at0[0].age, seconds(2) + milliseconds(100));
  // The holder's own answer is exact and fresh.
  const auto at1 = c_->engine(1)->Locate("alice");
  ASSERT_EQ(at1.size(), 1u);
  EXPECT_TRUE(at1[0].reachable);
  EXPECT_GE(at1[0].age, seconds(2));
}

TEST_F(Location, PrefersReachableHoldersAndThisNode) {
  PBX_ASSERT_OK(c_->SetRegistration(0, "bob", "sip:bob@a", seconds(600)));
  PBX_ASSERT_OK(c_->SetRegistration(1, "bob", "sip:bob@b", seconds(600)));
  PBX_ASSERT_OK(c_->SetRegistration(2, "bob", RegistrationInfo{"sip:bob@c", c_->wall_now() + seconds(600),
                                                                  ContactStatus::kUnreachable, 0, {}, {}}));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  const auto at0 = c_->engine(0)->Locate("bob");
  ASSERT_EQ(at0.size(), 3u);
  EXPECT_EQ(at0[0].node, 1u);  // itself
  EXPECT_EQ(at0[1].node, 2u);
  EXPECT_EQ(at0[2].node, 3u);  // its contact does not answer qualify
  const auto at1 = c_->engine(1)->Locate("bob");
  ASSERT_EQ(at1.size(), 3u);
  EXPECT_EQ(at1[0].node, 2u);
}

TEST_F(Location, AGoneHolderIsUnreachableDuringItsGraceThenForgotten) {
  PBX_ASSERT_OK(c_->SetRegistration(2, "carol", "sip:carol@c", seconds(600)));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  PBX_ASSERT_OK(c_->Crash(2));
  // Suspected after suspect_after; its entries still count until the grace runs out.
  PBX_ASSERT_OK(c_->Advance(opt_.engine.suspect_after + 2 * opt_.engine.heartbeat_interval));
  const auto during = c_->engine(0)->Locate("carol");
  ASSERT_EQ(during.size(), 1u);
  EXPECT_FALSE(during[0].reachable);
  PBX_ASSERT_OK(c_->Advance(opt_.engine.departure_grace));
  EXPECT_TRUE(c_->engine(0)->Locate("carol").empty());
}

TEST_F(Location, ExpiredAndRemovedRegistrationsAreNotAnswers) {
  PBX_ASSERT_OK(c_->SetRegistration(1, "dave", "sip:dave@b", seconds(2)));
  PBX_ASSERT_OK(c_->SetRegistration(2, "dave", "sip:dave@c", seconds(600)));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  EXPECT_EQ(c_->engine(0)->Locate("dave").size(), 2u);
  PBX_ASSERT_OK(c_->RemoveRegistration(2, "dave"));
  PBX_ASSERT_OK(c_->Advance(seconds(2)));
  EXPECT_TRUE(c_->engine(0)->Locate("dave").empty());
}

}  // namespace
}  // namespace pbxstate::testing
