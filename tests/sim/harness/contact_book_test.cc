// The harness's model of every node's contacts (contact_book.h): contacts per (AOR, node), each
// with its own expiry, removal of one or all, and the max_contacts_per_aor bound.
#include "pbxstate/harness/contact_book.h"

#include <gtest/gtest.h>

namespace pbxstate::harness {
namespace {

using namespace std::chrono_literals;

TEST(ContactBook, ContactsOfOneAorLiveAndExpireEachOnItsOwn) {
  ContactBook b(8);
  EXPECT_FALSE(b.Set(1s, 1, "a", "sip:a@desk", 10s));
  EXPECT_FALSE(b.Set(1s, 1, "a", "sip:a@soft", 20s));
  EXPECT_FALSE(b.Set(1s, 2, "a", "sip:a@desk", 5s));  // the same URI on another node: its own
  EXPECT_TRUE(b.Holds("a", 1, 15s));
  EXPECT_TRUE(b.Holds("a", 2, 4999ms));
  EXPECT_FALSE(b.Holds("a", 2, 5s));
  EXPECT_EQ(b.Remove(15s, 1, "a", ""), std::vector<std::string>{"sip:a@soft"});  // desk expired
  EXPECT_FALSE(b.Registered("a", 15s));
}

TEST(ContactBook, RemovesOneOrAll) {
  ContactBook b(8);
  b.Set(0s, 1, "a", "sip:1", 10s);
  b.Set(0s, 1, "a", "sip:2", 10s);
  b.Set(0s, 1, "a", "sip:3", 10s);
  EXPECT_EQ(b.Remove(1s, 1, "a", "sip:2"), std::vector<std::string>{"sip:2"});
  EXPECT_TRUE(b.Remove(1s, 1, "a", "sip:2").empty());
  EXPECT_TRUE(b.Remove(1s, 2, "a", "").empty());
  EXPECT_EQ(b.Remove(1s, 1, "a", ""), (std::vector<std::string>{"sip:1", "sip:3"}));
  b.Set(2s, 3, "b", "sip:b", 10s);
  b.Crashed(3);
  EXPECT_FALSE(b.Registered("b", 2s));
}

TEST(ContactBook, ANewContactAtTheBoundReplacesTheOneExpiringFirstThenTheSmallestUri) {
  ContactBook b(2);
  b.Set(0s, 1, "a", "sip:z", 30s);
  b.Set(0s, 1, "a", "sip:y", 20s);
  EXPECT_FALSE(b.Set(1s, 1, "a", "sip:y", 25s));  // a refresh replaces nothing
  EXPECT_EQ(b.Set(2s, 1, "a", "sip:x", 40s), std::optional<std::string>("sip:y"));
  EXPECT_EQ(b.Set(3s, 1, "a", "sip:w", 40s), std::optional<std::string>("sip:z"));
  EXPECT_EQ(b.Set(4s, 1, "a", "sip:v", 50s), std::optional<std::string>("sip:w"));  // tie: smaller URI
  // An expired contact does not count against the bound.
  ContactBook c(1);
  c.Set(0s, 1, "a", "sip:1", 5s);
  EXPECT_FALSE(c.Set(5s, 1, "a", "sip:2", 10s));
  // Other nodes' contacts do not either.
  EXPECT_FALSE(c.Set(5s, 2, "a", "sip:1", 10s));
}

}  // namespace
}  // namespace pbxstate::harness
