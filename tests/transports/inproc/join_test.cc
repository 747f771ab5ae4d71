// A node joins a cluster holding 100k registrations: it must catch up in pages with a bounded
// number in flight, from one copy of the data, not one per peer (the Kamailio dmq sync storm).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::size_t kRegistrations = 100000;
constexpr std::size_t kAorBytes = 10;       // "aor-000042"
constexpr std::size_t kContactBytes = 200;  // long contacts make the payload dwarf any framing

std::string Aor(std::size_t k) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "aor-%06zu", k);
  return buf;
}

std::string Contact(std::size_t k) {
  std::string c = "sip:" + Aor(k) + "@198.51.100." + std::to_string(k % 250) + ":5060;transport=udp;x=";
  c.resize(kContactBytes, 'p');
  return c;
}

class Join : public ::testing::TestWithParam<MembershipSource> {};

TEST_P(Join, CatchesUpFromOneCopyWithBoundedFramesInFlight) {
  inproc::ClusterOptions opt;
  opt.nodes = 3;
  opt.seed = 2026;
  opt.membership = GetParam();
  opt.engine.batch_window = milliseconds(5);
  opt.engine.sync_window_pages = 4;
  opt.engine.max_sync_pulls = 2;
  opt.engine.max_sync_serves = 4;
  // 5 ms each way: a page window stays in flight for a whole round trip, so a donor that ignored
  // its window would show up in max_in_flight.
  opt.link.delay = milliseconds(5);
  auto c = MakeCluster(opt);
  ASSERT_TRUE(c);
  PBX_ASSERT_OK(c->Advance(seconds(3)));

  for (std::size_t k = 0; k < kRegistrations; ++k) {
    PBX_ASSERT_OK(c->SetRegistration(k % 3, Aor(k), Contact(k), std::chrono::hours(2)));
    if (k % 1000 == 999) PBX_ASSERT_OK(c->Advance(milliseconds(10)));
  }
  for (int i = 0; i < 60 && !c->Converged(); ++i) PBX_ASSERT_OK(c->Advance(seconds(1)));
  ASSERT_TRUE(c->Converged()) << "the three founders did not converge on 100k registrations";
  ASSERT_EQ(c->engine(0)->Digest().registrations, kRegistrations);

  c->ResetLinkMaxima();
  std::uint64_t bytes_before[3];
  for (std::size_t i = 0; i < 3; ++i) bytes_before[i] = c->counters(i).bytes_received;
  MonoTime join_at = c->now();
  std::size_t j = 0;
  PBX_ASSERT_OK(c->AddNode(&j));
  ASSERT_EQ(j, 3u);
  while (c->now() - join_at < seconds(300) && c->engine(j)->Digest() != c->engine(0)->Digest()) {
    PBX_ASSERT_OK(c->Advance(milliseconds(100)));
  }
  Duration took = c->now() - join_at;
  ASSERT_EQ(c->engine(j)->Digest(), c->engine(0)->Digest()) << "the joiner did not catch up in 300 s";
  EXPECT_EQ(c->engine(j)->Digest().registrations, kRegistrations);
  PBX_ASSERT_OK(c->Advance(seconds(3)));
  EXPECT_TRUE(c->Converged());

  // Frames in flight on any link: at most max_sync_pulls sessions towards the joiner, each with at
  // most sync_window_pages unacknowledged pages, plus a few control frames (heartbeat, digest,
  // acks, a live batch) that may share the link at the same moment.
  constexpr std::uint64_t kControlSlack = 4;
  const std::uint64_t bound = opt.engine.max_sync_pulls * opt.engine.sync_window_pages + kControlSlack;
  std::uint64_t worst = 0;
  for (std::size_t a = 0; a < c->size(); ++a) {
    for (std::size_t b = 0; b < c->size(); ++b) {
      if (a == b) continue;
      worst = std::max(worst, c->link_counters(a, b).max_in_flight);
      EXPECT_LE(c->link_counters(a, b).max_in_flight, bound) << "link " << a << " -> " << b;
    }
  }

  // One copy: the registration payload (AOR + contact) of 100k entries is 21 MB. Framing and
  // per-record fields (version, expiry, status, RTT, lengths) add well under 50% with 200-byte
  // contacts, while a second copy from another donor adds 100%: 1.5x separates "one copy" from
  // "two or more" whatever the exact record layout, and leaves room for a few resent pages.
  const double copy = static_cast<double>(kRegistrations * (kAorBytes + kContactBytes));
  const double joiner_bytes = static_cast<double>(c->counters(j).bytes_received);
  EXPECT_GE(joiner_bytes, copy) << "the joiner cannot have all registrations without receiving them";
  EXPECT_LT(joiner_bytes, 1.5 * copy) << "the joiner received more than one copy";
  // The founders had everything already: they must not be sent copies either.
  for (std::size_t i = 0; i < 3; ++i) {
    double got = static_cast<double>(c->counters(i).bytes_received - bytes_before[i]);
    EXPECT_LT(got, 0.1 * copy) << "founder " << i << " received data it already held";
  }
  EngineStats js = c->stats(j);
  EXPECT_GE(js.records_applied, kRegistrations);
  EXPECT_LT(js.records_applied + js.records_stale, kRegistrations + kRegistrations / 4)
      << "records received beyond one copy";
  std::printf("join: %lld ms, joiner received %.1f MB (%.2f copies of the payload), %llu records applied, "
              "%llu stale, max %llu frames in flight per link (bound %llu), %llu pages resent\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()), joiner_bytes / 1e6,
              joiner_bytes / copy, static_cast<unsigned long long>(js.records_applied),
              static_cast<unsigned long long>(js.records_stale), static_cast<unsigned long long>(worst),
              static_cast<unsigned long long>(bound),
              static_cast<unsigned long long>(c->stats(0).sync_pages_resent + c->stats(1).sync_pages_resent +
                                              c->stats(2).sync_pages_resent));
  std::printf("join: joiner sessions started %llu completed %llu abandoned %llu; pages received %llu; "
              "founders refused %llu serves\n",
              static_cast<unsigned long long>(js.sync_sessions_started),
              static_cast<unsigned long long>(js.sync_sessions_completed),
              static_cast<unsigned long long>(js.sync_sessions_abandoned),
              static_cast<unsigned long long>(js.sync_pages_received),
              static_cast<unsigned long long>(c->stats(0).sync_serves_refused + c->stats(1).sync_serves_refused +
                                              c->stats(2).sync_serves_refused));
}

INSTANTIATE_TEST_SUITE_P(Modes, Join, ::testing::Values(MembershipSource::kHeartbeat, MembershipSource::kTransport),
                         [](const auto& p) { return ModeName(p.param); });

}  // namespace
}  // namespace pbxstate::testing
