#include "pbxstate/ns3/world.h"

#include <algorithm>
#include <deque>
#include <set>
#include <optional>
#include <utility>

#include <ns3/csma-channel.h>
#include <ns3/csma-helper.h>
#include <ns3/csma-net-device.h>
#include <ns3/data-rate.h>
#include <ns3/drop-tail-queue.h>
#include <ns3/internet-stack-helper.h>
#include <ns3/ipv4-address-generator.h>
#include <ns3/ipv4-address-helper.h>
#include <ns3/ipv4-static-routing-helper.h>
#include <ns3/ipv4-static-routing.h>
#include <ns3/ipv4.h>
#include <ns3/neighbor-cache-helper.h>
#include <ns3/net-device-container.h>
#include <ns3/pointer.h>
#include <ns3/point-to-point-net-device.h>
#include <ns3/queue-size.h>
#include <ns3/rng-seed-manager.h>
#include <ns3/simple-net-device-helper.h>
#include <ns3/simulator.h>
#include <ns3/queue-disc.h>
#include <ns3/traffic-control-layer.h>

#include "pbxstate/ns3/faults.h"

namespace pbxstate::ns3sim {

namespace {

// Random stream numbers, fixed per object so a run depends only on seed, run and config (not on
// how many random variables ns-3 created before, e.g. in an earlier world in this process).
constexpr std::int64_t kAppStreamBase = 0;              // 2 per node
constexpr std::int64_t kErrorModelStreamBase = 1 << 22;  // 1 per device
constexpr std::int64_t kStartStream = 2 << 22;
constexpr std::int64_t kLinkStreamBase = (2 << 22) + 16;  // 1 per inter-site link
constexpr std::int64_t kCsmaStreamBase = 3 << 22;
constexpr std::int64_t kInternetStreamBase = 4 << 22;

constexpr std::size_t kMaxSites = 250;   // site s uses 10.(s+1).0.0/16
constexpr std::uint32_t kMaxNodesPerSite = 65000;

bool world_exists = false;

ns3::Time ToNs3(Duration d) { return ns3::NanoSeconds(d.count()); }

ns3::Ipv4Address SiteNetwork(std::size_t site) {
  return ns3::Ipv4Address(static_cast<std::uint32_t>((10u << 24) | ((site + 1) << 16)));
}

Status CheckLink(const LinkParams& p, const std::string& what) {
  if (p.delay < Duration::zero() || p.jitter < Duration::zero())
    return Status::InvalidArgument(what + ": negative delay or jitter");
  if (p.rate_bps == 0) return Status::InvalidArgument(what + ": rate_bps must be positive");
  if (!(p.loss >= 0.0 && p.loss <= 1.0)) return Status::InvalidArgument(what + ": loss must be in [0, 1]");
  return Status::Ok();
}

// ns-3 installs a root queue disc on every device an address is assigned to. The device's own
// drop-tail queue is all a LAN frame needs; without the disc a 1,000-node run spends no time in
// fq-codel hashing.
void RemoveQueueDiscs(const ns3::NetDeviceContainer& devices) {
  for (auto it = devices.Begin(); it != devices.End(); ++it) {
    ns3::Ptr<ns3::TrafficControlLayer> tc = (*it)->GetNode()->GetObject<ns3::TrafficControlLayer>();
    if (tc != nullptr && tc->GetRootQueueDiscOnDevice(*it) != nullptr) tc->DeleteRootQueueDiscOnDevice(*it);
  }
}

}  // namespace

struct Ns3World::Site {
  std::string name;
  std::uint32_t index = 0;
  LinkParams lan;
  std::vector<NodeId> nodes;
  ns3::Ptr<ns3::Node> router;              // null in a single-site world
  ns3::Ipv4Address router_address;         // router's LAN address
  ns3::Ptr<ns3::CsmaChannel> channel;           // kCsmaBus
  ns3::Ptr<SwitchedLanChannel> switch_channel;  // kSwitched
  std::vector<ns3::Ptr<FaultErrorModel>> receivers;  // every device on the LAN, router's too
};

struct Ns3World::Link {
  std::uint32_t a = 0, b = 0;  // site indices
  ns3::Ptr<JitterPointToPointChannel> channel;
  ns3::Ptr<FaultErrorModel> at_a, at_b;  // receive error models: at_b drops what travels a -> b
};

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

Status Ns3World::Build(const WorldConfig& config) {
  // ---- check the config before touching ns-3 ----
  if (config.sites.empty()) return Status::InvalidArgument("world: no sites");
  if (config.sites.size() > kMaxSites) return Status::InvalidArgument("world: more than 250 sites");
  if (config.seed == 0) return Status::InvalidArgument("world: seed must be non-zero");
  std::set<std::string> names;
  std::uint64_t total = 0;
  for (const auto& s : config.sites) {
    if (s.name.empty() || !names.insert(s.name).second)
      return Status::InvalidArgument("world: site names must be unique and non-empty");
    if (s.nodes == 0 || s.nodes > kMaxNodesPerSite)
      return Status::InvalidArgument("world: site " + s.name + " needs 1..65000 nodes");
    Status st = CheckLink(s.lan, "site " + s.name);
    if (!st.ok()) return st;
    total += s.nodes;
  }
  if (total > config.engine.max_nodes)
    return Status::InvalidArgument("world: more nodes than engine.max_nodes");
  EngineConfig probe = config.engine;
  probe.node_id = 1;
  probe.incarnation = 1;
  if (Status st = probe.Validate(); !st.ok()) return st;
  if (probe.max_frame_bytes > ns3t::kMaxUdpPayload)
    return Status::InvalidArgument("world: engine.max_frame_bytes exceeds the UDP payload of a 1500-byte MTU (1472)");

  config_ = config;
  const std::size_t site_count = config.sites.size();
  for (std::size_t i = 0; i < site_count; ++i) {
    auto site = std::make_unique<Site>();
    site->name = config.sites[i].name;
    site->index = static_cast<std::uint32_t>(i);
    site->lan = config.sites[i].lan;
    sites_.push_back(std::move(site));
  }
  std::vector<std::vector<std::pair<std::uint32_t, std::size_t>>> adjacency(site_count);  // (site, link)
  for (const auto& l : config.links) {
    Site* a = FindSite(l.a);
    Site* b = FindSite(l.b);
    if (a == nullptr || b == nullptr || a == b)
      return Status::InvalidArgument("world: link " + l.a + "-" + l.b + " must join two different known sites");
    if (FindLink(l.a, l.b) != nullptr) return Status::InvalidArgument("world: duplicate link " + l.a + "-" + l.b);
    Status st = CheckLink(l.link, "link " + l.a + "-" + l.b);
    if (!st.ok()) return st;
    auto link = std::make_unique<Link>();
    link->a = a->index;
    link->b = b->index;
    adjacency[a->index].push_back({b->index, links_.size()});
    adjacency[b->index].push_back({a->index, links_.size()});
    links_.push_back(std::move(link));
  }
  // First hop (link index) from every site to every other, fewest hops, ties to the link given
  // first: BFS from each site.
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<std::vector<std::size_t>> first_hop(site_count, std::vector<std::size_t>(site_count, kNone));
  for (std::size_t s = 0; s < site_count; ++s) {
    std::vector<bool> seen(site_count, false);
    std::deque<std::uint32_t> queue{static_cast<std::uint32_t>(s)};
    seen[s] = true;
    while (!queue.empty()) {
      const std::uint32_t u = queue.front();
      queue.pop_front();
      for (auto [v, link] : adjacency[u]) {
        if (seen[v]) continue;
        seen[v] = true;
        first_hop[s][v] = (u == s) ? link : first_hop[s][u];
        queue.push_back(v);
      }
    }
    for (std::size_t t = 0; t < site_count; ++t) {
      if (!seen[t]) return Status::InvalidArgument("world: site " + sites_[t]->name + " is not reachable from " + sites_[s]->name);
    }
  }

  // ---- ns-3 global state ----
  ns3::Ipv4AddressGenerator::Reset();  // addresses are remembered across worlds otherwise
  ns3::RngSeedManager::SetSeed(config.seed);
  ns3::RngSeedManager::SetRun(config.run);

  const auto n = static_cast<std::uint32_t>(total);
  cuts_ = std::make_unique<CutTable>(n);
  peers_ = std::make_shared<ns3t::PeerDirectory>();
  cluster_nodes_.Create(n);
  const bool multi_site = site_count > 1;
  if (multi_site) routers_.Create(static_cast<std::uint32_t>(site_count));
  site_of_.assign(n, 0);
  isolated_.assign(n, false);

  ns3::InternetStackHelper internet;
  ns3::Ipv4StaticRoutingHelper static_routing;
  internet.SetRoutingHelper(static_routing);  // no global routing: it rebuilds slowly at 1,000 nodes
  internet.SetIpv6StackInstall(false);
  internet.Install(cluster_nodes_);
  if (multi_site) internet.Install(routers_);

  const std::uint32_t queue_packets =
      config.device_queue_packets != 0 ? config.device_queue_packets : std::max<std::uint32_t>(100, 2 * n);
  const ns3::QueueSize queue_size(ns3::QueueSizeUnit::PACKETS, queue_packets);
  std::int64_t em_stream = kErrorModelStreamBase;
  std::int64_t csma_stream = kCsmaStreamBase;

  std::vector<ns3::Ipv4InterfaceContainer> ipv4_interfaces;  // per LAN and per link
  NodeId next_id = 1;
  for (std::size_t s = 0; s < site_count; ++s) {
    Site& site = *sites_[s];
    ns3::NodeContainer lan;
    if (multi_site) {
      site.router = routers_.Get(static_cast<std::uint32_t>(s));
      lan.Add(site.router);  // first: it gets .0.1
    }
    for (std::uint32_t k = 0; k < config.sites[s].nodes; ++k) {
      const NodeId id = next_id++;
      site.nodes.push_back(id);
      node_ids_.push_back(id);
      site_of_[id - 1] = static_cast<std::uint32_t>(s);
      lan.Add(cluster_nodes_.Get(id - 1));
    }
    ns3::NetDeviceContainer devices;
    if (config.lan_model == LanModel::kCsmaBus) {
      ns3::CsmaHelper csma;
      csma.SetChannelAttribute("DataRate", ns3::DataRateValue(ns3::DataRate(site.lan.rate_bps)));
      csma.SetChannelAttribute("Delay", ns3::TimeValue(ToNs3(site.lan.delay)));
      csma.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", ns3::QueueSizeValue(queue_size));
      devices = csma.Install(lan);
      site.channel = ns3::DynamicCast<ns3::CsmaChannel>(devices.Get(0)->GetChannel());
      csma_stream += csma.AssignStreams(devices, csma_stream);
    } else {
      site.switch_channel = ns3::CreateObject<SwitchedLanChannel>();
      site.switch_channel->SetDelay(ToNs3(site.lan.delay));
      ns3::SimpleNetDeviceHelper simple;
      simple.SetDeviceAttribute("DataRate", ns3::DataRateValue(ns3::DataRate(site.lan.rate_bps)));
      simple.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", ns3::QueueSizeValue(queue_size));
      devices = simple.Install(lan, site.switch_channel);
    }

    ns3::Ipv4AddressHelper addresses;
    addresses.SetBase(SiteNetwork(s), ns3::Ipv4Mask("255.255.0.0"));
    ns3::Ipv4InterfaceContainer interfaces = addresses.Assign(devices);
    ipv4_interfaces.push_back(interfaces);
    RemoveQueueDiscs(devices);

    for (std::uint32_t d = 0; d < devices.GetN(); ++d) {
      ns3::Ptr<ns3::NetDevice> dev = devices.Get(d);
      const bool is_router = multi_site && d == 0;
      const std::uint32_t index = is_router ? 0 : site.nodes[multi_site ? d - 1 : d] - 1;
      auto em = ns3::CreateObject<FaultErrorModel>();
      em->Setup(is_router ? nullptr : cuts_.get(), index, ns3::Mac48Address::ConvertFrom(dev->GetAddress()),
                config.lan_model == LanModel::kCsmaBus ? FaultErrorModel::Framing::kEthernet
                                                       : FaultErrorModel::Framing::kRawIp);
      em->SetLossRate(site.lan.loss);
      em->SetRandomStream(em_stream++);
      dev->SetAttribute("ReceiveErrorModel", ns3::PointerValue(em));
      site.receivers.push_back(em);
      error_models_.push_back(em);
      const ns3::Ipv4Address address = interfaces.GetAddress(d);
      if (is_router) {
        site.router_address = address;
      } else {
        const NodeId id = index + 1;
        peers_->Add(id, address, static_cast<std::uint32_t>(s));
        cuts_->AddAddress(address, index);
      }
    }
  }

  // ---- inter-site links ----
  ns3::Ipv4AddressHelper link_addresses;
  link_addresses.SetBase("172.16.0.0", "255.255.255.252");
  std::vector<std::pair<ns3::Ipv4Address, ns3::Ipv4Address>> link_ips;  // (a side, b side)
  std::vector<std::pair<std::uint32_t, std::uint32_t>> link_ifaces;     // interface index at a, at b
  for (std::size_t i = 0; i < links_.size(); ++i) {
    Link& link = *links_[i];
    const LinkParams& p = config.links[i].link;
    link.channel = ns3::CreateObject<JitterPointToPointChannel>();
    link.channel->SetAttribute("Delay", ns3::TimeValue(ToNs3(p.delay)));
    link.channel->SetJitter(ToNs3(p.jitter));
    link.channel->SetRandomStream(kLinkStreamBase + static_cast<std::int64_t>(i));
    ns3::NetDeviceContainer pair;
    for (std::uint32_t side : {link.a, link.b}) {
      auto dev = ns3::CreateObject<ns3::PointToPointNetDevice>();
      dev->SetAddress(ns3::Mac48Address::Allocate());
      dev->SetDataRate(ns3::DataRate(p.rate_bps));
      auto queue = ns3::CreateObject<ns3::DropTailQueue<ns3::Packet>>();
      queue->SetMaxSize(queue_size);
      dev->SetQueue(queue);
      sites_[side]->router->AddDevice(dev);
      dev->Attach(link.channel);
      auto em = ns3::CreateObject<FaultErrorModel>();
      em->Setup(nullptr, 0, ns3::Mac48Address::ConvertFrom(dev->GetAddress()), FaultErrorModel::Framing::kOther);
      em->SetLossRate(p.loss);
      em->SetRandomStream(em_stream++);
      dev->SetReceiveErrorModel(em);
      error_models_.push_back(em);
      (side == link.a ? link.at_a : link.at_b) = em;
      pair.Add(dev);
    }
    ns3::Ipv4InterfaceContainer ifs = link_addresses.Assign(pair);
    ipv4_interfaces.push_back(ifs);
    link_addresses.NewNetwork();
    RemoveQueueDiscs(pair);
    link_ips.push_back({ifs.GetAddress(0), ifs.GetAddress(1)});
    link_ifaces.push_back({ifs.Get(0).second, ifs.Get(1).second});
  }

  // ---- static routes ----
  if (multi_site) {
    for (NodeId id : node_ids_) RestoreDefaultRoute(id);
    for (std::size_t s = 0; s < site_count; ++s) {
      auto routing = static_routing.GetStaticRouting(sites_[s]->router->GetObject<ns3::Ipv4>());
      for (std::size_t t = 0; t < site_count; ++t) {
        if (t == s) continue;
        const std::size_t l = first_hop[s][t];
        const bool we_are_a = links_[l]->a == s;
        const ns3::Ipv4Address next_hop = we_are_a ? link_ips[l].second : link_ips[l].first;
        const std::uint32_t iface = we_are_a ? link_ifaces[l].first : link_ifaces[l].second;
        routing->AddNetworkRouteTo(SiteNetwork(t), ns3::Ipv4Mask("255.255.0.0"), next_hop, iface);
      }
    }
  }

  // ---- one application per node ----
  auto start_rng = ns3::CreateObject<ns3::UniformRandomVariable>();
  start_rng->SetStream(kStartStream);
  for (NodeId id : node_ids_) {
    const Site& site = *sites_[site_of_[id - 1]];
    ns3t::NodeAppConfig app_config;
    app_config.engine = config.engine;
    app_config.engine.node_id = id;
    if (app_config.engine.label.empty()) app_config.engine.label = "node-" + std::to_string(id);
    app_config.port = config.port;
    app_config.broadcast_mode = config.broadcast_mode;
    app_config.lan_broadcast = SiteNetwork(site.index).GetSubnetDirectedBroadcast(ns3::Ipv4Mask("255.255.0.0"));
    app_config.peers = peers_;
    app_config.send_jitter = ToNs3(site.lan.jitter);
    app_config.max_delayed_datagrams = config.max_delayed_datagrams;
    app_config.rng_stream = kAppStreamBase + 2 * static_cast<std::int64_t>(id - 1);
    app_config.collector = config.collector;
    auto app = ns3::CreateObject<ns3t::NodeApp>();
    if (!app->Configure(app_config))
      return Status::InvalidArgument("world: node " + std::to_string(id) + " application refused its config");
    cluster_nodes_.Get(id - 1)->AddApplication(app);
    const double spread = std::chrono::duration<double>(config.start_spread).count();
    app->SetStartTime(spread > 0 ? ns3::Seconds(start_rng->GetValue(0.0, spread)) : ns3::Seconds(0));
    apps_.push_back(app);
  }
  if (config.static_arp) {
    // Every station knows every other's MAC from the start: at 1,000 nodes, ARP requests (each
    // a broadcast every station must process) would cost as much as the heartbeats themselves.
    ns3::NeighborCacheHelper neighbors;
    // (The per-channel overload also walks IPv6, which these nodes do not have.)
    for (const auto& interfaces : ipv4_interfaces) neighbors.PopulateNeighborCache(interfaces);
  }
  ns3::NodeContainer all(cluster_nodes_, routers_);
  internet.AssignStreams(all, kInternetStreamBase);
  return Status::Ok();
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
