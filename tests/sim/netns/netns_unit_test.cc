// The namespace layer's pure parts: netem arguments, nftables scripts, corosync.conf, names.
// These need no privileges and run everywhere.
#include <gtest/gtest.h>

#include "pbxstate/netns/corosync_conf.h"
#include "pbxstate/netns/cut.h"
#include "pbxstate/netns/host_counters.h"
#include "pbxstate/netns/names.h"
#include "pbxstate/netns/netem.h"
#include "pbxstate/netns/pbxstated_config.h"

namespace pbxstate::netns {
namespace {

using namespace std::chrono_literals;

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

// `cat /proc/net/snmp /proc/net/dev` in a namespace with a TAP (trimmed to the tables read).
constexpr std::string_view kHostText =
    "Ip: Forwarding DefaultTTL InReceives\n"
    "Ip: 2 64 1000\n"
    "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n"
    "Udp: 95321 2 417 90112 415 0 0 0 0\n"
    "UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n"
    "UdpLite: 0 0 0 0 0 0 0 0 0\n"
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier "
    "compressed\n"
    "    lo:    3267      29    0    5    0     0          0         0     3267      29    0    6    0     0       0 0\n"
    "  eth0: 9812734   96010    0    3    0     0          0       12 8812734   90300    0   21    0     0       0 0\n";

TEST(HostCounters, ReadTheUdpTableAndTheInterfacesDropsButLoopback) {
  HostCounters c;
  ASSERT_TRUE(ParseHostCounters(kHostText, &c).ok());
  const HostCounters expected = {{"udp_in_datagrams", 95321}, {"udp_in_errors", 417},
                                 {"udp_rcvbuf_errors", 415},  // UdpLite's columns are not Udp's
                                 {"udp_out_datagrams", 90112}, {"udp_sndbuf_errors", 0},
                                 {"iface_rx_dropped", 3},      {"iface_tx_dropped", 21}};
  EXPECT_EQ(c, expected);
}

TEST(HostCounters, AMissingTableOrColumnIsAnErrorNamingIt) {
  HostCounters c;
  std::string text(kHostText);
  Status st = ParseHostCounters(text.substr(0, text.find("Inter-|")), &c);
  EXPECT_NE(st.message().find("/proc/net/dev"), std::string::npos) << st.message();
  std::string no_rcvbuf = text;
  no_rcvbuf.replace(no_rcvbuf.find("RcvbufErrors"), 12, "Other");
  st = ParseHostCounters(no_rcvbuf, &c);
  EXPECT_NE(st.message().find("Udp: no field RcvbufErrors"), std::string::npos) << st.message();
  std::string short_line = text;
  short_line.replace(short_line.find("  eth0:"), 7, "  eth0: 1 2 |");
  st = ParseHostCounters(short_line.substr(0, short_line.find("  eth0:") + 20), &c);
  EXPECT_NE(st.message().find("/proc/net/dev:4"), std::string::npos) << st.message();
}

TEST(Netem, ArgumentsCarryEveryParameter) {
  NetemParams p;
  p.delay = 80ms;
  p.jitter = 5ms;
  p.loss = 0.02;
  p.duplicate = 0.01;
  p.reorder = 0.25;
  p.rate_bps = 100'000'000;
  std::vector<std::string> args;
  ASSERT_TRUE(NetemArguments(p, &args).ok());
  EXPECT_EQ(Joined(args),
            "netem limit 10000 delay 80000us 5000us distribution uniform loss random 2.000000% duplicate 1.000000% "
            "reorder 25.000000% rate 100000000bit");
}

TEST(Netem, RefusesWhatNetemCannotDo) {
  std::vector<std::string> args;
  NetemParams p;
  p.delay = 1ms;
  p.jitter = 2ms;
  EXPECT_FALSE(NetemArguments(p, &args).ok());
  p = {};
  p.loss = 1.5;
  EXPECT_FALSE(NetemArguments(p, &args).ok());
  p = {};
  p.reorder = 0.1;  // reordering needs a delay to reorder against
  EXPECT_FALSE(NetemArguments(p, &args).ok());
  p = {};
  ASSERT_TRUE(NetemArguments(p, &args).ok());
  EXPECT_EQ(Joined(args), "netem limit 10000");
}

TEST(Cut, ScriptReplacesTheTableAtomically) {
  const std::string s = CutScript({"198.18.0.1", "198.18.0.2"});
  EXPECT_EQ(s.find("table inet pbxstate_cut\ndelete table inet pbxstate_cut\n"), 0u);
  EXPECT_NE(s.find("ip saddr { 198.18.0.1, 198.18.0.2 } counter drop"), std::string::npos);
  EXPECT_EQ(CutScript({}).find("drop"), std::string::npos);
}

TEST(CorosyncConf, KnetAndUdp) {
  CorosyncSpec spec;
  spec.cluster_name = "pbxst-42";
  spec.addresses = {"198.18.0.1", "198.18.0.2", "198.18.0.3"};
  std::string text;
  // Without settings: Corosync's defaults, written out; consensus left to corosync (1.2 x token).
  ASSERT_TRUE(CorosyncConf(spec, &text).ok());
  EXPECT_NE(text.find("transport: knet\n"), std::string::npos);
  EXPECT_NE(text.find("token: 3000\n  token_coefficient: 650\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("consensus"), std::string::npos);
  EXPECT_NE(text.find("join: 50\n  merge: 200\n  send_join: 0\n  max_messages: 17\n  window_size: 50\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("nodeid: 3\n    name: n3\n    ring0_addr: 198.18.0.3"), std::string::npos);
  EXPECT_EQ(text.find("mcastaddr"), std::string::npos);
  // A scenario's corosync: section, key for key.
  spec.totem.token = 800ms;
  spec.totem.token_coefficient = 0ms;
  spec.totem.consensus = 1000ms;
  spec.totem.max_messages = 5;
  ASSERT_TRUE(CorosyncConf(spec, &text).ok());
  EXPECT_NE(text.find("token: 800\n  token_coefficient: 0\n  consensus: 1000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("max_messages: 5\n"), std::string::npos);
  // The WAN settings: token retransmission, retransmit requests, knet's link pings.
  EXPECT_NE(text.find("token_retransmits_before_loss_const: 4\n  miss_count_const: 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("interface {\n    linknumber: 0\n    knet_pong_count: 2\n  }\n"), std::string::npos) << text;
  spec.totem.token_retransmits_before_loss_const = 15;
  spec.totem.miss_count_const = 2;
  spec.totem.knet_ping_interval = 200ms;
  spec.totem.knet_ping_timeout = 3000ms;
  ASSERT_TRUE(CorosyncConf(spec, &text).ok());
  EXPECT_NE(text.find("token_retransmits_before_loss_const: 15\n  miss_count_const: 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    linknumber: 0\n    knet_ping_interval: 200\n    knet_ping_timeout: 3000\n    knet_pong_count: 2\n"),
            std::string::npos) << text;
  spec.totem.knet_ping_timeout = 100ms;  // below the interval: a healthy link would flap
  EXPECT_NE(CorosyncConf(spec, &text).message().find("totem.knet_ping_timeout"), std::string::npos);
  spec.totem.knet_ping_timeout = 3000ms;
  spec.totem.transport = CorosyncTransport::kUdp;
  ASSERT_TRUE(CorosyncConf(spec, &text).ok());
  EXPECT_NE(text.find("transport: udp"), std::string::npos);
  EXPECT_NE(text.find("mcastaddr: 239.255.18.1"), std::string::npos);
  EXPECT_EQ(text.find("knet_ping"), std::string::npos);  // knet's settings only for knet
  EXPECT_EQ(text.find("knet_mtu"), std::string::npos);
  // What corosync refuses is refused here, naming the key.
  spec.totem.consensus = 40ms;
  const Status st = CorosyncConf(spec, &text);
  EXPECT_NE(st.message().find("totem.consensus"), std::string::npos) << st.message();
  spec.totem.consensus.reset();
  spec.totem.token = 50ms;
  EXPECT_FALSE(CorosyncConf(spec, &text).ok());
  spec.totem.token = 1s;
  spec.cluster_name = "bad name";
  EXPECT_FALSE(CorosyncConf(spec, &text).ok());
}

// The writer is driven by the table of totem settings: every row, set, is written under its key
// in its section (knet's rows in link 0's interface section).
TEST(CorosyncConf, WritesEveryRowOfTheTotemTable) {
  CorosyncSpec spec;
  spec.cluster_name = "pbxst-42";
  spec.addresses = {"198.18.0.1", "198.18.0.2", "198.18.0.3"};
  spec.totem.consensus = 3600ms;
  spec.totem.knet_ping_interval = 400ms;
  spec.totem.knet_ping_timeout = 900ms;
  std::string text;
  ASSERT_TRUE(CorosyncConf(spec, &text).ok());
  const std::size_t interface = text.find("  interface {\n");
  ASSERT_NE(interface, std::string::npos) << text;
  for (const totem::TotemSetting& row : totem::TotemSettings()) {
    const bool knet = row.section == totem::TotemSetting::Section::kKnetInterface;
    const std::string line = std::string(knet ? "\n    " : "\n  ") + std::string(row.key) + ": " +
                             std::to_string(*row.Get(spec.totem)) + "\n";
    const std::size_t at = text.find(line);
    ASSERT_NE(at, std::string::npos) << row.key << "\n" << text;
    EXPECT_EQ(at > interface, knet) << row.key;
  }
}

// Corosync's own realtime scheduling unless asked otherwise (the emulation backend turns it off).
TEST(CorosyncConf, SchedRrOnlyWhenTurnedOff) {
  CorosyncSpec spec;
  spec.cluster_name = "pbxst-42";
  spec.addresses = {"198.18.0.1", "198.18.0.2"};
  std::string text;
  ASSERT_TRUE(CorosyncConf(spec, &text).ok());
  EXPECT_EQ(text.find("system {"), std::string::npos) << text;
  spec.sched_rr = false;
  ASSERT_TRUE(CorosyncConf(spec, &text).ok());
  EXPECT_NE(text.find("system {\n  sched_rr: no\n}\n"), std::string::npos) << text;
}

TEST(PbxstatedConfig, KeyFileOnlyWhenGiven) {
  PbxstatedSpec spec;
  spec.control_socket = "/run/n1.sock";
  spec.group = "pbxstate";
  std::string text;
  ASSERT_TRUE(PbxstatedConfig(spec, &text).ok());
  EXPECT_EQ(text.find("auth:"), std::string::npos) << text;
  spec.key_file = "/tmp/run/n1/cluster.key";
  ASSERT_TRUE(PbxstatedConfig(spec, &text).ok());
  EXPECT_NE(text.find("auth:\n  key_file: \"/tmp/run/n1/cluster.key\"\n"), std::string::npos) << text;
}

TEST(Names, FitIfnamsizAndRoundTrip) {
  RunNames n(4'194'304);  // the largest pid Linux hands out
  EXPECT_LE(n.Bridge().size(), 15u);
  EXPECT_LE(n.HostVeth(16).size(), 15u);
  EXPECT_LE(n.PeerVethTemp(16).size(), 15u);
  EXPECT_EQ(n.Namespace(3), "pbxst-4194304-3");
  EXPECT_EQ(OwnerOfNamespace(n.Namespace(3)), 4'194'304);
  EXPECT_EQ(OwnerOfLink(n.Bridge()), 4'194'304);
  EXPECT_EQ(OwnerOfLink(n.HostVeth(12)), 4'194'304);
  EXPECT_EQ(OwnerOfNamespace("pbxst-x-1"), std::nullopt);
  EXPECT_EQ(OwnerOfLink("eth0"), std::nullopt);
  EXPECT_EQ(n.Address(16), "198.18.0.16");
}

}  // namespace
}  // namespace pbxstate::netns
