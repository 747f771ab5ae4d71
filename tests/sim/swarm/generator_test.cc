// The swarm's generator: deterministic per seed, bounded, valid (written and loaded back equal),
// and drawing every kind of fault and change it promises, in both membership modes.
#include "pbxstate/swarm/generator.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/writer.h"
#include "pbxstate/swarm/swarm.h"

namespace pbxstate::swarm {
namespace {

using scenario::Scenario;

std::string Text(const Scenario& s) {
  std::string text;
  const Status st = scenario::WriteScenario(s, &text);
  EXPECT_TRUE(st.ok()) << st.message();
  return text;
}

TEST(Generator, SameSeedSameScenario) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const Scenario a = GenerateScenario(seed), b = GenerateScenario(seed);
    EXPECT_TRUE(scenario::SameScenario(a, b)) << seed;
    EXPECT_EQ(Text(a), Text(b)) << seed;
    EXPECT_EQ(a.seed, seed);
    EXPECT_EQ(a.name, "swarm-" + std::to_string(seed));
  }
}

TEST(Generator, SeedsDiffer) {
  std::set<std::string> texts;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    std::string t = Text(GenerateScenario(seed));
    t = t.substr(t.find("duration:"));  // past the name and seed, which differ anyway
    texts.insert(t);
  }
  EXPECT_EQ(texts.size(), 100u);
}

// Every scenario is within the bounds and loads back equal from its file: the 1,000 seeds the
// swarm's CTest shards run (tests/sim/swarm/CMakeLists.txt), in two halves for ctest -j2.
void ExpectBoundedAndValid(std::uint64_t first, std::uint64_t count, MembershipSource membership) {
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Scenario s = GenerateScenario(seed, {membership});
    EXPECT_LE(s.topology.node_count(), kMaxGeneratedNodes);
    EXPECT_GE(s.topology.node_count(), 2u);
    EXPECT_LE(s.faults.size(), kMaxGeneratedFaults);
    EXPECT_LE(s.workload.changes.size(), kMaxGeneratedChanges);
    EXPECT_LE(s.end(), kMaxGeneratedEnd);
    EXPECT_EQ(s.checks.size(), 5u);
    const scenario::LoadResult back = scenario::LoadScenarioString(Text(s), s.file);
    ASSERT_TRUE(back.ok()) << back.errors.front().ToString() << "\n" << Text(s);
    EXPECT_TRUE(scenario::SameScenario(s, *back.scenario)) << Text(s);
  }
}
TEST(Generator, BoundedAndValidHeartbeatShards) { ExpectBoundedAndValid(1, 500, MembershipSource::kHeartbeat); }
TEST(Generator, BoundedAndValidTransportShards) { ExpectBoundedAndValid(501, 500, MembershipSource::kTransport); }

// What the seeds draw, counted over many: each kind the generator promises shows up.
struct Mix {
  std::map<std::string, int> seen;
  void Note(const std::string& what, bool yes = true) {
    if (yes) ++seen[what];
  }
};

void CountFaults(const Scenario& s, Mix* mix) {
  std::map<NodeId, int> crashes;
  Duration last_partition = -Duration::max() / 2, last_crash = -Duration::max() / 2;
  for (const scenario::Fault& f : s.faults) {
    if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
      mix->Note(p->one_way ? "one-way partition" : p->sides.size() > 2 ? "three-sided partition" : "partition");
      mix->Note("flapping partition", f.at - last_partition < std::chrono::milliseconds(800));
      last_partition = f.at;
    }
    mix->Note("isolate", std::holds_alternative<scenario::Isolate>(f.what));
    if (std::holds_alternative<scenario::Crash>(f.what)) {
      mix->Note("crash storm", f.at - last_crash < std::chrono::seconds(2));
      last_crash = f.at;
      mix->Note("crash");
    }
    mix->Note("restart", std::holds_alternative<scenario::Restart>(f.what));
    if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
      mix->Note(d->target.kind == scenario::NetworkTarget::Kind::kLink ? "link degrade" : "lan degrade");
      mix->Note("degrade with duplication or reordering", d->frame_faults());
    }
  }
}

void CountChanges(const Scenario& s, Mix* mix) {
  std::map<std::string, std::set<NodeId>> mailbox_writers;
  std::map<std::string, std::set<NodeId>> device_writers;
  std::map<std::pair<Duration, NodeId>, int> per_instant;
  for (const scenario::TimedChange& c : s.workload.changes) {
    ++per_instant[{c.at, c.node}];
    if (const auto* m = std::get_if<scenario::MailboxChange>(&c.what)) mailbox_writers[m->mailbox].insert(c.node);
    if (const auto* d = std::get_if<scenario::DeviceChange>(&c.what)) device_writers[d->device].insert(c.node);
    if (const auto* r = std::get_if<scenario::RegistrationSet>(&c.what)) {
      mix->Note("short registration expiry", r->expires < std::chrono::seconds(10));
      mix->Note("unreachable contact", r->status == ContactStatus::kUnreachable);
    }
    mix->Note("registration removal", std::holds_alternative<scenario::RegistrationRemove>(c.what));
  }
  for (const auto& [box, writers] : mailbox_writers) mix->Note("mailbox written by several nodes", writers.size() > 1);
  for (const auto& [dev, writers] : device_writers) mix->Note("device set by several nodes", writers.size() > 1);
  for (const auto& [key, n] : per_instant) mix->Note("same-instant burst", n > 1);
}

TEST(Generator, DrawsEveryKind) {
  Mix mix;
  for (std::uint64_t seed = 1; seed <= 1000; ++seed) {
    const Scenario s = GenerateScenario(seed);
    mix.Note(s.membership.source == MembershipSource::kTransport ? "transport membership" : "heartbeat membership");
    mix.Note("per-node views", s.membership.views == scenario::ViewModel::kPerNode);
    mix.Note("consistent views, anti-entropy off",
             s.membership.source == MembershipSource::kTransport &&
                 s.membership.views == scenario::ViewModel::kConsistent && s.engine.anti_entropy_interval == Duration{});
    mix.Note("view delay", s.membership.view_delay > Duration{});
    mix.Note("wan sites", s.topology.sites.size() > 1);
    mix.Note("four wan sites", s.topology.sites.size() == 4);
    mix.Note("link jitter", !s.topology.links.empty() && s.topology.links[0].params.jitter > Duration{});
    mix.Note("auth", s.auth);
    mix.Note("lan loss", s.topology.sites[0].lan.loss > 0);
    mix.Note("lan duplication", s.topology.sites[0].lan.frames.duplicate > 0);
    mix.Note("lan reordering", s.topology.sites[0].lan.frames.reorder > 0);
    mix.Note("small frames", s.engine.max_frame_bytes == 512);
    mix.Note("departure grace", s.engine.departure_grace > Duration{});
    mix.Note("generated load", s.workload.rate_per_s > 0);
    mix.Note("churn", s.workload.churn.has_value());
    mix.Note("unicast", s.transport == scenario::TransportMode::kUnicast);
    CountFaults(s, &mix);
    CountChanges(s, &mix);
  }
  for (const char* kind :
       {"transport membership", "heartbeat membership", "per-node views", "consistent views, anti-entropy off",
        "view delay", "wan sites", "four wan sites", "link jitter", "auth", "lan loss", "lan duplication",
        "lan reordering", "small frames", "departure grace", "generated load", "churn", "unicast", "partition",
        "three-sided partition", "one-way partition", "flapping partition", "isolate", "crash", "crash storm",
        "restart", "link degrade", "lan degrade", "degrade with duplication or reordering",
        "short registration expiry", "unreachable contact", "registration removal",
        "mailbox written by several nodes", "device set by several nodes", "same-instant burst"}) {
    EXPECT_GE(mix.seen[kind], 10) << kind;
  }
}

TEST(Generator, OptionsHoldForEverySeed) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    EXPECT_EQ(GenerateScenario(seed, {MembershipSource::kHeartbeat}).membership.views, scenario::ViewModel::kConsistent);
    const Scenario t = GenerateScenario(seed, {MembershipSource::kTransport});
    EXPECT_EQ(t.membership.source, MembershipSource::kTransport);
    // For ns-3: heartbeats, and nothing it refuses.
    const Scenario n = GenerateScenario(seed, GeneratorOptionsFor(Backend::kNs3, std::nullopt));
    EXPECT_NE(n.membership.source, MembershipSource::kTransport);
    for (const scenario::Site& site : n.topology.sites) EXPECT_FALSE(site.lan.frames.any());
    for (const scenario::SiteLink& l : n.topology.links) EXPECT_FALSE(l.params.frames.any());
    for (const scenario::Fault& f : n.faults) {
      if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
        EXPECT_FALSE(d->frame_faults());
      }
    }
  }
}

}  // namespace
}  // namespace pbxstate::swarm
