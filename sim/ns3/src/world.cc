#include "pbxstate/ns3/world.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <ns3/ipv4-static-routing-helper.h>
#include <ns3/ipv4-static-routing.h>
#include <ns3/ipv4.h>
#include <ns3/simulator.h>

#include "world_internal.h"

namespace pbxstate::ns3sim {

namespace {

bool world_exists = false;

}  // namespace

WorldConfig WorldConfig::SingleLan(std::uint32_t nodes, LinkParams lan) {
  WorldConfig config;
  config.sites.push_back(SiteSpec{"lan", nodes, lan});
  return config;
}

Status Ns3World::Create(const WorldConfig& config, std::unique_ptr<Ns3World>* out) {
  if (world_exists) return Status::FailedPrecondition("an Ns3World already exists (ns-3 has one simulator)");
  std::unique_ptr<Ns3World> world(new Ns3World());
  world_exists = true;  // the destructor clears it, also when Build fails below
  Status status = world->Build(config);
  if (!status.ok()) return status;
  *out = std::move(world);
  return Status::Ok();
}

Ns3World::~Ns3World() {
  // Engines must go before the simulator objects they reach through their Env. Dispose stops
  // them without telling the collector (this is the end of the run, not a crash).
  for (auto& a : apps_) a->Dispose();
  apps_.clear();
  error_models_.clear();
  sites_.clear();
  links_.clear();
  cluster_nodes_ = ns3::NodeContainer();
  routers_ = ns3::NodeContainer();
  ns3::Simulator::Destroy();
  world_exists = false;
}

Ns3World::Site* Ns3World::FindSite(const std::string& name) {
  for (auto& s : sites_) {
    if (s->name == name) return s.get();
  }
  return nullptr;
}

Ns3World::Link* Ns3World::FindLink(const std::string& a, const std::string& b) {
  Site* sa = FindSite(a);
  Site* sb = FindSite(b);
  if (sa == nullptr || sb == nullptr) return nullptr;
  for (auto& l : links_) {
    if ((l->a == sa->index && l->b == sb->index) || (l->a == sb->index && l->b == sa->index)) return l.get();
  }
  return nullptr;
}

ns3t::NodeApp* Ns3World::app(NodeId node) const {
  if (node == kNoNode || node > apps_.size()) return nullptr;
  return apps_[node - 1].operator->();
}

void Ns3World::RestoreDefaultRoute(NodeId node) {
  const Site& site = *sites_[site_of_[node - 1]];
  if (site.router == nullptr) return;
  auto ipv4 = cluster_nodes_.Get(node - 1)->GetObject<ns3::Ipv4>();
  ns3::Ipv4StaticRoutingHelper helper;
  // Interface 0 is loopback; the LAN device is interface 1.
  helper.GetStaticRouting(ipv4)->SetDefaultRoute(site.router_address, 1);
}

// ---- time ----

Duration Ns3World::Now() const { return Duration(ns3::Simulator::Now().GetNanoSeconds()); }

void Ns3World::RunUntil(Duration until) {
  const Duration now = Now();
  if (until < now) return;
  ns3::Simulator::Stop(ToNs3(until - now));
  ns3::Simulator::Run();
  // The stop event runs after the events at `until` that were scheduled before it, not after
  // those scheduled later (an engine that moved its wakeup to `until` after the stop was set).
  // Drain the instant, so what a caller sees at `until` has everything due then applied. An
  // engine never asks to be woken "now" forever (its OnTimer asserts it), so this ends; the
  // bound makes sure.
  constexpr int kMaxDrains = 1000;
  for (int i = 0; i < kMaxDrains; ++i) {
    const std::uint64_t before = ns3::Simulator::GetEventCount();
    ns3::Simulator::Stop(ns3::Seconds(0));  // a stop event now, after every event already due now
    ns3::Simulator::Run();
    if (ns3::Simulator::GetEventCount() - before <= 1) break;  // only the stop itself ran
  }
}

void Ns3World::At(Duration when, std::function<void()> fn) {
  const Duration delay = std::max(Duration::zero(), when - Now());
  ns3::Simulator::Schedule(ToNs3(delay), std::move(fn));
}

// ---- faults ----

Status Ns3World::Partition(const std::vector<std::vector<NodeId>>& groups) {
  std::vector<std::uint16_t> group(node_ids_.size(), 0);  // 0: listed nowhere
  if (groups.size() >= 0xFFFF) return Status::InvalidArgument("partition: too many groups");
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (NodeId id : groups[g]) {
      if (app(id) == nullptr) return Status::InvalidArgument("partition: unknown node " + std::to_string(id));
      if (group[id - 1] != 0) return Status::InvalidArgument("partition: node " + std::to_string(id) + " in two groups");
      group[id - 1] = static_cast<std::uint16_t>(g + 1);
    }
  }
  cuts_->AddGroups(std::move(group));
  return Status::Ok();
}

Status Ns3World::PartitionOneWay(const std::vector<NodeId>& from, const std::vector<NodeId>& deaf) {
  std::vector<bool> f(node_ids_.size(), false), t(node_ids_.size(), false);
  for (NodeId id : from) {
    if (app(id) == nullptr) return Status::InvalidArgument("partition: unknown node " + std::to_string(id));
    f[id - 1] = true;
  }
  for (NodeId id : deaf) {
    if (app(id) == nullptr) return Status::InvalidArgument("partition: unknown node " + std::to_string(id));
    t[id - 1] = true;
  }
  cuts_->AddOneWay(std::move(f), std::move(t));
  return Status::Ok();
}

void Ns3World::Heal() {
  cuts_->Clear();
  for (NodeId id : node_ids_) {
    if (isolated_[id - 1]) Reconnect(id);
  }
}

Status Ns3World::Isolate(NodeId node) {
  if (app(node) == nullptr) return Status::InvalidArgument("isolate: unknown node " + std::to_string(node));
  if (isolated_[node - 1]) return Status::Ok();
  cluster_nodes_.Get(node - 1)->GetObject<ns3::Ipv4>()->SetDown(1);
  isolated_[node - 1] = true;
  return Status::Ok();
}

Status Ns3World::Reconnect(NodeId node) {
  if (app(node) == nullptr) return Status::InvalidArgument("reconnect: unknown node " + std::to_string(node));
  if (!isolated_[node - 1]) return Status::Ok();
  cluster_nodes_.Get(node - 1)->GetObject<ns3::Ipv4>()->SetUp(1);
  // Setting the interface down removed every route through it; up restores only the LAN route.
  RestoreDefaultRoute(node);
  isolated_[node - 1] = false;
  return Status::Ok();
}

Status Ns3World::SetSiteLoss(const std::string& name, double loss) {
  Site* site = FindSite(name);
  if (site == nullptr) return Status::InvalidArgument("unknown site " + name);
  if (!(loss >= 0.0 && loss <= 1.0)) return Status::InvalidArgument("loss must be in [0, 1]");
  for (auto& em : site->receivers) em->SetLossRate(loss);
  return Status::Ok();
}

Status Ns3World::SetSiteDelay(const std::string& name, Duration delay) {
  Site* site = FindSite(name);
  if (site == nullptr) return Status::InvalidArgument("unknown site " + name);
  if (delay < Duration::zero()) return Status::InvalidArgument("delay must not be negative");
  if (site->channel != nullptr) site->channel->SetAttribute("Delay", ns3::TimeValue(ToNs3(delay)));
  if (site->switch_channel != nullptr) site->switch_channel->SetDelay(ToNs3(delay));
  return Status::Ok();
}

Status Ns3World::SetSiteJitter(const std::string& name, Duration jitter) {
  Site* site = FindSite(name);
  if (site == nullptr) return Status::InvalidArgument("unknown site " + name);
  if (jitter < Duration::zero()) return Status::InvalidArgument("jitter must not be negative");
  for (NodeId id : site->nodes) app(id)->SetSendJitter(ToNs3(jitter));
  return Status::Ok();
}

Status Ns3World::SetLinkLoss(const std::string& a, const std::string& b, double loss) {
  Status st = SetLinkLossOneWay(a, b, loss);
  if (!st.ok()) return st;
  return SetLinkLossOneWay(b, a, loss);
}

Status Ns3World::SetLinkLossOneWay(const std::string& from, const std::string& to, double loss) {
  Link* link = FindLink(from, to);
  if (link == nullptr) return Status::InvalidArgument("no link between " + from + " and " + to);
  if (!(loss >= 0.0 && loss <= 1.0)) return Status::InvalidArgument("loss must be in [0, 1]");
  // Packets travelling from -> to are judged by the receive error model at `to`.
  const bool to_is_b = sites_[link->b]->name == to;
  (to_is_b ? link->at_b : link->at_a)->SetLossRate(loss);
  return Status::Ok();
}

Status Ns3World::SetLinkDelay(const std::string& a, const std::string& b, Duration delay) {
  Link* link = FindLink(a, b);
  if (link == nullptr) return Status::InvalidArgument("no link between " + a + " and " + b);
  if (delay < Duration::zero()) return Status::InvalidArgument("delay must not be negative");
  link->channel->SetAttribute("Delay", ns3::TimeValue(ToNs3(delay)));
  return Status::Ok();
}

Status Ns3World::SetLinkJitter(const std::string& a, const std::string& b, Duration jitter) {
  Link* link = FindLink(a, b);
  if (link == nullptr) return Status::InvalidArgument("no link between " + a + " and " + b);
  if (jitter < Duration::zero()) return Status::InvalidArgument("jitter must not be negative");
  link->channel->SetJitter(ToNs3(jitter));
  return Status::Ok();
}

Status Ns3World::Crash(NodeId node) {
  ns3t::NodeApp* a = app(node);
  if (a == nullptr) return Status::InvalidArgument("crash: unknown node " + std::to_string(node));
  a->Crash();
  return Status::Ok();
}

Status Ns3World::Restart(NodeId node) {
  ns3t::NodeApp* a = app(node);
  if (a == nullptr) return Status::InvalidArgument("restart: unknown node " + std::to_string(node));
  a->Restart();
  return Status::Ok();
}

// ---- reading ----

std::vector<NodeId> Ns3World::SiteNodes(const std::string& name) const {
  for (const auto& s : sites_) {
    if (s->name == name) return s->nodes;
  }
  return {};
}

Engine* Ns3World::engine(NodeId node) const {
  ns3t::NodeApp* a = app(node);
  return a == nullptr ? nullptr : a->engine();
}

bool Ns3World::isolated(NodeId node) const { return app(node) != nullptr && isolated_[node - 1]; }

const NodeCounters* Ns3World::counters(NodeId node) const {
  ns3t::NodeApp* a = app(node);
  return a == nullptr ? nullptr : &a->counters();
}

const ns3t::CorosyncStack* Ns3World::corosync(NodeId node) const {
  ns3t::NodeApp* a = app(node);
  return a == nullptr ? nullptr : a->corosync();
}

ns3t::CorosyncStack* Ns3World::corosync(NodeId node) {
  ns3t::NodeApp* a = app(node);
  return a == nullptr ? nullptr : a->corosync();
}

NodeCounters Ns3World::TotalCounters() const {
  NodeCounters t;
  for (const auto& a : apps_) {
    const NodeCounters& c = a->counters();
    t.frames_sent += c.frames_sent;
    t.payload_bytes_sent += c.payload_bytes_sent;
    t.wire_bytes_sent += c.wire_bytes_sent;
    t.broadcast_calls += c.broadcast_calls;
    t.unicast_calls += c.unicast_calls;
    t.send_errors += c.send_errors;
    t.jitter_queue_overflow += c.jitter_queue_overflow;
    t.frames_received += c.frames_received;
    t.payload_bytes_received += c.payload_bytes_received;
    t.frames_unknown_sender += c.frames_unknown_sender;
    t.frames_from_self += c.frames_from_self;
    t.wakeups_deferred += c.wakeups_deferred;
    t.starts += c.starts;
    t.crashes += c.crashes;
    t.datagrams_sent += c.datagrams_sent;
    t.cpg_try_again += c.cpg_try_again;
    t.knet_tx_waits += c.knet_tx_waits;
    t.knet_tx_dropped += c.knet_tx_dropped;
  }
  return t;
}

FaultCounters Ns3World::fault_counters() const {
  FaultCounters f;
  for (const auto& em : error_models_) {
    f.dropped_by_cut += em->dropped_by_cut();
    f.dropped_by_loss += em->dropped_by_loss();
  }
  return f;
}

bool Ns3World::Agree(const std::vector<NodeId>& group) const {
  std::optional<ViewDigest> first;
  for (NodeId id : group) {
    const Engine* e = engine(id);
    if (e == nullptr) return false;
    const ViewDigest d = e->Digest();
    if (!first) {
      first = d;
    } else if (!(d == *first)) {
      return false;
    }
  }
  return true;
}

std::uint32_t Ns3World::simulated_nodes() const { return cluster_nodes_.GetN() + routers_.GetN(); }

}  // namespace pbxstate::ns3sim
