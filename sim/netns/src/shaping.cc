#include "pbxstate/netns/shaping.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>

#include "pbxstate/netns/command.h"
#include "pbxstate/netns/names.h"

namespace pbxstate::netns {
namespace {

using namespace std::chrono_literals;

// numgen draws in [0, kLossScale); a frame is dropped when the draw is below loss x kLossScale.
constexpr std::uint64_t kLossScale = 1'000'000;

std::string Us(Duration d) { return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) + "us"; }

}  // namespace

std::string_view ShapingMethodName(ShapingMethod m) { return m == ShapingMethod::kNetem ? "netem" : "nftables+tbf"; }

bool KernelHasNetem() {
  static std::once_flag once;
  static bool has = false;
  std::call_once(once, [] {
    const std::string probe = RunNames(getpid()).Tag() + "-netemprobe";
    if (!RunChecked({"ip", "netns", "add", probe}, 10s).ok()) return;
    has = RunChecked({"tc", "-netns", probe, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"}, 10s).ok();
    (void)RunChecked({"ip", "netns", "del", probe}, 10s);
  });
  return has;
}

std::string Unsupported(const NetemParams& p, ShapingMethod method) {
  if (method == ShapingMethod::kNetem) return "";
  std::string what;
  auto add = [&](const std::string& s) { what += (what.empty() ? "" : ", ") + s; };
  if (p.delay > Duration::zero()) add("delay " + Us(p.delay));
  if (p.jitter > Duration::zero()) add("jitter " + Us(p.jitter));
  if (p.duplicate > 0) add("duplication");
  if (p.reorder > 0) add("reordering");
  return what;
}

std::string LossScript(const std::string& dev, double loss) {
  std::string s = "table inet pbxstate_loss\ndelete table inet pbxstate_loss\n";
  s += "table inet pbxstate_loss {\n  chain input {\n    type filter hook input priority 0; policy accept;\n";
  const auto threshold = static_cast<std::uint64_t>(std::llround(std::clamp(loss, 0.0, 1.0) * static_cast<double>(kLossScale)));
  if (threshold >= kLossScale) {
    s += "    iifname \"" + dev + "\" counter drop\n";
  } else if (threshold > 0) {
    s += "    iifname \"" + dev + "\" numgen random mod " + std::to_string(kLossScale) + " < " + std::to_string(threshold) +
         " counter drop\n";
  }
  s += "  }\n}\n";
  return s;
}

Status ApplyShaping(const std::string& ns, const std::string& dev, const NetemParams& p, ShapingMethod method,
                    const std::filesystem::path& script_path) {
  if (method == ShapingMethod::kNetem) return ApplyNetem(ns, dev, p);
  if (p.loss < 0 || p.loss > 1) return Status::InvalidArgument("loss is a fraction 0..1");
  {
    std::ofstream f(script_path, std::ios::trunc);
    f << LossScript(dev, p.loss);
    if (!f) return Status::FailedPrecondition(script_path.string() + ": cannot write");
  }
  if (Status st = RunChecked({"ip", "netns", "exec", ns, "nft", "-f", script_path.string()}, 10s); !st.ok()) return st;
  if (p.rate_bps == 0) {
    return RunChecked({"tc", "-netns", ns, "qdisc", "replace", "dev", dev, "root", "pfifo", "limit",
                       std::to_string(p.limit_packets)},
                      10s);
  }
  // A bucket of 10 ms of traffic (at least 64 KiB) so the rate holds without starving bursts.
  const std::uint64_t burst = std::max<std::uint64_t>(p.rate_bps / 8 / 100, 64 * 1024);
  return RunChecked({"tc", "-netns", ns, "qdisc", "replace", "dev", dev, "root", "tbf", "rate",
                     std::to_string(p.rate_bps) + "bit", "burst", std::to_string(burst), "latency", "100ms"},
                    10s);
}

}  // namespace pbxstate::netns
