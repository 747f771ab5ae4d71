#include "pbxstate/gate/comparison.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pbxstate::gate {

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kWithin: return "ok";
    case Outcome::kImproved: return "improved";
    case Outcome::kRegressed: return "REGRESSED";
    case Outcome::kMissing: return "MISSING";
    case Outcome::kNew: return "new (not gated)";
  }
  return "?";
}

std::vector<MetricComparison> CompareWithBaseline(const Baseline& baseline, const std::vector<GateMetric>& run) {
  std::vector<MetricComparison> rows;
  for (const BaselineEntry& e : baseline.entries) {
    MetricComparison row;
    row.name = e.metric.name;
    row.unit = e.metric.unit;
    row.has_baseline = true;
    row.baseline = e.metric.value;
    const double base = e.metric.value;
    row.allowed = std::isinf(base) || IsInterrupted(base) ? 0 : std::max(base * e.tolerance.relative, e.tolerance.floor);
    auto it = std::find_if(run.begin(), run.end(), [&](const GateMetric& m) { return m.name == e.metric.name; });
    if (it == run.end()) {
      row.outcome = Outcome::kMissing;
      rows.push_back(std::move(row));
      continue;
    }
    row.has_observed = true;
    row.observed = it->value;
    row.note = it->note;
    const double seen = it->value;
    if (IsInterrupted(base) || IsInterrupted(seen)) {
      // Interrupted is worse than any time (agreement no longer comes before the next fault)
      // and better than never; two interrupted samples are alike.
      const auto rank = [](double v) { return IsInterrupted(v) ? 1 : std::isinf(v) ? 2 : 0; };
      row.outcome = rank(seen) == rank(base) ? Outcome::kWithin
                    : rank(seen) > rank(base) ? Outcome::kRegressed
                                              : Outcome::kImproved;
    } else if (std::isinf(base)) {
      // The baseline never converged: anything is at least as good; finite is an improvement.
      row.outcome = std::isinf(seen) ? Outcome::kWithin : Outcome::kImproved;
    } else if (seen > base + row.allowed) {
      row.outcome = Outcome::kRegressed;
    } else if (seen < base - row.allowed) {
      row.outcome = Outcome::kImproved;
    } else {
      row.outcome = Outcome::kWithin;
    }
    rows.push_back(std::move(row));
  }
  for (const GateMetric& m : run) {
    auto known = std::find_if(baseline.entries.begin(), baseline.entries.end(),
                              [&](const BaselineEntry& e) { return e.metric.name == m.name; });
    if (known != baseline.entries.end()) continue;
    MetricComparison row;
    row.name = m.name;
    row.unit = m.unit;
    row.has_observed = true;
    row.observed = m.value;
    row.note = m.note;
    row.outcome = Outcome::kNew;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string FormatChange(const MetricComparison& row) {
  if (!row.has_baseline || !row.has_observed) return "n/a";
  const double b = row.baseline, o = row.observed;
  if (IsInterrupted(b) && IsInterrupted(o)) return "+0%";
  if (IsInterrupted(o)) return "interrupted";
  if (IsInterrupted(b)) return "-interrupted";
  if (std::isinf(b) && std::isinf(o)) return "+0%";
  if (std::isinf(o)) return "+inf";
  if (std::isinf(b)) return "-inf";
  if (b == 0) return o == 0 ? "+0%" : "+" + FormatGateValue(row.unit, o - b) + " (from 0)";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", (o - b) / b * 100);
  return buf;
}

std::string FormatComparisonTable(const std::vector<MetricComparison>& rows, bool only_notable) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"metric", "baseline", "observed", "change", "allowed", "outcome"});
  for (const MetricComparison& r : rows) {
    if (only_notable && r.outcome == Outcome::kWithin) continue;
    cells.push_back({r.name, r.has_baseline ? FormatGateValue(r.unit, r.baseline) : "-",
                     r.has_observed ? FormatGateValue(r.unit, r.observed) : "-", FormatChange(r),
                     r.has_baseline ? "+" + FormatGateValue(r.unit, r.allowed) : "-",
                     std::string(OutcomeName(r.outcome)) + (r.note.empty() ? "" : "  (" + r.note + ")")});
  }
  if (cells.size() == 1) return "";
  std::vector<std::size_t> width(cells[0].size(), 0);
  for (const auto& row : cells) {
    for (std::size_t i = 0; i + 1 < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line = "    ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace pbxstate::gate
