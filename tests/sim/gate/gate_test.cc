#include <cmath>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "pbxstate/gate/baseline.h"
#include "pbxstate/gate/comparison.h"
#include "pbxstate/gate/junit.h"
#include "pbxstate/scenario/check.h"

namespace pbxstate::gate {
namespace {

namespace fs = std::filesystem;

fs::path TempFile(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("pbxstate-gate-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
  return p;
}

Baseline Sample() {
  Baseline b;
  b.scenario = "sample";
  b.file = "scenarios/sample.yaml";
  b.seeds = {42};
  b.backend = "ns3";
  auto add = [&](std::string name, GateUnit unit, double value, Tolerance t) {
    b.entries.push_back(BaselineEntry{GateMetric{std::move(name), unit, value, ""}, t, 0});
  };
  add("convergence.1.after_heal", GateUnit::kDuration, 638859040, {0.01, 1e6});
  add("convergence.2.after_crash", GateUnit::kDuration, kNever, {0.01, 1e6});
  add("stable_latency.p50", GateUnit::kDuration, 200552, {0.01, 1e6});
  add("stable_latency.max", GateUnit::kDuration, 10521517400, {0.025, 0});
  add("messages_per_change", GateUnit::kNumber, 1.578022, {0.01, 0});
  add("lost", GateUnit::kCount, 0, {0, 0});
  return b;
}

TEST(GateValue, DurationsAreWrittenInReadableUnitsAndExact) {
  EXPECT_EQ(FormatGateValue(GateUnit::kDuration, 638859040), "638.85904ms");
  EXPECT_EQ(FormatGateValue(GateUnit::kDuration, 200552), "200.552us");
  EXPECT_EQ(FormatGateValue(GateUnit::kDuration, 9304178024), "9.304178024s");
  EXPECT_EQ(FormatGateValue(GateUnit::kDuration, 1e9), "1s");
  EXPECT_EQ(FormatGateValue(GateUnit::kDuration, 0), "0ms");
  EXPECT_EQ(FormatGateValue(GateUnit::kDuration, 7), "0.007us");
  EXPECT_EQ(FormatGateValue(GateUnit::kDuration, kNever), "never");
  EXPECT_EQ(FormatGateValue(GateUnit::kNumber, 17.5), "17.5");
  EXPECT_EQ(FormatGateValue(GateUnit::kCount, 3), "3");
}

TEST(Baseline, FormatThenLoadGivesTheSameBaseline) {
  const Baseline b = Sample();
  const fs::path p = TempFile("sample.yaml", FormatBaseline(b));
  Baseline loaded;
  std::string error;
  ASSERT_TRUE(LoadBaseline(p, &loaded, &error)) << error;
  EXPECT_EQ(loaded.scenario, b.scenario);
  EXPECT_EQ(loaded.file, b.file);
  EXPECT_EQ(loaded.seeds, b.seeds);
  EXPECT_EQ(loaded.backend, b.backend);
  ASSERT_EQ(loaded.entries.size(), b.entries.size());
  for (std::size_t i = 0; i < b.entries.size(); ++i) {
    EXPECT_EQ(loaded.entries[i].metric.name, b.entries[i].metric.name);
    EXPECT_EQ(loaded.entries[i].metric.value, b.entries[i].metric.value) << b.entries[i].metric.name;
    EXPECT_EQ(loaded.entries[i].tolerance, b.entries[i].tolerance) << b.entries[i].metric.name;
  }
  // Deterministic text: formatting the loaded baseline gives the same bytes.
  EXPECT_EQ(FormatBaseline(loaded), FormatBaseline(b));
}

struct BadBaseline {
  const char* what;
  const char* from;  // replaced in a valid file
  const char* to;
  const char* error;  // expected suffix after "FILE:"
};

class BaselineErrors : public ::testing::TestWithParam<BadBaseline> {};

TEST_P(BaselineErrors, NameLineColumnAndField) {
  const BadBaseline& bad = GetParam();
  std::string text = FormatBaseline(Sample());
  const auto at = text.find(bad.from);
  ASSERT_NE(at, std::string::npos) << bad.from;
  text.replace(at, std::string(bad.from).size(), bad.to);
  const fs::path p = TempFile(std::string(bad.what) + ".yaml", text);
  Baseline b;
  std::string error;
  ASSERT_FALSE(LoadBaseline(p, &b, &error));
  EXPECT_EQ(error, p.string() + ":" + bad.error);
}

INSTANTIATE_TEST_SUITE_P(
    All, BaselineErrors,
    ::testing::Values(
        BadBaseline{"format", "format: pbxstate-baseline/1", "format: pbxstate-baseline/2",
                    "4:9: format: expected pbxstate-baseline/1"},
        BadBaseline{"unknown_top", "backend: ns3", "backend: ns3\ncolour: blue", "9:1: colour: unknown field"},
        BadBaseline{"seed", "seed: 42", "seed: -1", "7:7: seed: expected a whole number"},
        BadBaseline{"seeds_and_seed", "seed: 42", "seed: 42\nseeds: [1, 2]", "8:8: seeds: give seed or seeds, not both"},
        BadBaseline{"seeds_twice", "seed: 42", "seeds: [1, 2, 1]", "7:15: seeds[2]: given twice"},
        BadBaseline{"seeds_empty", "seed: 42", "seeds: []", "7:8: seeds: expected a list of seeds ([1, 2, 3])"},
        BadBaseline{"seeds_missing", "seed: 42\n", "", "4:1: seeds: missing"},
        BadBaseline{"unknown_metric", "  lost:", "  lose:", "15:3: metrics.lose: not a gated metric"},
        BadBaseline{"duration_without_unit", "{value: 200.552us", "{value: 200552",
                    "12:31: metrics.stable_latency.p50.value: expected a duration with a unit (\"12.5ms\"), never "
                    "or interrupted, found \"200552\""},
        BadBaseline{"count_not_whole", "lost: {value: 0,", "lost: {value: 0.5,",
                    "15:17: metrics.lost.value: expected a whole number, found \"0.5\""},
        BadBaseline{"tolerance", "messages_per_change: {value: 1.578022, tolerance: 1%",
                    "messages_per_change: {value: 1.578022, tolerance: 1",
                    "14:53: metrics.messages_per_change.tolerance: expected a percentage (\"1%\"), found \"1\""},
        BadBaseline{"missing_tolerance", "lost: {value: 0, tolerance: 0%}", "lost: {value: 0}",
                    "15:9: metrics.lost.tolerance: missing"},
        BadBaseline{"twice", "  lost:", "  stable_latency.p50: {value: 1ms, tolerance: 1%}\n  lost:",
                    "15:3: metrics.stable_latency.p50: given twice"},
        BadBaseline{"yaml", "metrics:", "metrics: [", "11:3: not valid YAML: end of sequence flow not found"}),
    [](const auto& param_info) { return std::string(param_info.param.what); });

TEST(Baseline, RefusesAnOversizedFile) {
  const fs::path p = TempFile("huge.yaml", std::string(kMaxBaselineBytes + 1, '#'));
  Baseline b;
  std::string error;
  EXPECT_FALSE(LoadBaseline(p, &b, &error));
  EXPECT_NE(error.find("larger than"), std::string::npos) << error;
}

// Not a regular file: refused without opening or reading it (a FIFO would block the gate).
TEST(Baseline, RefusesAFifoAndADevice) {
  const fs::path fifo = TempFile("fifo.yaml", "").replace_filename("fifo-baseline.yaml");
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Baseline b;
  std::string error;
  EXPECT_FALSE(LoadBaseline(fifo, &b, &error));
  EXPECT_EQ(error, fifo.string() + ": is a FIFO (named pipe); expected a baseline file (a regular file)");
  fs::remove(fifo);
  EXPECT_FALSE(LoadBaseline("/dev/zero", &b, &error));
  EXPECT_EQ(error, "/dev/zero: is a character device; expected a baseline file (a regular file)");
}

TEST(Baseline, UpdateKeepsHandSetTolerances) {
  Baseline previous = Sample();
  previous.entries[4].tolerance = Tolerance{0.075, 0};  // messages_per_change tuned by hand
  std::vector<GateMetric> run = {{"messages_per_change", GateUnit::kNumber, 2.0, ""},
                                 {"stale", GateUnit::kCount, 0, ""}};
  scenario::Scenario s;
  s.name = "sample";
  const Baseline next = MakeBaseline(s, "x.yaml", "ns3", {9, 10, 11}, run, &previous);
  ASSERT_EQ(next.entries.size(), 2u);
  EXPECT_EQ(next.entries[0].tolerance, (Tolerance{0.075, 0}));
  EXPECT_EQ(next.entries[0].metric.value, 2.0);
  EXPECT_EQ(next.entries[1].tolerance, DefaultTolerance(run[1]));
  EXPECT_EQ(next.seeds, (std::vector<std::uint64_t>{9, 10, 11}));
}

TEST(Baseline, SeveralSeedsAreWrittenAsAListAndReadBack) {
  Baseline b = Sample();
  b.seeds = {1, 2, 3, 5, 8};
  const std::string text = FormatBaseline(b);
  EXPECT_NE(text.find("\nseeds: [1, 2, 3, 5, 8]\n"), std::string::npos) << text;
  Baseline loaded;
  std::string error;
  ASSERT_TRUE(LoadBaseline(TempFile("seeds.yaml", text), &loaded, &error)) << error;
  EXPECT_EQ(loaded.seeds, b.seeds);
}

// The gate judges the median over the seeds' runs: one seed's tail does not move it.
TEST(MedianOverSeeds, OneSeedsTailDoesNotMoveTheMedian) {
  auto run = [](double conv, double max) {
    return std::vector<GateMetric>{{"convergence.1.after_restore", GateUnit::kDuration, conv, "restore at 20 s"},
                                   {"stable_latency.max", GateUnit::kDuration, max, ""}};
  };
  const auto m = MedianOverSeeds({run(1.0e9, 4e9), run(1.2e9, 9e9), run(1.1e9, 4.2e9), run(0.9e9, 3.9e9),
                                  run(5.0e9, 4.1e9)});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].name, "convergence.1.after_restore");
  EXPECT_EQ(m[0].value, 1.1e9);
  EXPECT_EQ(m[0].note, "restore at 20 s");
  EXPECT_EQ(m[1].value, 4.1e9);
  // An even count takes the lower middle value, never an average.
  EXPECT_EQ(MedianOverSeeds({run(1e9, 1e9), run(3e9, 3e9)})[0].value, 1e9);
}

TEST(MedianOverSeeds, OrdersTimesBeforeInterruptedBeforeNever) {
  auto run = [](double conv) { return std::vector<GateMetric>{{"convergence.1.after_heal", GateUnit::kDuration, conv, ""}}; };
  EXPECT_EQ(MedianOverSeeds({run(kNever), run(2e9), run(kNever)})[0].value, kNever);
  EXPECT_TRUE(IsInterrupted(MedianOverSeeds({run(kInterrupted), run(kNever), run(1e9)})[0].value));
  EXPECT_EQ(MedianOverSeeds({run(kInterrupted), run(3e9), run(1e9)})[0].value, 3e9);
}

// A metric one seed's run did not measure is left out, so the comparison calls it missing.
TEST(MedianOverSeeds, AMetricOneRunLacksIsLeftOut) {
  const std::vector<GateMetric> both = {{"lost", GateUnit::kCount, 0, ""}, {"stale", GateUnit::kCount, 0, ""}};
  const std::vector<GateMetric> one = {{"lost", GateUnit::kCount, 0, ""}};
  const auto m = MedianOverSeeds({both, one, both});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].name, "lost");
  Baseline b = Sample();
  b.entries.resize(6);
  b.entries.push_back(BaselineEntry{GateMetric{"stale", GateUnit::kCount, 0, ""}, {0, 0}, 0});
  const auto rows = CompareWithBaseline(b, m);
  ASSERT_EQ(rows.back().name, "stale");
  EXPECT_EQ(rows.back().outcome, Outcome::kMissing);
}

// Every gated run metric is one a check may name (describe-metrics exports its direction with
// it), and ExtractGateMetrics takes exactly the table: the complement of a completion ratio, the
// calls' other figures only with it, in the table's order.
TEST(GatedRunMetrics, EveryOneIsARunMetricAndExtractionFollowsTheTable) {
  for (const GatedRunMetric& g : GatedRunMetrics()) {
    const scenario::MetricInfo* info = scenario::FindMetric(g.run_metric);
    ASSERT_NE(info, nullptr) << g.run_metric;
    EXPECT_EQ(info->kind == scenario::MetricKind::kDuration, g.unit == GateUnit::kDuration) << g.run_metric;
  }
  harness::RunResult r;
  r.metrics = {{"lost", 0}, {"stable_latency.p50", 5e6}, {"calls.location.completion_ratio", 0.75},
               {"calls.location.looped", 2}, {"calls.blind_peer.looped", 1}, {"delivered", 9}};
  const std::vector<GateMetric> m = ExtractGateMetrics(r);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].name, "stable_latency.p50");
  EXPECT_EQ(m[1].name, "lost");
  EXPECT_EQ(m[2].name, "calls.location.incomplete_ratio");
  EXPECT_DOUBLE_EQ(m[2].value, 0.25);
  EXPECT_EQ(m[3].name, "calls.location.looped");  // blind_peer's has no completion ratio: not gated
}

const MetricComparison& Row(const std::vector<MetricComparison>& rows, const std::string& name) {
  for (const auto& r : rows) {
    if (r.name == name) return r;
  }
  ADD_FAILURE() << "no row " << name;
  static MetricComparison none;
  return none;
}

TEST(Compare, OutcomesFollowTheToleranceInBothDirections) {
  const Baseline b = Sample();
  std::vector<GateMetric> run = {
      {"convergence.1.after_heal", GateUnit::kDuration, 638859040 * 1.0099, ""},  // within 1%
      {"convergence.2.after_crash", GateUnit::kDuration, 3e9, ""},                // was never: improved
      {"stable_latency.p50", GateUnit::kDuration, 200552 + 1e6 + 1, ""},          // beyond the 1 ms floor
      {"stable_latency.max", GateUnit::kDuration, 10521517400 * 0.9, ""},         // 10% better than 2.5%
      {"lost", GateUnit::kCount, 1, ""},                                          // zero tolerance
      {"stale", GateUnit::kCount, 0, ""},                                         // not in the baseline
  };
  const auto rows = CompareWithBaseline(b, run);
  EXPECT_EQ(Row(rows, "convergence.1.after_heal").outcome, Outcome::kWithin);
  EXPECT_EQ(Row(rows, "convergence.2.after_crash").outcome, Outcome::kImproved);
  EXPECT_EQ(Row(rows, "stable_latency.p50").outcome, Outcome::kRegressed);
  EXPECT_EQ(Row(rows, "stable_latency.max").outcome, Outcome::kImproved);
  EXPECT_EQ(Row(rows, "messages_per_change").outcome, Outcome::kMissing);
  EXPECT_EQ(Row(rows, "lost").outcome, Outcome::kRegressed);
  EXPECT_EQ(Row(rows, "stale").outcome, Outcome::kNew);
  EXPECT_DOUBLE_EQ(Row(rows, "stable_latency.p50").allowed, 1e6);
  EXPECT_DOUBLE_EQ(Row(rows, "convergence.1.after_heal").allowed, 6388590.4);
  EXPECT_EQ(rows.back().name, "stale");  // new metrics come after the baseline's
}

TEST(Compare, NeverConvergingIsARegressionFromAnyFiniteBaseline) {
  const Baseline b = Sample();
  const auto rows = CompareWithBaseline(b, {{"convergence.1.after_heal", GateUnit::kDuration, kNever, ""}});
  EXPECT_EQ(Row(rows, "convergence.1.after_heal").outcome, Outcome::kRegressed);
  EXPECT_EQ(FormatChange(Row(rows, "convergence.1.after_heal")), "+inf");
}

TEST(Compare, AnInterruptedConvergenceIsWorseThanAnyTimeAndBetterThanNever) {
  EXPECT_EQ(FormatGateValue(GateUnit::kDuration, kInterrupted), "interrupted");
  Baseline b = Sample();
  b.entries.push_back(BaselineEntry{GateMetric{"convergence.3.after_heal", GateUnit::kDuration, kInterrupted, ""},
                                    {0.01, 1e6}, 0});
  b.entries.push_back(BaselineEntry{GateMetric{"convergence.4.after_heal", GateUnit::kDuration, kInterrupted, ""},
                                    {0.01, 1e6}, 0});
  const auto rows = CompareWithBaseline(b, {{"convergence.1.after_heal", GateUnit::kDuration, kInterrupted, ""},
                                            {"convergence.2.after_crash", GateUnit::kDuration, kInterrupted, ""},
                                            {"convergence.3.after_heal", GateUnit::kDuration, kInterrupted, ""},
                                            {"convergence.4.after_heal", GateUnit::kDuration, 2e9, ""}});
  EXPECT_EQ(Row(rows, "convergence.1.after_heal").outcome, Outcome::kRegressed);  // was 639 ms
  EXPECT_EQ(FormatChange(Row(rows, "convergence.1.after_heal")), "interrupted");
  EXPECT_EQ(Row(rows, "convergence.2.after_crash").outcome, Outcome::kImproved);  // was never
  EXPECT_EQ(Row(rows, "convergence.3.after_heal").outcome, Outcome::kWithin);
  EXPECT_EQ(Row(rows, "convergence.4.after_heal").outcome, Outcome::kImproved);
  EXPECT_DOUBLE_EQ(Row(rows, "convergence.3.after_heal").allowed, 0);
  // Written and read back as the word.
  const fs::path p = TempFile("interrupted.yaml", FormatBaseline(b));
  Baseline loaded;
  std::string error;
  ASSERT_TRUE(LoadBaseline(p, &loaded, &error)) << error;
  ASSERT_EQ(loaded.entries.size(), b.entries.size());
  EXPECT_TRUE(IsInterrupted(loaded.entries[b.entries.size() - 1].metric.value));
  EXPECT_FALSE(IsInterrupted(loaded.entries[0].metric.value));
}

TEST(Compare, TableShowsOnlyNotableRowsWhenAsked) {
  const Baseline b = Sample();
  std::vector<GateMetric> run;
  for (const auto& e : b.entries) run.push_back(e.metric);
  EXPECT_EQ(FormatComparisonTable(CompareWithBaseline(b, run), true), "");
  run[2].value *= 10;
  const std::string table = FormatComparisonTable(CompareWithBaseline(b, run), true);
  EXPECT_NE(table.find("stable_latency.p50"), std::string::npos);
  EXPECT_NE(table.find("+900.0%"), std::string::npos) << table;
  EXPECT_NE(table.find("REGRESSED"), std::string::npos);
  EXPECT_EQ(table.find("lost"), std::string::npos);
}

TEST(JUnit, EscapesEverythingAndCountsFailures) {
  JUnitSuite s{"a<b>&\"c'", 1.5, {{"seed", "1"}}, {}};
  s.cases.push_back(JUnitCase{"pbxstate.x.checks", "lost < 1 & stale == 0", std::nullopt, "observed 0", std::nullopt});
  s.cases.push_back(JUnitCase{"pbxstate.x.baseline", "m", std::string("bad \x01 byte <here>"), "details", std::nullopt});
  const std::string x = FormatJUnit({s});
  EXPECT_NE(x.find("name=\"a&lt;b&gt;&amp;&quot;c&apos;\""), std::string::npos) << x;
  EXPECT_NE(x.find("lost &lt; 1 &amp; stale == 0"), std::string::npos);
  EXPECT_NE(x.find("message=\"bad ? byte &lt;here&gt;\" type=\"regression\""), std::string::npos) << x;
  EXPECT_NE(x.find("<testsuites name=\"pbxstate\" tests=\"2\" failures=\"1\""), std::string::npos);
  EXPECT_EQ(x.find('\x01'), std::string::npos);
}

TEST(JUnit, ChecksCarryObservedValueAndLimit) {
  harness::CheckVerdict v;
  v.check.text = "stable_latency.max < 50ms";
  v.check.metric = "stable_latency.max";
  v.check.kind = scenario::MetricKind::kDuration;
  v.check.op = scenario::CompareOp::kLess;
  v.check.threshold = 50e6;
  v.measured = true;
  v.observed = 61.5e6;
  v.pass = false;
  harness::CheckVerdict unmeasured = v;
  unmeasured.measured = false;
  const auto cases = CasesForChecks("lan", {v, unmeasured});
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].classname, "pbxstate.lan.checks");
  EXPECT_EQ(cases[0].failure.value_or(""), "observed 61.5ms, limit < 50ms");
  EXPECT_EQ(cases[1].failure.value_or(""), "not measured (limit < 50ms)");
  // Not applicable on the run's backend: skipped with the reason, neither failed nor passed.
  harness::CheckVerdict na = unmeasured;
  na.not_applicable = "not applicable on emu (the check is for ns3, inproc)";
  const auto na_cases = CasesForChecks("lan", {na});
  ASSERT_EQ(na_cases.size(), 1u);
  EXPECT_FALSE(na_cases[0].failure.has_value());
  EXPECT_EQ(na_cases[0].skipped.value_or(""), na.not_applicable);
  JUnitSuite suite{"lan", 1, {}, na_cases};
  const std::string x = FormatJUnit({suite});
  EXPECT_NE(x.find("failures=\"0\" errors=\"0\" skipped=\"1\""), std::string::npos) << x;
  EXPECT_NE(x.find("<skipped message=\"not applicable on emu (the check is for ns3, inproc)\"/>"), std::string::npos) << x;
}

}  // namespace
}  // namespace pbxstate::gate
