// The site map's text form (pbxstate/site_map.h: ParseSiteMap and SiteMapText): what is read,
// what is refused and why, and the round trip.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "pbxstate/site_map.h"

namespace pbxstate {
namespace {

using Sites = std::map<NodeId, std::uint32_t>;

Sites Parsed(const std::string& text) {
  Sites m{{99, 99}};
  const Status st = ParseSiteMap(text, &m);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return m;
}

std::string Refusal(const std::string& text) {
  Sites m{{99, 99}};
  const Status st = ParseSiteMap(text, &m);
  EXPECT_FALSE(st.ok()) << text;
  EXPECT_EQ(m, (Sites{{99, 99}})) << "left unchanged on failure: " << text;
  return st.message();
}

TEST(SiteMap, ReadsNodesAndRanges) {
  EXPECT_EQ(Parsed(""), Sites{});
  EXPECT_EQ(Parsed("  "), Sites{});
  EXPECT_EQ(Parsed("1:0"), (Sites{{1, 0}}));
  EXPECT_EQ(Parsed("1-3:0, 4-5:1 ,9:7"), (Sites{{1, 0}, {2, 0}, {3, 0}, {4, 1}, {5, 1}, {9, 7}}));
  EXPECT_EQ(Parsed("4294967294:4294967295"), (Sites{{4294967294u, 4294967295u}}));
  EXPECT_EQ(Parsed("5-5:2"), (Sites{{5, 2}}));
}

TEST(SiteMap, RefusesNamingTheItemAndWhy) {
  EXPECT_EQ(Refusal("1:0,2"), "item 2 ('2'): expected NODE:SITE or FIRST-LAST:SITE");
  EXPECT_EQ(Refusal("1:0,"), "item 2 (''): expected NODE:SITE or FIRST-LAST:SITE");
  EXPECT_EQ(Refusal("0:1"), "item 1 ('0:1'): a node id is a number from 1 to 4294967294");
  EXPECT_EQ(Refusal("4294967295:1"), "item 1 ('4294967295:1'): a node id is a number from 1 to 4294967294");
  EXPECT_EQ(Refusal("a:1"), "item 1 ('a:1'): a node id is a number from 1 to 4294967294");
  EXPECT_EQ(Refusal("-1:1"), "item 1 ('-1:1'): a node id is a number from 1 to 4294967294");
  EXPECT_EQ(Refusal("1-x:1"), "item 1 ('1-x:1'): a range's last node id is a number from 1 to 4294967294");
  EXPECT_EQ(Refusal("5-3:1"), "item 1 ('5-3:1'): the range's last node is below its first");
  EXPECT_EQ(Refusal("1:4294967296"), "item 1 ('1:4294967296'): a site is a number from 0 to 4294967295");
  EXPECT_EQ(Refusal("1:-1"), "item 1 ('1:-1'): a site is a number from 0 to 4294967295");
  EXPECT_EQ(Refusal("1-3:0, 3:1"), "item 2 ('3:1'): node 3 is given a site twice");
  EXPECT_EQ(Refusal("1-4096:0, 5000:1"), "item 2 ('5000:1'): more than 4096 nodes in all");
  // A huge range is refused by its size, before anything is allocated for it.
  EXPECT_EQ(Refusal("1-4294967294:0"), "item 1 ('1-4294967294:0'): more than 4096 nodes in all");
  EXPECT_EQ(Refusal(std::string(kMaxSiteMapTextBytes + 1, ' ')), "longer than 131072 bytes");
}

TEST(SiteMap, TextRoundTrips) {
  const Sites m = {{1, 0}, {2, 0}, {3, 0}, {4, 1}, {6, 1}, {7, 0}, {8, 2}};
  EXPECT_EQ(SiteMapText(m), "1-3:0,4:1,6:1,7:0,8:2");
  EXPECT_EQ(Parsed(SiteMapText(m)), m);
  EXPECT_EQ(SiteMapText({}), "");
  Sites large;
  for (NodeId n = 1; n <= 4096; ++n) large[n * 3] = n % 7;
  EXPECT_EQ(Parsed(SiteMapText(large)), large);
  EXPECT_LE(SiteMapText(large).size(), kMaxSiteMapTextBytes);
  // The longest map there is (4096 nodes, the largest ids and sites, none consecutive) fits too.
  Sites longest;
  for (NodeId n = 0; n < 4096; ++n) longest[4294967294u - 2 * n] = 4294967295u - n;
  EXPECT_EQ(Parsed(SiteMapText(longest)), longest);
}

}  // namespace
}  // namespace pbxstate
