#include "pbxstate/swarm/judge.h"

#include <algorithm>
#include <cstdio>

#include "pbxstate/runner/inproc_runner.h"
#include "pbxstate/runner/ns3_runner.h"

namespace pbxstate::swarm {
namespace {

constexpr std::size_t kMaxDetails = 20;

// "stale mailbox" from "stale mailbox 100@default", "lost device" from "lost device X from node
// 2", "wrong aggregate" from "wrong aggregate for device X": the discrepancy's first two words.
std::string DiscrepancyKind(const std::string& what) {
  const std::size_t first = what.find(' ');
  if (first == std::string::npos) return what;
  const std::size_t second = what.find(' ', first + 1);
  return what.substr(0, second);
}

void AddClass(Verdict* v, std::string cls) {
  if (std::find(v->classes.begin(), v->classes.end(), cls) == v->classes.end()) v->classes.push_back(std::move(cls));
}

}  // namespace

std::string_view BackendName(Backend backend) { return backend == Backend::kInproc ? "inproc" : "ns3"; }

bool Verdict::Shows(const std::string& cls) const {
  return std::find(classes.begin(), classes.end(), cls) != classes.end();
}

Verdict Judge(const Status& run, const runner::RunOutcome& outcome) {
  Verdict v;
  if (!run.ok()) {
    const bool livelock = run.message().find("livelock") != std::string::npos;
    AddClass(&v, std::string("run failed: ") + (livelock ? "livelock" : "error"));
    v.details.push_back(run.message());
    return v;
  }
  for (const harness::CheckVerdict& c : outcome.verdicts) {
    if (!c.failed()) continue;
    const std::string cls = "check failed: " + c.check.metric;
    if (c.check.metric == "lost" || c.check.metric == "stale") {
      for (const harness::Discrepancy& d : outcome.result.discrepancies) {
        const std::string kind = DiscrepancyKind(d.what);
        const bool lost = kind.rfind("lost", 0) == 0;
        if (lost == (c.check.metric == "lost")) AddClass(&v, cls + " (" + kind + ")");
      }
    }
    AddClass(&v, cls);
    char line[256];
    std::snprintf(line, sizeof line, "FAIL %s (observed %.6g)", c.check.text.c_str(), c.measured ? c.observed : -1.0);
    v.details.push_back(line);
  }
  if (!v.failed()) return v;
  for (const harness::Discrepancy& d : outcome.result.discrepancies) {
    if (v.details.size() >= kMaxDetails) break;
    v.details.push_back("node " + std::to_string(d.node) + ": " + d.what);
  }
  return v;
}

Verdict RunAndJudge(const scenario::Scenario& s, Backend backend) {
  runner::RunOptions ro;
  runner::RunOutcome outcome;
  const Status st = backend == Backend::kInproc ? runner::RunInproc(s, ro, &outcome) : runner::RunNs3(s, ro, &outcome);
  // A scenario the backend refuses is not a failure of the engine: the swarm drew what it must not.
  if (!st.ok() && st.code() == Status::Code::kInvalidArgument) {
    Verdict v;
    v.classes.push_back("refused by the backend");
    v.details.push_back(st.message());
    return v;
  }
  return Judge(st, outcome);
}

}  // namespace pbxstate::swarm
