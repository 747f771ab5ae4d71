#include "pbxstate/totem/config.h"

#include <chrono>
#include <string>
#include <utility>

namespace pbxstate::totem {

namespace {

using std::chrono::milliseconds;

std::int64_t Ms(Duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

constexpr std::uint64_t kMinMs = static_cast<std::uint64_t>(kMinimumTimeout / 1ms);
constexpr std::uint64_t kMaxMs = static_cast<std::uint64_t>(kMaximumTimeout / 1ms);
using Section = TotemSetting::Section;

// The rows, in corosync.conf's order. Ranges: Corosync's minimum timeout (30 ms) and this
// project's bounds (kMaximumTimeout, kMaxWindow, kMaxTotemConstant); knet refuses a ping timer of 0.
const TotemSetting kSettings[] = {
    {"token", &TotemConfig::token, kMinMs, kMaxMs, Section::kTotem, "",
     "no token for this long: a processor failed"},
    {"token_coefficient", &TotemConfig::token_coefficient, 0, kMaxMs, Section::kTotem, "",
     "added to `token` per node beyond two (3+ nodes): the effective token"},
    {"consensus", &TotemConfig::consensus, kMinMs, kMaxMs, Section::kTotem, "1.2 x effective token",
     "gather: how long to wait for every member's join before declaring the silent ones failed; at least `join`"},
    {"join", &TotemConfig::join, kMinMs, kMaxMs, Section::kTotem, "", "gather: join resend interval"},
    {"merge", &TotemConfig::merge, kMinMs, kMaxMs, Section::kTotem, "",
     "an idle ring's representative looks for other rings this often"},
    {"send_join", &TotemConfig::send_join, 0, kMaxMs, Section::kTotem, "",
     "each join waits a uniform draw in [0, send_join)"},
    {"max_messages", &TotemConfig::max_messages, 1, kMaxWindow, Section::kTotem, "",
     "messages one node sends per token visit"},
    {"window_size", &TotemConfig::window_size, 1, kMaxWindow, Section::kTotem, "",
     "messages the whole ring sends per token rotation"},
    {"token_retransmits_before_loss_const", &TotemConfig::token_retransmits_before_loss_const, 1, kMaxTotemConstant,
     Section::kTotem, "",
     "a node that passed the token and has not seen it again re-sends it after effective token / (this + 0.2) "
     "(`token_retransmit`; the idle ring's `hold` is 0.8 of it less 10 ms)"},
    {"miss_count_const", &TotemConfig::miss_count_const, 1, kMaxTotemConstant, Section::kTotem, "",
     "token visits a packet must be missing before a node asks for it again"},
    {"knet_ping_interval", &TotemConfig::knet_ping_interval, 1, kMaxMs, Section::kKnetInterface,
     "effective token / (2 x `knet_pong_count`)",
     "knet pings each link this often (its heartbeat thread wakes every 200 ms)"},
    {"knet_ping_timeout", &TotemConfig::knet_ping_timeout, 1, kMaxMs, Section::kKnetInterface,
     "effective token / `knet_pong_count`",
     "no pong for this long: knet takes the link down and sends nothing to that host until it is up again; at "
     "least `knet_ping_interval`"},
    {"knet_pong_count", &TotemConfig::knet_pong_count, 1, kMaxTotemConstant, Section::kKnetInterface, "",
     "pongs before a down link is up"},
    {"knet_mtu", &TotemConfig::knet_mtu, 0, kMaxKnetMtu, Section::kKnetTotem, "",
     "0: knet probes each link for its path MTU (PMTUD) and, while a probe fails, sends nothing to that host and drops "
     "what it receives from it; another value (at least 576) is the interfaces' MTU, and no link is probed"},
};

// A bound as people write it: 30ms, 10s, 10min.
std::string ShownMs(std::uint64_t ms) {
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "min";
  if (ms != 0 && ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

// One row's value in `c` against the row's range (and whole milliseconds for a duration).
Status CheckSetting(const TotemSetting& row, const TotemConfig& c) {
  const std::string key(row.key);
  if (row.is_duration()) {
    const std::optional<Duration> d =
        std::holds_alternative<Duration TotemConfig::*>(row.member)
            ? std::optional<Duration>(c.*std::get<Duration TotemConfig::*>(row.member))
            : c.*std::get<std::optional<Duration> TotemConfig::*>(row.member);
    if (!d) return Status::Ok();
    if (*d < Duration::zero() || *d % milliseconds(1) != Duration::zero() || *d / 1ms < static_cast<std::int64_t>(row.min) ||
        *d / 1ms > static_cast<std::int64_t>(row.max)) {
      return Status::InvalidArgument(key + ": must be a whole number of milliseconds, " + ShownMs(row.min) + ".." +
                                     ShownMs(row.max));
    }
    return Status::Ok();
  }
  const std::uint32_t v = c.*std::get<std::uint32_t TotemConfig::*>(row.member);
  if (v < row.min || v > row.max) {
    return Status::InvalidArgument(key + ": must be " + std::to_string(row.min) + ".." + std::to_string(row.max));
  }
  return Status::Ok();
}

}  // namespace

std::optional<std::uint64_t> TotemSetting::Get(const TotemConfig& config) const {
  if (const auto* m = std::get_if<Duration TotemConfig::*>(&member)) {
    return static_cast<std::uint64_t>((config.**m) / 1ms);
  }
  if (const auto* m = std::get_if<std::optional<Duration> TotemConfig::*>(&member)) {
    if (!(config.**m)) return std::nullopt;
    return static_cast<std::uint64_t>(*(config.**m) / 1ms);
  }
  return config.*std::get<std::uint32_t TotemConfig::*>(member);
}

void TotemSetting::Set(TotemConfig* config, std::uint64_t value) const {
  if (const auto* m = std::get_if<Duration TotemConfig::*>(&member)) {
    config->**m = milliseconds(value);
  } else if (const auto* o = std::get_if<std::optional<Duration> TotemConfig::*>(&member)) {
    config->**o = milliseconds(value);
  } else {
    config->*std::get<std::uint32_t TotemConfig::*>(member) = static_cast<std::uint32_t>(value);
  }
}

std::span<const TotemSetting> TotemSettings() { return kSettings; }

const TotemSetting* FindTotemSetting(std::string_view key) {
  for (const TotemSetting& row : kSettings) {
    if (row.key == key) return &row;
  }
  return nullptr;
}

std::string_view TransportName(Transport t) { return t == Transport::kKnet ? "knet" : "udp"; }

Status TotemConfig::Validate(std::size_t nodes) const {
  for (const TotemSetting& row : kSettings) {
    if (Status st = CheckSetting(row, *this); !st.ok()) return st;
  }
  if (fail_recv_const < 1 || seqno_unchanged_const < 1) {
    return Status::InvalidArgument("fail_recv_const, seqno_unchanged_const: must be at least 1");
  }
  const TotemTimeouts t = DeriveTimeouts(*this, nodes);
  if (t.token > kMaximumTimeout) {
    return Status::InvalidArgument("token_coefficient: the effective token (token + (nodes - 2) x token_coefficient) " +
                                   std::to_string(Ms(t.token)) + " ms exceeds 10min");
  }
  if (t.token_retransmit < kMinimumTimeout) {
    return Status::InvalidArgument("token: token / (token_retransmits_before_loss_const + 0.2) (the token retransmit "
                                   "timeout) must be at least 30 ms, is " + std::to_string(Ms(t.token_retransmit)) + " ms");
  }
  // A timeout below the interval would take a healthy link down between two pings (this
  // project's bound).
  if (t.knet_ping_timeout < t.knet_ping_interval) {
    return Status::InvalidArgument("knet_ping_timeout: " + std::to_string(Ms(t.knet_ping_timeout)) +
                                   " ms may not be less than knet_ping_interval (" +
                                   std::to_string(Ms(t.knet_ping_interval)) + " ms): a link would go down between two pings");
  }
  if (knet_mtu != 0 && knet_mtu < kMinKnetMtu) {
    return Status::InvalidArgument("knet_mtu: " + std::to_string(knet_mtu) + " is neither 0 (path MTU discovery) nor at least " +
                                   std::to_string(kMinKnetMtu));
  }
  if (t.consensus < t.join) {
    return Status::InvalidArgument("consensus: " + std::to_string(Ms(t.consensus)) +
                                   " ms may not be less than join (" + std::to_string(Ms(t.join)) + " ms)");
  }
  return Status::Ok();
}

TotemTimeouts DeriveTimeouts(const TotemConfig& c, std::size_t nodes) {
  TotemTimeouts t;
  std::int64_t token_ms = Ms(c.token);
  if (nodes > 2) token_ms += static_cast<std::int64_t>(nodes - 2) * Ms(c.token_coefficient);
  t.token = milliseconds(token_ms);
  // (int)(token / (const + 0.2)) and (int)(retransmit * 0.8 - 1000/HZ), as Corosync computes them.
  const auto retransmit_ms =
      static_cast<std::int64_t>(static_cast<double>(token_ms) / (c.token_retransmits_before_loss_const + 0.2));
  t.token_retransmit = milliseconds(retransmit_ms);
  t.hold = milliseconds(static_cast<std::int64_t>(static_cast<double>(retransmit_ms) * 0.8 - 10.0));
  t.consensus = c.consensus ? *c.consensus
                            : milliseconds(static_cast<std::int64_t>(static_cast<float>(1.2 * static_cast<double>(token_ms))));
  t.join = c.join;
  t.merge = c.merge;
  t.send_join = c.send_join;
  t.knet_ping_interval = c.knet_ping_interval ? *c.knet_ping_interval : milliseconds(token_ms / (2 * c.knet_pong_count));
  t.knet_ping_timeout = c.knet_ping_timeout ? *c.knet_ping_timeout : milliseconds(token_ms / c.knet_pong_count);
  return t;
}

}  // namespace pbxstate::totem
