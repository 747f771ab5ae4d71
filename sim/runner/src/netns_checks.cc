// What the namespace backend needs before anything starts: the scenario within what real
// processes on one host can honour (netns_runner.h CheckNetnsSupport), the link shaping this
// kernel offers, and the pbxstated binary. Every refusal names file, line, column and field.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "netns_run.h"
#include "pbxstate/netns/pbxstated_config.h"

namespace pbxstate::runner {

using scenario::Scenario;

namespace netns_run {
namespace {

// Without netem, LAN delays up to this are run without (a veth pair on a bridge adds tens of
// microseconds of its own) and noted in the record; longer ones, and jitter, are refused.
constexpr Duration kMaxUnappliedDelay = 1ms;

}  // namespace

Status CheckShaping(const Scenario& s, netns::ShapingMethod method, std::vector<std::string>* notes) {
  if (method == netns::ShapingMethod::kNetem) return Status::Ok();
  const std::string why = "this kernel has no sch_netem (CONFIG_NET_SCH_NETEM), so the netns backend cannot add ";
  const scenario::Site& site = s.topology.sites[0];
  const std::string lan_field = s.topology.named_sites ? "network.sites." + site.name + ".delay" : "network.lan.delay";
  if (site.lan.delay > kMaxUnappliedDelay) {
    return Where(s, site.pos, lan_field, why + "a delay of " + Seconds(site.lan.delay) + " (at most " +
                                             Seconds(kMaxUnappliedDelay) + " is run without it); use --backend ns3");
  }
  if (site.lan.delay > Duration::zero()) {
    notes->push_back("LAN delay " + Seconds(site.lan.delay) + " not applied: the kernel has no sch_netem (loss and "
                     "rate are applied with nftables and tbf)");
  }
  for (const scenario::Fault& f : s.faults) {
    if (const auto* d = std::get_if<scenario::Degrade>(&f.what); d != nullptr && d->delay && *d->delay > kMaxUnappliedDelay) {
      return Where(s, f.pos, "faults.degrade.delay", why + "a delay of " + Seconds(*d->delay) + "; use --backend ns3");
    }
  }
  return Status::Ok();
}

Status CheckSites(const Scenario& s) {
  // One bridge, one qdisc per node's eth0: every site is on the one LAN, with the first site's
  // parameters, and a link can add nothing this backend would have to apply per pair of sites.
  // The engines still get the site map (pbxstated's engine.node_sites), so relays run for real.
  const std::string why = "the netns backend puts every site on one LAN (one bridge, one qdisc per node); ";
  const scenario::Topology& t = s.topology;
  for (std::size_t i = 1; i < t.sites.size(); ++i) {
    const scenario::LanParams& a = t.sites[0].lan;
    const scenario::LanParams& b = t.sites[i].lan;
    if (a.delay != b.delay || a.bandwidth_bps != b.bandwidth_bps || a.loss != b.loss ||
        a.frames.duplicate != b.frames.duplicate || a.frames.reorder != b.frames.reorder ||
        a.frames.reorder_delay != b.frames.reorder_delay) {
      return Where(s, t.sites[i].pos, "network.sites." + t.sites[i].name,
                   why + "every site needs the first site's LAN parameters (run this scenario with --backend ns3)");
    }
  }
  for (const scenario::SiteLink& l : t.links) {
    const std::string field = "network.links." + t.sites[l.a].name + "-" + t.sites[l.b].name;
    const scenario::LinkParams& p = l.params;
    if (p.delay > kMaxUnappliedDelay || p.jitter > Duration::zero() || p.loss > 0 || p.frames.any()) {
      return Where(s, t.sites[l.b].pos, field,
                   why + "a link between sites may not add more than " + Seconds(kMaxUnappliedDelay) +
                       " of delay, nor jitter, loss or frame faults (run this scenario with --backend ns3)");
    }
  }
  for (const scenario::Fault& f : s.faults) {
    const auto* d = std::get_if<scenario::Degrade>(&f.what);
    const auto* r = std::get_if<scenario::Restore>(&f.what);
    const scenario::NetworkTarget* target = d != nullptr ? &d->target : r != nullptr ? &r->target : nullptr;
    if (target != nullptr && target->kind == scenario::NetworkTarget::Kind::kLink) {
      return Where(s, f.pos, "faults", why + "a link between sites cannot be degraded or restored on its own");
    }
  }
  return Status::Ok();
}

void NoteSites(const Scenario& s, std::vector<std::string>* notes) {
  if (s.topology.sites.size() < 2) return;
  notes->push_back(std::to_string(s.topology.sites.size()) +
                   " sites on one LAN: the links between them add no delay or rate limit here (the engines get the "
                   "site map; WAN frames are not counted by this backend)");
}

Status CheckRealCluster(const Scenario& s, const std::string& backend) {
  if (s.membership.source == MembershipSource::kHeartbeat) {
    return Where(s, s.membership.pos, "cluster.membership",
                 "pbxstated takes its membership from corosync CPG (write transport, or leave it out)");
  }
  if (s.membership.views != scenario::ViewModel::kConsistent || s.membership.view_delay != Duration{}) {
    return Where(s, s.membership.pos, "cluster.views",
                 "corosync forms the views (consistent, when totem decides); per_node views and view_delay are "
                 "for --backend inproc");
  }
  return RefuseFrameFaults(s, backend);
}

namespace {

// The source of the workload that a run of changes from `from` to `to` is most likely owed to,
// for the message: a burst starting in it, the mailbox fill, the churn's registrations, the name
// churn; the steady rate (no position of its own) when none is.
Status RateWhere(const Scenario& s, Duration from, Duration to, const std::string& what) {
  const scenario::Workload& w = s.workload;
  for (const scenario::Burst& b : w.bursts) {
    if (b.at >= from && b.at <= to) return Where(s, b.pos, "workload.bursts", what);
  }
  if (w.mailbox_fill && w.mailboxes > 0 && from < *w.mailbox_fill) {
    return Where(s, w.mailbox_fill_pos, "workload.mailbox_fill", what);
  }
  if (w.churn) return Where(s, w.churn->pos, "workload.churn", what);
  if (w.name_churn) return Where(s, w.name_churn->pos, "workload.name_churn", what);
  return Status::InvalidArgument(s.file + ": workload.rate: " + what);
}

}  // namespace

double SustainedChangeRate(std::uint32_t nodes) {
  return kSustainedDeliveriesPerSecond / std::max<std::uint32_t>(nodes, 1);
}

Duration PredictedLateness(const std::vector<harness::PlannedChange>& plan, double sustained_per_s, Duration* at,
                           Duration* behind_since) {
  const Duration gap(static_cast<Duration::rep>(1e9 / sustained_per_s));
  Duration free{}, since{}, worst{};
  for (const harness::PlannedChange& c : plan) {
    if (c.at >= free) {
      free = c.at;
      since = c.at;
    }
    if (free - c.at > worst) {
      worst = free - c.at;
      *at = c.at;
      *behind_since = since;
    }
    free += gap;
  }
  return worst;
}

Status CheckChangeRate(const Scenario& s, const std::string& backend) {
  const double sustained = SustainedChangeRate(s.topology.node_count());
  Duration at{}, since{};
  const Duration late = PredictedLateness(harness::ExpandWorkload(s), sustained, &at, &since);
  if (late <= kMaxChangeLateness) return Status::Ok();
  return RateWhere(s, since, at,
                   "the " + backend + " backend makes changes through control sockets, about " +
                       std::to_string(static_cast<long long>(sustained)) + "/s on " +
                       std::to_string(s.topology.node_count()) + " nodes; the workload's changes (every source summed: "
                       "steady rate, bursts, mailbox fill, churn) from " + Seconds(since) + " on would be issued up to " +
                       Seconds(late) + " late (at " + Seconds(at) + "; bound " + Seconds(kMaxChangeLateness) + ")");
}

Status CheckDaemonConfig(const Scenario& s) {
  netns::PbxstatedSpec spec;
  spec.control_socket = "/x";
  spec.engine = scenario::EngineConfigOf(s);
  std::string text;
  if (Status st = netns::PbxstatedConfig(spec, &text); !st.ok()) return Status::InvalidArgument(s.file + ": " + st.message());
  if (s.engine.max_frame_bytes > 1024 * 1024) {
    return Status::InvalidArgument(s.file + ": engine.max_frame_bytes: pbxstated carries frames up to 1 MiB");
  }
  return Status::Ok();
}

}  // namespace netns_run

using netns_run::LanNetem;

Status CheckNetnsSupport(const Scenario& s) {
  if (Status st = CheckEngineSettings(s, MembershipSource::kTransport); !st.ok()) return st;
  const std::uint32_t count = s.topology.node_count();
  if (Status st = netns_run::CheckRealCluster(s, "netns"); !st.ok()) return st;
  if (Status st = netns_run::CheckSites(s); !st.ok()) return st;
  if (count > netns::kMaxNodes) {
    return Where(s, s.topology.sites[0].pos, "cluster.nodes",
                 "the netns backend runs at most " + std::to_string(netns::kMaxNodes) +
                     " nodes (real processes on one host); this scenario has " + std::to_string(count));
  }
  if (Status st = netns_run::CheckDaemonConfig(s); !st.ok()) return st;
  if (Status st = netns_run::CheckChangeRate(s, "netns"); !st.ok()) return st;
  for (const scenario::Fault& f : s.faults) {
    if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
      if (d->jitter) return Where(s, f.pos, "faults.degrade.jitter", "the netns backend's LAN has no jitter");
      netns::NetemParams p = LanNetem(s.topology.sites[0].lan);
      if (d->delay) p.delay = *d->delay;
      if (d->loss) p.loss = *d->loss;
      std::vector<std::string> args;
      if (Status st = netns::NetemArguments(p, &args); !st.ok()) return Where(s, f.pos, "faults.degrade", st.message());
    }
  }
  return Status::Ok();
}

Status FindPbxstated(const NetnsOptions& options, std::filesystem::path* out) {
  std::vector<std::filesystem::path> tried;
  auto usable = [&](const std::filesystem::path& p) {
    tried.push_back(p);
    return !p.empty() && access(p.c_str(), X_OK) == 0;
  };
  if (!options.pbxstated.empty()) {
    if (usable(options.pbxstated)) {
      *out = std::filesystem::absolute(options.pbxstated);
      return Status::Ok();
    }
    return Status::InvalidArgument("--pbxstated " + options.pbxstated.string() + ": not an executable file");
  }
  if (const char* env = std::getenv("PBXSTATED"); env != nullptr && usable(env)) {
    *out = env;
    return Status::Ok();
  }
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // The build tree: <build>/sim/cli/pbxstate and <build>/daemon/pbxstated.
    const auto p = self.parent_path().parent_path().parent_path() / "daemon" / "pbxstated";
    if (usable(p)) {
      *out = p;
      return Status::Ok();
    }
    if (usable(self.parent_path() / "pbxstated")) {
      *out = self.parent_path() / "pbxstated";
      return Status::Ok();
    }
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  for (std::size_t a = 0; a <= dirs.size();) {
    const std::size_t b = std::min(dirs.find(':', a), dirs.size());
    if (b > a && usable(std::filesystem::path(dirs.substr(a, b - a)) / "pbxstated")) {
      *out = std::filesystem::path(dirs.substr(a, b - a)) / "pbxstated";
      return Status::Ok();
    }
    a = b + 1;
  }
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t.string();
  return Status::FailedPrecondition("pbxstated not found (build the pbxstated target, or give --pbxstated or $PBXSTATED); looked at " + where);
}

}  // namespace pbxstate::runner
