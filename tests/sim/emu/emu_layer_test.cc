// The emulated network on its own, with real parts: three namespaces whose TAPs are the network
// cards of an ns-3 world in real time (two sites, a router each, a WAN link between them). Real
// datagrams take the world's LAN and WAN delays (ARP through the ns-3 switch and routers), the
// world's cuts (both ways, one way) and isolation stop them, real corosync daemons form a
// membership across the emulated WAN, the lag probe runs, and nothing is left on the host
// afterwards. Needs root and /dev/net/tun; exits 77 (skip) saying why otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include <gtest/gtest.h>

#include "pbxstate/emu/network.h"
#include "pbxstate/netns/cluster.h"

namespace pbxstate::emu {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kPort = 7000;

// A UDP socket bound to `addr`:kPort inside namespace `ns` (a socket keeps the namespace it was
// made in, so the test thread switches in, makes it, and switches back).
int UdpSocketIn(const std::string& ns, const std::string& addr) {
  const int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) return -1;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kPort);
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  const int rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  setns(self, CLONE_NEWNET);
  close(self);
  close(target);
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends one datagram from `from` to addr and waits at most `timeout` for it on `to`; returns how
// long it took, nullopt when it never came.
std::optional<Duration> OneWay(int from, int to, const std::string& addr, Duration timeout) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kPort);
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  char drain[64];
  while (recv(to, drain, sizeof drain, MSG_DONTWAIT) > 0) {
  }
  const auto t0 = Clock::now();
  const char msg[] = "pbxstate";
  if (sendto(from, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return std::nullopt;
  pollfd p{to, POLLIN, 0};
  const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  if (poll(&p, 1, ms) != 1) return std::nullopt;
  if (recv(to, drain, sizeof drain, 0) <= 0) return std::nullopt;
  return Clock::now() - t0;
}

// The first datagram to a peer waits for ARP; send until one arrives (bounded), then measure.
std::optional<Duration> Warm(int from, int to, const std::string& addr) {
  for (int i = 0; i < 10; ++i) {
    if (auto d = OneWay(from, to, addr, 500ms)) return d;
  }
  return std::nullopt;
}

double Ms(Duration d) { return static_cast<double>(d.count()) / 1e6; }

bool HostCanEmulate() {
  if (Status st = netns::CheckHostSupport(); !st.ok()) {
    std::fprintf(stderr, "SKIPPED: this machine cannot run a namespace cluster: %s\n", st.message().c_str());
    return false;
  }
  if (access("/dev/net/tun", R_OK | W_OK) != 0) {
    std::fprintf(stderr, "SKIPPED: no /dev/net/tun here: TAP devices cannot be made\n");
    return false;
  }
  return true;
}

TEST(EmuLayer, WanDelayCutsAndCorosyncOverTheEmulatedNetwork) {
  EmulationSpec spec;
  ns3sim::LinkParams lan;
  lan.delay = 1ms;
  ns3sim::LinkParams wan;
  wan.delay = 20ms;
  spec.world.sites = {{"paris", 2, lan}, {"lyon", 1, lan}};
  spec.world.links = {{"paris", "lyon", wan}};
  spec.realtime_priority = 10;
  std::unique_ptr<EmulatedNetwork> net;
  Status st = EmulatedNetwork::Create(spec, &net);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(net->interfaces().size(), 3u);
  EXPECT_TRUE(net->interfaces()[0].gateway.empty() == false) << "two sites: every node routes through its router";

  netns::ClusterSpec cs;
  cs.nodes = 3;
  cs.link = netns::NodeLink::kAttached;
  cs.addresses = net->Addresses();
  cs.work_dir = std::filesystem::temp_directory_path();
  std::unique_ptr<netns::NetnsCluster> c;
  st = netns::NetnsCluster::Create(cs, &c);
  ASSERT_TRUE(st.ok()) << st.message();
  const pid_t pid = c->names().pid();
  st = net->Attach(c.get());
  ASSERT_TRUE(st.ok()) << st.message();
  st = net->Start();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(net->lifeguard_on(), Lifeguard::Useful()) << "a SCHED_FIFO simulation on two CPUs or more has a lifeguard";

  const auto& ifs = net->interfaces();
  const int s1 = UdpSocketIn(c->names().Namespace(1), ifs[0].address);
  const int s2 = UdpSocketIn(c->names().Namespace(2), ifs[1].address);
  const int s3 = UdpSocketIn(c->names().Namespace(3), ifs[2].address);
  ASSERT_GE(s1, 0);
  ASSERT_GE(s2, 0);
  ASSERT_GE(s3, 0);

  // LAN: at least the LAN's delay; across the WAN: both LANs and the link.
  auto lan_hop = Warm(s1, s2, ifs[1].address);
  ASSERT_TRUE(lan_hop.has_value()) << "no datagram crossed the emulated LAN";
  auto wan_hop = Warm(s1, s3, ifs[2].address);
  ASSERT_TRUE(wan_hop.has_value()) << "no datagram crossed the emulated WAN";
  lan_hop = OneWay(s1, s2, ifs[1].address, 2s);
  wan_hop = OneWay(s1, s3, ifs[2].address, 2s);
  ASSERT_TRUE(lan_hop && wan_hop);
  std::fprintf(stderr, "one way: LAN %.2f ms (configured 1 ms), WAN %.2f ms (configured 1 + 20 + 1 ms)\n", Ms(*lan_hop),
               Ms(*wan_hop));
  EXPECT_GE(*lan_hop, 1ms);
  EXPECT_GE(*wan_hop, 22ms);

  // A symmetric cut: {1} | {2, 3}.
  st = net->Call([](ns3sim::Ns3World& w) { return w.Partition({{1}, {2, 3}}); });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(OneWay(s1, s2, ifs[1].address, 300ms).has_value()) << "a datagram crossed a cut";
  EXPECT_FALSE(OneWay(s2, s1, ifs[0].address, 300ms).has_value()) << "a datagram crossed a cut";
  EXPECT_TRUE(OneWay(s2, s3, ifs[2].address, 2s).has_value()) << "one side's own traffic was cut";
  // One way: 1 no longer hears 3; 3 still hears 1.
  st = net->Call([](ns3sim::Ns3World& w) {
    w.Heal();
    return w.PartitionOneWay({3}, {1});
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(OneWay(s3, s1, ifs[0].address, 300ms).has_value()) << "the one-way cut let 3 -> 1 through";
  EXPECT_TRUE(OneWay(s1, s3, ifs[2].address, 2s).has_value()) << "the one-way cut stopped 1 -> 3";
  // Isolation: nothing in or out of node 2.
  st = net->Call([](ns3sim::Ns3World& w) {
    w.Heal();
    return w.Isolate(2);
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(OneWay(s1, s2, ifs[1].address, 300ms).has_value()) << "an isolated node heard a datagram";
  EXPECT_FALSE(OneWay(s2, s3, ifs[2].address, 300ms).has_value()) << "an isolated node's datagram went out";
  st = net->Call([](ns3sim::Ns3World& w) {
    w.Heal();
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(Warm(s1, s2, ifs[1].address).has_value()) << "heal did not bring node 2 back";
  close(s1);
  close(s2);
  close(s3);

  // Real corosync across the emulated WAN (knet, unicast).
  for (NodeId n = 1; n <= 3; ++n) {
    st = c->StartCorosync(n);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  st = c->WaitCorosyncMembers({1, 2, 3}, 60s);
  EXPECT_TRUE(st.ok()) << st.message();

  const ns3sim::LagStats lag = net->lag();
  EXPECT_GT(lag.probes, 100u);
  std::fprintf(stderr, "lag: %llu probes, worst %.3f ms at %.3f s, p50 %.3f ms, p99 %.3f ms, %llu over 1 ms\n",
               static_cast<unsigned long long>(lag.probes), Ms(lag.worst), Ms(lag.worst_at) / 1e3, Ms(lag.p50),
               Ms(lag.p99), static_cast<unsigned long long>(lag.over_1ms));

  net->Stop();
  EXPECT_GT(net->counters().frames_from_hosts, 0u);
  EXPECT_GT(net->counters().dropped_isolated, 0u);
  st = c->Teardown(2s);
  EXPECT_TRUE(st.ok()) << st.message();
  const std::vector<std::string> left = netns::Leftovers(pid);
  EXPECT_TRUE(left.empty()) << "left on the host: " << left.front();
}

}  // namespace
}  // namespace pbxstate::emu

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!pbxstate::emu::HostCanEmulate()) return 77;
  return RUN_ALL_TESTS();
}
