// Parsing the kernel's per-namespace network counters (host_counters.h).
#include "pbxstate/netns/host_counters.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace pbxstate::netns {
namespace {

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return out;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '|')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '|') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool ToU64(std::string_view s, std::uint64_t* v) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}

// /proc/net/snmp has a header line and a value line per protocol, both starting "Udp:".
Status ParseUdp(std::string_view snmp, HostCounters* out) {
  std::vector<std::string_view> names, values;
  for (std::string_view l : Lines(snmp)) {
    if (!l.starts_with("Udp: ")) continue;
    (names.empty() ? names : values) = Words(l.substr(5));
    if (!values.empty()) break;
  }
  if (names.empty() || names.size() != values.size()) {
    return Status::InvalidArgument("/proc/net/snmp: no Udp table (a header and a value line of as many fields)");
  }
  static constexpr std::pair<std::string_view, std::string_view> kRead[] = {
      {"udp_in_datagrams", "InDatagrams"}, {"udp_in_errors", "InErrors"},       {"udp_rcvbuf_errors", "RcvbufErrors"},
      {"udp_out_datagrams", "OutDatagrams"}, {"udp_sndbuf_errors", "SndbufErrors"}};
  for (const auto& [json_name, field] : kRead) {
    const auto at = std::find(names.begin(), names.end(), field);
    if (at == names.end()) return Status::InvalidArgument("/proc/net/snmp: Udp: no field " + std::string(field));
    std::uint64_t v = 0;
    const std::string_view text = values[static_cast<std::size_t>(at - names.begin())];
    if (!ToU64(text, &v)) {
      return Status::InvalidArgument("/proc/net/snmp: Udp " + std::string(field) + ": not a count: " + std::string(text));
    }
    out->emplace_back(json_name, v);
  }
  return Status::Ok();
}

// /proc/net/dev: two header lines, then "iface: rx bytes packets errs drop fifo frame compressed
// multicast tx bytes packets errs drop ...".
Status ParseDev(std::string_view dev, HostCounters* out) {
  constexpr std::size_t kRxDrop = 3, kTxDrop = 11, kFields = 16;
  std::uint64_t rx_dropped = 0, tx_dropped = 0;
  int line_no = 0;
  for (std::string_view l : Lines(dev)) {
    ++line_no;
    const std::size_t colon = l.find(':');
    if (line_no <= 2 || colon == std::string_view::npos) continue;
    const std::vector<std::string_view> name = Words(l.substr(0, colon));
    const std::vector<std::string_view> f = Words(l.substr(colon + 1));
    std::uint64_t rx = 0, tx = 0;
    if (name.size() != 1 || f.size() < kFields || !ToU64(f[kRxDrop], &rx) || !ToU64(f[kTxDrop], &tx)) {
      return Status::InvalidArgument("/proc/net/dev:" + std::to_string(line_no) + ": not an interface's counters: " +
                                     std::string(l));
    }
    if (name[0] == "lo") continue;
    rx_dropped += rx;
    tx_dropped += tx;
  }
  out->emplace_back("iface_rx_dropped", rx_dropped);
  out->emplace_back("iface_tx_dropped", tx_dropped);
  return Status::Ok();
}

}  // namespace

Status ParseHostCounters(std::string_view text, HostCounters* out) {
  const std::size_t dev = text.find("Inter-|");
  if (dev == std::string_view::npos) return Status::InvalidArgument("/proc/net/dev: no \"Inter-|\" header line");
  HostCounters c;
  if (Status st = ParseUdp(text.substr(0, dev), &c); !st.ok()) return st;
  if (Status st = ParseDev(text.substr(dev), &c); !st.ok()) return st;
  *out = c;
  return Status::Ok();
}

}  // namespace pbxstate::netns
