// Ns3World::Build: checks a WorldConfig, then builds sites, LANs, inter-site links, routes and
// one application per node (world.h says what each looks like).
#include <algorithm>
#include <deque>
#include <set>
#include <utility>

#include <ns3/csma-helper.h>
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
#include <ns3/point-to-point-net-device.h>
#include <ns3/pointer.h>
#include <ns3/queue-disc.h>
#include <ns3/rng-seed-manager.h>
#include <ns3/simple-net-device-helper.h>
#include <ns3/traffic-control-layer.h>

#include "pbxstate/check.h"
#include "world_internal.h"

namespace pbxstate::ns3sim {

namespace {

constexpr std::size_t kNoLink = static_cast<std::size_t>(-1);

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

bool SetTransmitQueuePackets(ns3::Ptr<ns3::NetDevice> device, std::uint32_t packets) {
  ns3::Ptr<ns3::Queue<ns3::Packet>> q = ns3t::TransmitQueue(device);
  if (q == nullptr) return false;
  q->SetMaxSize(ns3::QueueSize(ns3::QueueSizeUnit::PACKETS, packets));
  return true;
}

namespace {

// Breadth-first search from every site: the first link of the fewest-hops path to every other
// site, ties to the link given first. `adjacency[s]` lists (neighbour site, link index). Fails
// when a site cannot be reached.
Status FirstHops(const std::vector<std::vector<std::pair<std::uint32_t, std::size_t>>>& adjacency,
                 const std::vector<std::string>& names, std::vector<std::vector<std::size_t>>* first_hop) {
  const std::size_t count = adjacency.size();
  first_hop->assign(count, std::vector<std::size_t>(count, kNoLink));
  for (std::size_t s = 0; s < count; ++s) {
    std::vector<bool> seen(count, false);
    std::deque<std::uint32_t> queue{static_cast<std::uint32_t>(s)};
    seen[s] = true;
    while (!queue.empty()) {
      const std::uint32_t u = queue.front();
      queue.pop_front();
      for (auto [v, link] : adjacency[u]) {
        if (seen[v]) continue;
        seen[v] = true;
        (*first_hop)[s][v] = (u == s) ? link : (*first_hop)[s][u];
        queue.push_back(v);
      }
    }
    for (std::size_t t = 0; t < count; ++t) {
      if (!seen[t]) return Status::InvalidArgument("world: site " + names[t] + " is not reachable from " + names[s]);
    }
  }
  return Status::Ok();
}

}  // namespace

Status Ns3World::CheckConfig(const WorldConfig& config) {
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
  if (config.corosync) return CheckCorosync(config, total);
  if (probe.membership != MembershipSource::kHeartbeat)
    return Status::InvalidArgument("world: engine.membership transport needs the Corosync model (WorldConfig::corosync)");
  return Status::Ok();
}

Status Ns3World::CheckCorosync(const WorldConfig& config, std::uint64_t nodes) {
  if (config.engine.membership != MembershipSource::kTransport)
    return Status::InvalidArgument("world: the Corosync model gives the membership: engine.membership must be transport");
  if (nodes > totem::kMaxRingMembers)
    return Status::InvalidArgument("world: the Corosync model carries at most " + std::to_string(totem::kMaxRingMembers) +
                                   " nodes (a commit token must fit one datagram)");
  if (config.engine.max_frame_bytes > totem::kMaxClientMessage)
    return Status::InvalidArgument("world: engine.max_frame_bytes exceeds what one totem packet carries in the Corosync model (" +
                                   std::to_string(totem::kMaxClientMessage) + ")");
  if (config.corosync->hop_processing < Duration::zero())
    return Status::InvalidArgument("world: corosync hop_processing must not be negative");
  if (Status st = config.corosync->totem.Validate(nodes); !st.ok()) return Status::InvalidArgument("world: corosync: " + st.message());
  return Status::Ok();
}

Status Ns3World::PlanSites(const WorldConfig& config, BuildState* state) {
  const std::size_t site_count = config.sites.size();
  std::vector<std::string> names;
  for (std::size_t i = 0; i < site_count; ++i) {
    auto site = std::make_unique<Site>();
    site->name = config.sites[i].name;
    site->index = static_cast<std::uint32_t>(i);
    site->lan = config.sites[i].lan;
    names.push_back(site->name);
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
  return FirstHops(adjacency, names, &state->first_hop);
}

void Ns3World::CreateNodes(const WorldConfig& config, BuildState* state, ns3::InternetStackHelper* internet) {
  ns3::Ipv4AddressGenerator::Reset();  // addresses are remembered across worlds otherwise
  ns3::RngSeedManager::SetSeed(config.seed);
  ns3::RngSeedManager::SetRun(config.run);

  std::uint32_t n = 0;
  for (const auto& s : config.sites) n += s.nodes;
  cuts_ = std::make_unique<CutTable>(n);
  peers_ = std::make_shared<ns3t::PeerDirectory>();
  cluster_nodes_.Create(n);
  if (sites_.size() > 1) routers_.Create(static_cast<std::uint32_t>(sites_.size()));
  site_of_.assign(n, 0);
  isolated_.assign(n, false);

  ns3::Ipv4StaticRoutingHelper static_routing;
  internet->SetRoutingHelper(static_routing);  // no global routing: it rebuilds slowly at 1,000 nodes
  internet->SetIpv6StackInstall(false);
  internet->Install(cluster_nodes_);
  if (sites_.size() > 1) internet->Install(routers_);

  const std::uint32_t queue_packets =
      config.device_queue_packets != 0 ? config.device_queue_packets : std::max<std::uint32_t>(100, 2 * n);
  state->queue_size = ns3::QueueSize(ns3::QueueSizeUnit::PACKETS, queue_packets);
}

ns3::NetDeviceContainer Ns3World::BuildLanDevices(const WorldConfig& config, Site& site, const ns3::NodeContainer& lan,
                                                  const BuildState& state, std::int64_t* csma_stream) {
  if (config.lan_model == LanModel::kCsmaBus) {
    ns3::CsmaHelper csma;
    csma.SetChannelAttribute("DataRate", ns3::DataRateValue(ns3::DataRate(site.lan.rate_bps)));
    csma.SetChannelAttribute("Delay", ns3::TimeValue(ToNs3(site.lan.delay)));
    csma.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", ns3::QueueSizeValue(state.queue_size));
    ns3::NetDeviceContainer devices = csma.Install(lan);
    site.channel = ns3::DynamicCast<ns3::CsmaChannel>(devices.Get(0)->GetChannel());
    *csma_stream += csma.AssignStreams(devices, *csma_stream);
    return devices;
  }
  site.switch_channel = ns3::CreateObject<SwitchedLanChannel>();
  site.switch_channel->SetDelay(ToNs3(site.lan.delay));
  ns3::SimpleNetDeviceHelper simple;
  simple.SetDeviceAttribute("DataRate", ns3::DataRateValue(ns3::DataRate(site.lan.rate_bps)));
  simple.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", ns3::QueueSizeValue(state.queue_size));
  return simple.Install(lan, site.switch_channel);
}

void Ns3World::BuildLans(const WorldConfig& config, BuildState* state) {
  const bool multi_site = sites_.size() > 1;
  std::int64_t csma_stream = kCsmaStreamBase;
  NodeId next_id = 1;
  for (std::size_t s = 0; s < sites_.size(); ++s) {
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
    ns3::NetDeviceContainer devices = BuildLanDevices(config, site, lan, *state, &csma_stream);
    ns3::Ipv4AddressHelper addresses;
    addresses.SetBase(SiteNetwork(s), ns3::Ipv4Mask("255.255.0.0"));
    ns3::Ipv4InterfaceContainer interfaces = addresses.Assign(devices);
    state->interfaces.push_back(interfaces);
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
      em->SetRandomStream(state->error_model_stream++);
      dev->SetAttribute("ReceiveErrorModel", ns3::PointerValue(em));
      if (!is_router && config.corosync && config.device_queue_packets == 0) {
        PBXSTATE_CHECK(SetTransmitQueuePackets(dev, std::max(kHostTxQueuePackets, state->queue_size.GetValue())));
      }
      site.receivers.push_back(em);
      error_models_.push_back(em);
      const ns3::Ipv4Address address = interfaces.GetAddress(d);
      if (is_router) {
        site.router_address = address;
      } else {
        peers_->Add(index + 1, address, static_cast<std::uint32_t>(s));
        cuts_->AddAddress(address, index);
      }
    }
  }
}

void Ns3World::BuildLinks(const WorldConfig& config, BuildState* state) {
  ns3::Ipv4AddressHelper link_addresses;
  link_addresses.SetBase("172.16.0.0", "255.255.255.252");
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
      queue->SetMaxSize(state->queue_size);
      dev->SetQueue(queue);
      sites_[side]->router->AddDevice(dev);
      dev->Attach(link.channel);
      auto em = ns3::CreateObject<FaultErrorModel>();
      em->Setup(nullptr, 0, ns3::Mac48Address::ConvertFrom(dev->GetAddress()), FaultErrorModel::Framing::kOther);
      em->SetLossRate(p.loss);
      em->SetRandomStream(state->error_model_stream++);
      dev->SetReceiveErrorModel(em);
      error_models_.push_back(em);
      (side == link.a ? link.at_a : link.at_b) = em;
      pair.Add(dev);
    }
    ns3::Ipv4InterfaceContainer ifs = link_addresses.Assign(pair);
    state->interfaces.push_back(ifs);
    link_addresses.NewNetwork();
    RemoveQueueDiscs(pair);
    state->link_ips.push_back({ifs.GetAddress(0), ifs.GetAddress(1)});
    state->link_ifaces.push_back({ifs.Get(0).second, ifs.Get(1).second});
  }
}

void Ns3World::AddRoutes(const BuildState& state) {
  if (sites_.size() < 2) return;
  for (NodeId id : node_ids_) RestoreDefaultRoute(id);
  ns3::Ipv4StaticRoutingHelper static_routing;
  for (std::size_t s = 0; s < sites_.size(); ++s) {
    auto routing = static_routing.GetStaticRouting(sites_[s]->router->GetObject<ns3::Ipv4>());
    for (std::size_t t = 0; t < sites_.size(); ++t) {
      if (t == s) continue;
      const std::size_t l = state.first_hop[s][t];
      const bool we_are_a = links_[l]->a == s;
      const ns3::Ipv4Address next_hop = we_are_a ? state.link_ips[l].second : state.link_ips[l].first;
      const std::uint32_t iface = we_are_a ? state.link_ifaces[l].first : state.link_ifaces[l].second;
      routing->AddNetworkRouteTo(SiteNetwork(t), ns3::Ipv4Mask("255.255.0.0"), next_hop, iface);
    }
  }
}

ns3t::NodeAppConfig Ns3World::AppConfig(const WorldConfig& config, NodeId id) const {
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
  app_config.corosync = corosync_;
  app_config.totem_rng_stream = kTotemStreamBase + static_cast<std::int64_t>(id - 1);
  return app_config;
}

Status Ns3World::InstallApps(const WorldConfig& config) {
  if (config.corosync) {
    auto model = std::make_shared<ns3t::CorosyncModelConfig>(*config.corosync);
    model->nodelist = node_ids_;
    corosync_ = std::move(model);
  }
  auto start_rng = ns3::CreateObject<ns3::UniformRandomVariable>();
  start_rng->SetStream(kStartStream);
  const double spread = std::chrono::duration<double>(config.start_spread).count();
  for (NodeId id : node_ids_) {
    auto app = ns3::CreateObject<ns3t::NodeApp>();
    if (!app->Configure(AppConfig(config, id)))
      return Status::InvalidArgument("world: node " + std::to_string(id) + " application refused its config");
    cluster_nodes_.Get(id - 1)->AddApplication(app);
    app->SetStartTime(spread > 0 ? ns3::Seconds(start_rng->GetValue(0.0, spread)) : ns3::Seconds(0));
    apps_.push_back(app);
  }
  return Status::Ok();
}

Status Ns3World::Build(const WorldConfig& config) {
  if (Status st = CheckConfig(config); !st.ok()) return st;  // before touching ns-3
  config_ = config;
  BuildState state;
  if (Status st = PlanSites(config, &state); !st.ok()) return st;
  ns3::InternetStackHelper internet;
  CreateNodes(config, &state, &internet);
  BuildLans(config, &state);
  BuildLinks(config, &state);
  AddRoutes(state);
  if (Status st = InstallApps(config); !st.ok()) return st;
  if (config.static_arp) {
    // Every station knows every other's MAC from the start: at 1,000 nodes, ARP requests (each
    // a broadcast every station must process) would cost as much as the heartbeats themselves.
    ns3::NeighborCacheHelper neighbors;
    // (The per-channel overload also walks IPv6, which these nodes do not have.)
    for (const auto& interfaces : state.interfaces) neighbors.PopulateNeighborCache(interfaces);
  }
  ns3::NodeContainer all(cluster_nodes_, routers_);
  internet.AssignStreams(all, kInternetStreamBase);
  return Status::Ok();
}

}  // namespace pbxstate::ns3sim
