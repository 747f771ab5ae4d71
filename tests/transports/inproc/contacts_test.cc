// Every contact of an AOR, per server: several contacts on one node, each with its own expiry,
// path and user agent; removal of one or all; the max_contacts_per_aor bound; an AOR on two
// servers at once and a contact that moves between them.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class Contacts : public ::testing::Test {
 protected:
  void SetUp() override {
    opt_.nodes = 3;
    opt_.seed = 5;
    opt_.membership = MembershipSource::kHeartbeat;
    opt_.engine.max_contacts_per_aor = 3;
    c_ = MakeCluster(opt_);
    ASSERT_TRUE(c_);
    PBX_ASSERT_OK(c_->Advance(seconds(3)));
    ASSERT_TRUE(c_->Converged());
  }
  RegistrationInfo Info(const std::string& contact, Duration expires_in, const std::string& path = "",
                        const std::string& user_agent = "") {
    RegistrationInfo info;
    info.contact = contact;
    info.expires = c_->wall_now() + expires_in;
    info.path = path;
    info.user_agent = user_agent;
    return info;
  }
  // The contacts node i sees for `aor`, as "node contact" strings in the engine's order.
  std::vector<std::string> Seen(std::size_t i, const std::string& aor) const {
    std::vector<std::string> out;
    for (const RegistrationView& v : c_->RegistrationsAt(i, aor)) out.push_back(std::to_string(v.node) + " " + v.info.contact);
    return out;
  }
  inproc::ClusterOptions opt_;
  std::unique_ptr<inproc::Cluster> c_;
};

TEST_F(Contacts, EveryContactOfAnAorReachesEveryNodeWithItsOwnFields) {
  PBX_ASSERT_OK(c_->SetRegistration(0, "alice", Info("sip:alice@198.18.0.20", seconds(600), "<sip:edge1;lr>", "desk")));
  PBX_ASSERT_OK(c_->SetRegistration(0, "alice", Info("sip:alice@198.18.0.21", seconds(300), "", "softphone")));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  ASSERT_TRUE(c_->Converged());
  const std::vector<std::string> both{"1 sip:alice@198.18.0.20", "1 sip:alice@198.18.0.21"};
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(Seen(i, "alice"), both) << "node " << i + 1;
  const auto at2 = c_->RegistrationsAt(2, "alice");
  ASSERT_EQ(at2.size(), 2u);
  EXPECT_EQ(at2[0].info.path, "<sip:edge1;lr>");
  EXPECT_EQ(at2[0].info.user_agent, "desk");
  EXPECT_EQ(at2[1].info.path, "");
  EXPECT_EQ(at2[1].info.user_agent, "softphone");
  const auto loc = c_->engine(2)->Locate("alice");
  ASSERT_EQ(loc.size(), 2u);
  EXPECT_EQ(loc[0].path.empty() ? loc[1].path : loc[0].path, "<sip:edge1;lr>");
  // Each expires at its own expiry.
  PBX_ASSERT_OK(c_->Advance(seconds(300)));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(Seen(i, "alice"), std::vector<std::string>{both[0]});
}

TEST_F(Contacts, RemovingOneContactLeavesTheOthersAndRemovingTheAorRemovesAll) {
  PBX_ASSERT_OK(c_->SetRegistration(1, "bob", Info("sip:bob@a", seconds(600))));
  PBX_ASSERT_OK(c_->SetRegistration(1, "bob", Info("sip:bob@b", seconds(600))));
  PBX_ASSERT_OK(c_->SetRegistration(2, "bob", Info("sip:bob@c", seconds(600))));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  EXPECT_EQ(Seen(0, "bob"), (std::vector<std::string>{"2 sip:bob@a", "2 sip:bob@b", "3 sip:bob@c"}));
  PBX_ASSERT_OK(c_->RemoveContact(1, "bob", "sip:bob@a"));
  PBX_ASSERT_OK(c_->RemoveContact(1, "bob", "sip:bob@nowhere"));  // not held: not an error
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  EXPECT_EQ(Seen(0, "bob"), (std::vector<std::string>{"2 sip:bob@b", "3 sip:bob@c"}));
  PBX_ASSERT_OK(c_->RemoveRegistration(1, "bob"));  // node 2's contacts only
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  ASSERT_TRUE(c_->Converged());
  EXPECT_EQ(Seen(0, "bob"), std::vector<std::string>{"3 sip:bob@c"});
}

TEST_F(Contacts, ANewContactAtTheBoundReplacesTheOneExpiringFirst) {
  PBX_ASSERT_OK(c_->SetRegistration(0, "carol", Info("sip:carol@1", seconds(900))));
  PBX_ASSERT_OK(c_->SetRegistration(0, "carol", Info("sip:carol@2", seconds(300))));
  PBX_ASSERT_OK(c_->SetRegistration(0, "carol", Info("sip:carol@3", seconds(600))));
  // At the bound (3), a refresh of a held contact replaces nothing.
  PBX_ASSERT_OK(c_->SetRegistration(0, "carol", Info("sip:carol@2", seconds(200))));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  EXPECT_EQ(Seen(1, "carol").size(), 3u);
  // A fourth contact replaces sip:carol@2, the one expiring first.
  PBX_ASSERT_OK(c_->SetRegistration(0, "carol", Info("sip:carol@4", seconds(600))));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  ASSERT_TRUE(c_->Converged());
  const std::vector<std::string> want{"1 sip:carol@1", "1 sip:carol@3", "1 sip:carol@4"};
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(Seen(i, "carol"), want) << "node " << i + 1;
  // Equal expiries: the smallest contact URI goes.
  PBX_ASSERT_OK(c_->SetRegistration(0, "carol", Info("sip:carol@1", seconds(100))));
  PBX_ASSERT_OK(c_->SetRegistration(0, "carol", Info("sip:carol@3", seconds(100))));
  PBX_ASSERT_OK(c_->SetRegistration(0, "carol", Info("sip:carol@5", seconds(600))));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  EXPECT_EQ(Seen(2, "carol"), (std::vector<std::string>{"1 sip:carol@3", "1 sip:carol@4", "1 sip:carol@5"}));
}

TEST_F(Contacts, ContactsTogetherLongerThanTheBoundAreRefused) {
  RegistrationInfo info = Info("sip:dave@1", seconds(60));
  info.user_agent.assign(opt_.engine.max_contact_bytes, 'u');
  const Status s = c_->SetRegistration(0, "dave", info);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("max_contact_bytes"), std::string::npos) << s.message();
}

// One AOR on two servers at once (a call forks to both), then the desk phone's contact moves
// from one server to the other: during the move both list it, after the old one's removal one.
TEST_F(Contacts, ForkingAndAContactMovingBetweenServers) {
  PBX_ASSERT_OK(c_->SetRegistration(0, "erin", Info("sip:erin@desk", seconds(600))));
  PBX_ASSERT_OK(c_->SetRegistration(1, "erin", Info("sip:erin@mobile", seconds(600))));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  auto loc = c_->engine(2)->Locate("erin");
  ASSERT_EQ(loc.size(), 2u);
  EXPECT_EQ(std::set<NodeId>({loc[0].node, loc[1].node}), (std::set<NodeId>{1, 2}));
  PBX_ASSERT_OK(c_->SetRegistration(1, "erin", Info("sip:erin@desk", seconds(600))));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  EXPECT_EQ(Seen(2, "erin"), (std::vector<std::string>{"1 sip:erin@desk", "2 sip:erin@desk", "2 sip:erin@mobile"}));
  PBX_ASSERT_OK(c_->RemoveContact(0, "erin", "sip:erin@desk"));
  PBX_ASSERT_OK(c_->Advance(seconds(1)));
  ASSERT_TRUE(c_->Converged());
  EXPECT_EQ(Seen(2, "erin"), (std::vector<std::string>{"2 sip:erin@desk", "2 sip:erin@mobile"}));
  // Node 1's removal of the contact does not touch node 2's entry of the same contact.
  loc = c_->engine(0)->Locate("erin");
  ASSERT_EQ(loc.size(), 2u);
  EXPECT_EQ(loc[0].node, 2u);
}

}  // namespace
}  // namespace pbxstate::testing
