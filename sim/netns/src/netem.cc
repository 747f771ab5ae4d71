#include "pbxstate/netns/netem.h"

#include <chrono>
#include <cstdio>

#include "pbxstate/netns/command.h"

namespace pbxstate::netns {
namespace {

std::string Us(Duration d) { return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) + "us"; }

std::string Percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f%%", f * 100.0);
  return buf;
}

bool Fraction(double f) { return f >= 0.0 && f <= 1.0; }

}  // namespace

Status NetemArguments(const NetemParams& p, std::vector<std::string>* args) {
  if (p.delay < Duration::zero() || p.jitter < Duration::zero()) return Status::InvalidArgument("netem: negative delay or jitter");
  if (p.jitter > p.delay) return Status::InvalidArgument("netem: jitter larger than the delay");
  if (!Fraction(p.loss) || !Fraction(p.duplicate) || !Fraction(p.reorder)) {
    return Status::InvalidArgument("netem: loss, duplicate and reorder are fractions 0..1");
  }
  if (p.reorder > 0 && p.delay == Duration::zero()) return Status::InvalidArgument("netem: reordering needs a delay");
  if (p.limit_packets == 0) return Status::InvalidArgument("netem: limit must be at least 1 packet");
  args->assign({"netem", "limit", std::to_string(p.limit_packets)});
  if (p.delay > Duration::zero()) {
    args->insert(args->end(), {"delay", Us(p.delay)});
    if (p.jitter > Duration::zero()) args->insert(args->end(), {Us(p.jitter), "distribution", "uniform"});
  }
  if (p.loss > 0) args->insert(args->end(), {"loss", "random", Percent(p.loss)});
  if (p.duplicate > 0) args->insert(args->end(), {"duplicate", Percent(p.duplicate)});
  if (p.reorder > 0) args->insert(args->end(), {"reorder", Percent(p.reorder)});
  if (p.rate_bps > 0) args->insert(args->end(), {"rate", std::to_string(p.rate_bps) + "bit"});
  return Status::Ok();
}

Status ApplyNetem(const std::string& ns, const std::string& dev, const NetemParams& p) {
  std::vector<std::string> args;
  if (Status st = NetemArguments(p, &args); !st.ok()) return st;
  std::vector<std::string> argv = {"tc", "-netns", ns, "qdisc", "replace", "dev", dev, "root"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, std::chrono::seconds(10));
}

Status ShowQdisc(const std::string& ns, const std::string& dev, std::string* line) {
  return RunChecked({"tc", "-netns", ns, "qdisc", "show", "dev", dev, "root"}, std::chrono::seconds(10), line);
}

}  // namespace pbxstate::netns
