// The namespace layer on its own, with real parts: three namespaces on a bridge, real corosync
// daemons forming a membership, tc netem visibly delaying and dropping frames, nftables cuts
// splitting the corosync membership (both ways and one way), a SIGKILLed corosync leaving it,
// and nothing left on the host afterwards. Needs root; exits 77 (skip) saying why otherwise.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <chrono>
#include <cstring>
#include <optional>

#include <gtest/gtest.h>

#include "netns_env.h"
#include "pbxstate/netns/cluster.h"

namespace pbxstate::netns {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A UDP socket bound to `addr`:port inside namespace `ns` (a socket keeps the namespace it was
// made in, so the test thread switches in, makes it, and switches back).
int UdpSocketIn(const std::string& ns, const std::string& addr, int port) {
  const int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) return -1;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
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

// Sends one datagram from `from` to addr:port and waits at most `timeout` for it on `to`;
// returns how long it took, nullopt when it never came.
std::optional<Duration> OneWay(int from, int to, const std::string& addr, int port, Duration timeout) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  const auto t0 = Clock::now();
  const char msg[] = "pbxstate";
  if (sendto(from, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return std::nullopt;
  pollfd p{to, POLLIN, 0};
  const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  if (poll(&p, 1, ms) != 1) return std::nullopt;
  char buf[64];
  if (recv(to, buf, sizeof buf, 0) <= 0) return std::nullopt;
  return Clock::now() - t0;
}

double Ms(Duration d) { return static_cast<double>(d.count()) / 1e6; }

TEST(NetnsLayer, CorosyncMembershipNetemAndCuts) {
  ClusterSpec spec;
  spec.nodes = 3;
  spec.work_dir = std::filesystem::temp_directory_path();
  spec.token = 1000ms;
  spec.shaping = KernelHasNetem() ? ShapingMethod::kNetem : ShapingMethod::kNftablesTbf;
  std::unique_ptr<NetnsCluster> c;
  Status st = NetnsCluster::Create(spec, &c);
  ASSERT_TRUE(st.ok()) << st.message();
  const pid_t pid = c->names().pid();
  const auto& names = c->names();

  // ---- the link, measured with real datagrams between namespaces 1 and 2 ----
  const int s1 = UdpSocketIn(names.Namespace(1), names.Address(1), 7001);
  const int s2 = UdpSocketIn(names.Namespace(2), names.Address(2), 7002);
  ASSERT_GE(s1, 0);
  ASSERT_GE(s2, 0);
  auto plain = OneWay(s1, s2, names.Address(2), 7002, 2s);
  ASSERT_TRUE(plain.has_value()) << "no datagram from node 1 to node 2 on a clean LAN";
  EXPECT_LT(Ms(*plain), 20.0);
  if (spec.shaping == ShapingMethod::kNetem) {
    NetemParams slow;
    slow.delay = 60ms;
    ASSERT_TRUE(c->SetLink(1, slow).ok());
    auto delayed = OneWay(s1, s2, names.Address(2), 7002, 2s);
    ASSERT_TRUE(delayed.has_value());
    EXPECT_GE(Ms(*delayed), 59.0) << "netem delay on node 1's egress did not delay its frames";
    auto back = OneWay(s2, s1, names.Address(1), 7001, 2s);  // node 2's egress has no delay
    ASSERT_TRUE(back.has_value());
    EXPECT_LT(Ms(*back), 30.0);
    std::string qdisc;
    ASSERT_TRUE(ShowQdisc(names.Namespace(1), kNodeInterface, &qdisc).ok());
    EXPECT_NE(qdisc.find("netem"), std::string::npos) << qdisc;
  } else {
    std::printf("NOTE: this kernel has no sch_netem (CONFIG_NET_SCH_NETEM): delay is not tested; loss and rate "
                "use nftables and tbf\n");
  }
  // Loss on node 2's link: all, about half, none.
  NetemParams lossy;
  lossy.loss = 1.0;
  ASSERT_TRUE(c->SetLink(2, lossy).ok());
  ASSERT_TRUE(c->SetLink(1, lossy).ok());
  EXPECT_FALSE(OneWay(s1, s2, names.Address(2), 7002, 300ms).has_value()) << "100% loss let a frame through";
  lossy.loss = 0.5;
  ASSERT_TRUE(c->SetLink(1, lossy).ok());
  ASSERT_TRUE(c->SetLink(2, lossy).ok());
  int arrived = 0;
  constexpr int kTries = 300;
  for (int i = 0; i < kTries; ++i) arrived += OneWay(s1, s2, names.Address(2), 7002, 20ms).has_value() ? 1 : 0;
  std::printf("50%% loss: %d of %d datagrams arrived\n", arrived, kTries);
  EXPECT_GT(arrived, kTries * 30 / 100);
  EXPECT_LT(arrived, kTries * 70 / 100);
  NetemParams rated;
  rated.rate_bps = 10'000'000;
  ASSERT_TRUE(c->SetLink(1, rated).ok());
  ASSERT_TRUE(c->SetLink(2, NetemParams{}).ok());
  std::string qdisc;
  ASSERT_TRUE(ShowQdisc(names.Namespace(1), kNodeInterface, &qdisc).ok());
  EXPECT_NE(qdisc.find("10Mbit"), std::string::npos) << qdisc;
  EXPECT_TRUE(OneWay(s1, s2, names.Address(2), 7002, 2s).has_value()) << "loss 0 still dropped";
  ASSERT_TRUE(c->SetLink(1, NetemParams{}).ok());

  // ---- a one-way cut: 1 -> 2 dropped, 2 -> 1 passes ----
  ASSERT_TRUE(c->Cut({{1}, {2, 3}}, /*one_way=*/true).ok());
  EXPECT_FALSE(OneWay(s1, s2, names.Address(2), 7002, 300ms).has_value()) << "one-way cut let 1 -> 2 through";
  EXPECT_TRUE(OneWay(s2, s1, names.Address(1), 7001, 2s).has_value()) << "one-way cut dropped 2 -> 1";
  ASSERT_TRUE(c->Heal().ok());
  EXPECT_TRUE(OneWay(s1, s2, names.Address(2), 7002, 2s).has_value()) << "heal did not let 1 -> 2 through again";
  close(s1);
  close(s2);

  // ---- corosync: membership forms, splits under a cut, heals, loses a killed node ----
  for (NodeId n = 1; n <= 3; ++n) ASSERT_TRUE(c->StartCorosync(n).ok());
  st = c->WaitCorosyncMembers({1, 2, 3}, 30s);
  ASSERT_TRUE(st.ok()) << st.message();
  auto t0 = Clock::now();
  ASSERT_TRUE(c->Cut({{1}, {2, 3}}, false).ok());
  st = c->WaitCorosyncMembers({2, 3}, 20s);
  ASSERT_TRUE(st.ok()) << st.message();
  st = c->WaitCorosyncMembers({1}, 20s);
  ASSERT_TRUE(st.ok()) << st.message();
  std::printf("membership split %.0f ms after the cut (token 1000 ms)\n", Ms(Clock::now() - t0));
  t0 = Clock::now();
  ASSERT_TRUE(c->Heal().ok());
  st = c->WaitCorosyncMembers({1, 2, 3}, 30s);
  ASSERT_TRUE(st.ok()) << st.message();
  std::printf("membership merged %.0f ms after the heal\n", Ms(Clock::now() - t0));
  ASSERT_TRUE(c->KillCorosync(3).ok());
  EXPECT_FALSE(c->CorosyncRunning(3));
  st = c->WaitCorosyncMembers({1, 2}, 20s);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(c->StartCorosync(3).ok());
  st = c->WaitCorosyncMembers({1, 2, 3}, 30s);
  ASSERT_TRUE(st.ok()) << st.message();

  // ---- teardown leaves nothing ----
  EXPECT_FALSE(Leftovers(pid).empty()) << "the check must see a live cluster";
  st = c->Teardown();
  EXPECT_TRUE(st.ok()) << st.message();
  const auto left = Leftovers(pid);
  std::string text;
  for (const auto& l : left) text += l + "\n";
  EXPECT_TRUE(left.empty()) << text;
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(c->RunDir());  // logs kept on failure
}

TEST(NetnsLayer, CorosyncUdpMulticastTransport) {
  ClusterSpec spec;
  spec.nodes = 3;
  spec.work_dir = std::filesystem::temp_directory_path();
  spec.corosync_transport = CorosyncTransport::kUdp;
  spec.token = 1000ms;
  spec.shaping = KernelHasNetem() ? ShapingMethod::kNetem : ShapingMethod::kNftablesTbf;
  std::unique_ptr<NetnsCluster> c;
  Status st = NetnsCluster::Create(spec, &c);
  ASSERT_TRUE(st.ok()) << st.message();
  for (NodeId n = 1; n <= 3; ++n) ASSERT_TRUE(c->StartCorosync(n).ok());
  st = c->WaitCorosyncMembers({1, 2, 3}, 30s);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(c->Cut({{3}, {1, 2}}, false).ok());
  st = c->WaitCorosyncMembers({1, 2}, 20s);
  ASSERT_TRUE(st.ok()) << st.message();
  const pid_t pid = c->names().pid();
  const std::filesystem::path run_dir = c->RunDir();
  c.reset();  // the destructor tears down too
  EXPECT_TRUE(Leftovers(pid).empty());
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(run_dir);
}

}  // namespace
}  // namespace pbxstate::netns

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!pbxstate::netns::testing::HostCanRunNamespaces()) return pbxstate::netns::testing::kSkipReturnCode;
  return RUN_ALL_TESTS();
}
