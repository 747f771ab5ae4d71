#include "pbxstate/scenario/check.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pbxstate::scenario {
namespace {

Check Parsed(std::string_view text) {
  auto r = ParseCheck(text);
  if (auto* e = std::get_if<CheckSyntaxError>(&r)) {
    ADD_FAILURE() << text << ": " << e->message;
    return {};
  }
  return std::get<Check>(r);
}

CheckSyntaxError Refused(std::string_view text) {
  auto r = ParseCheck(text);
  if (auto* c = std::get_if<Check>(&r)) {
    ADD_FAILURE() << text << " was accepted as " << c->metric;
    return {};
  }
  return std::get<CheckSyntaxError>(r);
}

TEST(ParseCheck, TheIssueExamples) {
  Check lost = Parsed("lost == 0");
  EXPECT_EQ(lost.metric, "lost");
  EXPECT_EQ(lost.kind, MetricKind::kCount);
  EXPECT_EQ(lost.op, CompareOp::kEqual);
  EXPECT_EQ(lost.threshold, 0);

  Check heal = Parsed("convergence.after_heal.max < 2s");
  EXPECT_EQ(heal.metric, "convergence.after_heal.max");
  EXPECT_EQ(heal.kind, MetricKind::kDuration);
  EXPECT_EQ(heal.op, CompareOp::kLess);
  EXPECT_EQ(heal.threshold, 2e9);  // nanoseconds

  Check p50 = Parsed("stable_latency.p50 < 400ms");
  EXPECT_EQ(p50.threshold, 4e8);

  Check msgs = Parsed("messages_per_change < 20");
  EXPECT_EQ(msgs.kind, MetricKind::kNumber);
  EXPECT_EQ(msgs.threshold, 20);
}

TEST(ParseCheck, EveryOperatorAndSpacing) {
  EXPECT_EQ(Parsed("lost<1").op, CompareOp::kLess);
  EXPECT_EQ(Parsed("lost <= 1").op, CompareOp::kLessEqual);
  EXPECT_EQ(Parsed("changes > 1").op, CompareOp::kGreater);
  EXPECT_EQ(Parsed("changes>=1").op, CompareOp::kGreaterEqual);
  EXPECT_EQ(Parsed("  lost   ==   0  ").op, CompareOp::kEqual);
  EXPECT_EQ(Parsed("stale != 3").op, CompareOp::kNotEqual);
  EXPECT_EQ(Parsed("  lost   ==   0  ").text, "lost   ==   0");
}

TEST(ParseCheck, ValueMustFitTheMetricKind) {
  EXPECT_EQ(Refused("stable_latency.p50 < 400").offset, 21u);
  EXPECT_EQ(Refused("lost < 2s").offset, 7u);
  EXPECT_EQ(Refused("lost < 0.5").offset, 7u);  // counts are whole
  EXPECT_EQ(Parsed("bytes_per_change < 0.5").threshold, 0.5);
  EXPECT_EQ(Refused("lost <").offset, 6u);
  EXPECT_NE(Refused("stable_latency.p50 < 400").message.find("duration with a unit"),
            std::string::npos);
}

TEST(ParseCheck, ErrorsPointAtTheirPlace) {
  CheckSyntaxError unknown = Refused("  convergence.after_heel.max < 2s");
  EXPECT_EQ(unknown.offset, 2u);
  EXPECT_NE(unknown.message.find("unknown metric 'convergence.after_heel.max'"),
            std::string::npos);
  EXPECT_EQ(Refused("lost = 0").offset, 5u);
  EXPECT_EQ(Refused("lost == 0 and stale == 0").offset, 10u);
  EXPECT_EQ(Refused("").offset, 0u);
  EXPECT_EQ(Refused("LOST == 0").offset, 0u);  // names are lower case
}

TEST(Check, HoldsComparesInBaseUnits) {
  Check c = Parsed("stable_latency.max < 600ms");
  EXPECT_TRUE(c.Holds(599'999'999));
  EXPECT_FALSE(c.Holds(600'000'000));
  Check eq = Parsed("lost == 0");
  EXPECT_TRUE(eq.Holds(0));
  EXPECT_FALSE(eq.Holds(1));
  Check ge = Parsed("engine.sync_sessions_abandoned >= 1");
  EXPECT_TRUE(ge.Holds(1));
  EXPECT_FALSE(ge.Holds(0));
}

TEST(Check, DetectionAddsTheRunsFailureDetectionTime) {
  using namespace std::chrono_literals;
  Check c = Parsed("convergence.after_heal.max < detection + 2s");
  EXPECT_TRUE(c.plus_detection);
  EXPECT_EQ(c.threshold, 2e9);
  EXPECT_EQ(c.text, "convergence.after_heal.max < detection + 2s");
  EXPECT_EQ(c.Bound(1s), 3e9);
  EXPECT_EQ(c.Bound(20'900ms), 22.9e9);
  Check heartbeat = c.Resolved(1s);
  EXPECT_FALSE(heartbeat.plus_detection);
  EXPECT_TRUE(heartbeat.Holds(2'999'999'999));
  EXPECT_FALSE(heartbeat.Holds(3e9));
  EXPECT_TRUE(c.Resolved(20'900ms).Holds(8.9e9));
  EXPECT_EQ(Parsed("stable_latency.p50<detection+500ms").Bound(1s), 1.5e9);  // spaces optional
  EXPECT_FALSE(Parsed("stable_latency.p50 < 3s").plus_detection);
  // Only a duration takes the term, and it needs its constant.
  EXPECT_EQ(Refused("lost == detection + 1").offset, 8u);
  EXPECT_EQ(Refused("convergence.after_heal.max < detection").offset, 38u);
  EXPECT_EQ(Refused("convergence.after_heal.max < detection 2s").offset, 39u);
  EXPECT_EQ(Refused("convergence.after_heal.max < detection + 2").offset, 41u);
}

TEST(Metrics, NamesAreUniqueAndFamiliesComplete) {
  std::set<std::string> names;
  for (const MetricInfo& m : Metrics()) {
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
    EXPECT_FALSE(m.meaning.empty()) << m.name;
  }
  for (const char* family : {"delivery_latency", "stable_latency", "convergence.after_heal",
                             "convergence.after_restart", "convergence.after_restore",
                             "convergence.after_crash", "convergence.after_fault"}) {
    for (const char* stat : {"min", "p50", "p95", "p99", "max", "mean"}) {
      const MetricInfo* m = FindMetric(std::string(family) + "." + stat);
      ASSERT_NE(m, nullptr) << family << "." << stat;
      EXPECT_EQ(m->kind, MetricKind::kDuration);
    }
  }
  EXPECT_EQ(FindMetric("convergence.after_heal.max")->needs, ConvergenceAfter::kHeal);
  EXPECT_EQ(FindMetric("lost")->needs, ConvergenceAfter::kNone);
  EXPECT_EQ(FindMetric("engine.frames_out")->kind, MetricKind::kCount);
  EXPECT_EQ(FindMetric("nonsense"), nullptr);
}

// The schema reference must name every metric a check accepts (families by their prefix).
TEST(Metrics, DocumentedInTheSchemaReference) {
  std::ifstream in(PBXSTATE_SCENARIOS_DIR "/README.md");
  ASSERT_TRUE(in) << "scenarios/README.md";
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string readme = buf.str();
  for (const MetricInfo& m : Metrics()) {
    std::string documented = m.name;
    if (m.kind == MetricKind::kDuration) {
      documented = "`" + m.name.substr(0, m.name.rfind('.')) + ".S`";
    } else if (m.name.rfind("engine.", 0) == 0) {
      // Engine counters are listed as words in one code span: bounded by spaces or backticks.
      const std::string word = m.name.substr(7);
      bool found = false;
      for (auto at = readme.find(word); at != std::string::npos && !found;
           at = readme.find(word, at + 1)) {
        const char before = at == 0 ? ' ' : readme[at - 1];
        const char after = at + word.size() < readme.size() ? readme[at + word.size()] : ' ';
        found = (before == ' ' || before == '`') && (after == ' ' || after == '`');
      }
      EXPECT_TRUE(found) << m.name;
      continue;
    } else {
      documented = "`" + m.name + "`";
    }
    EXPECT_NE(readme.find(documented), std::string::npos) << m.name << " as " << documented;
  }
}

// Which backends measure a metric is one field (MetricInfo::measured_on): its meaning's words and
// the schema reference's row are derived from it and held to it.
TEST(Metrics, WhichBackendsMeasureAMetricIsOneField) {
  const MetricInfo& heal = *FindMetric("heal_bytes_ratio");
  EXPECT_TRUE(heal.MeasuredOn("ns3"));
  EXPECT_TRUE(heal.MeasuredOn("inproc"));
  EXPECT_FALSE(heal.MeasuredOn("netns"));
  EXPECT_FALSE(heal.MeasuredOn("emu"));
  EXPECT_EQ(MeasuredOnNote(heal), "measured on ns3, inproc");
  EXPECT_FALSE(FindMetric("wan_frames_per_change")->MeasuredOn("inproc"));
  EXPECT_TRUE(FindMetric(kMemoryGrowthMetric)->MeasuredOn("emu"));
  EXPECT_EQ(MeasuredOnNote(*FindMetric("lost")), "");
  for (const MetricInfo& m : Metrics()) {
    const bool noted = m.meaning.find("measured on") != std::string::npos;
    EXPECT_EQ(noted, !m.measured_on.empty()) << m.name << ": " << m.meaning;
    if (!m.measured_on.empty()) {
      EXPECT_TRUE(m.meaning.ends_with("(" + MeasuredOnNote(m) + ")")) << m.meaning;
    }
  }
}

// scenarios/README.md's metric table says "measured on ..." in a metric's row exactly when the
// metric's definition restricts it, in the same words (MeasuredOnNote).
TEST(Metrics, TheSchemaReferenceSaysWhichBackendsMeasureEach) {
  std::ifstream in(PBXSTATE_SCENARIOS_DIR "/README.md");
  ASSERT_TRUE(in) << "scenarios/README.md";
  std::vector<std::string> rows;  // the metric table's rows, first cell to end
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("| `")) rows.push_back(line);
  }
  for (const MetricInfo& m : Metrics()) {
    if (m.name.starts_with("engine.")) continue;  // one row for every counter, none restricted
    const std::string documented =
        m.kind == MetricKind::kDuration ? "`" + m.name.substr(0, m.name.rfind('.')) + ".S`" : "`" + m.name + "`";
    const std::string* row = nullptr;
    for (const std::string& r : rows) {
      const std::string first_cell = r.substr(0, r.find(" | "));
      if (first_cell.find(documented) != std::string::npos) row = &r;
    }
    ASSERT_NE(row, nullptr) << m.name << " has no row in the metric table";
    if (m.measured_on.empty()) {
      EXPECT_EQ(row->find("measured on"), std::string::npos) << m.name << " is measured everywhere: " << *row;
    } else {
      EXPECT_NE(row->find(MeasuredOnNote(m)), std::string::npos) << m.name << ": expected '" << MeasuredOnNote(m)
                                                                   << "' in " << *row;
    }
  }
}

}  // namespace
}  // namespace pbxstate::scenario
