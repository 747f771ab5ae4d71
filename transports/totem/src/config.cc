#include "pbxstate/totem/config.h"

#include <chrono>
#include <string>
#include <utility>

namespace pbxstate::totem {

namespace {

using std::chrono::milliseconds;

std::int64_t Ms(Duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

Status CheckTimeout(std::string_view key, Duration d) {
  if (d % milliseconds(1) != Duration::zero()) {
    return Status::InvalidArgument(std::string(key) + ": must be a whole number of milliseconds");
  }
  if (d < kMinimumTimeout || d > kMaximumTimeout) {
    return Status::InvalidArgument(std::string(key) + ": must be 30ms..10min (Corosync's minimum is 30 ms)");
  }
  return Status::Ok();
}

}  // namespace

std::string_view TransportName(Transport t) { return t == Transport::kKnet ? "knet" : "udp"; }

Status TotemConfig::Validate(std::size_t nodes) const {
  if (Status st = CheckTimeout("token", token); !st.ok()) return st;
  if (token_coefficient < Duration::zero() || token_coefficient > kMaximumTimeout ||
      token_coefficient % milliseconds(1) != Duration::zero()) {
    return Status::InvalidArgument("token_coefficient: must be a whole number of milliseconds, 0ms..10min");
  }
  if (Status st = CheckTimeout("join", join); !st.ok()) return st;
  if (Status st = CheckTimeout("merge", merge); !st.ok()) return st;
  if (consensus) {
    if (Status st = CheckTimeout("consensus", *consensus); !st.ok()) return st;
  }
  if (send_join < Duration::zero() || send_join > kMaximumTimeout || send_join % milliseconds(1) != Duration::zero()) {
    return Status::InvalidArgument("send_join: must be a whole number of milliseconds, 0ms..10min");
  }
  if (max_messages < 1 || max_messages > kMaxWindow) return Status::InvalidArgument("max_messages: must be 1..1000");
  if (window_size < 1 || window_size > kMaxWindow) return Status::InvalidArgument("window_size: must be 1..1000");
  if (token_retransmits_before_loss_const < 1 || fail_recv_const < 1 || seqno_unchanged_const < 1 ||
      miss_count_const < 1 || knet_pong_count < 1) {
    return Status::InvalidArgument("totem constants must be at least 1");
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
  // knet refuses 0 (knet_link_set_ping_timers); a timeout below the interval would take a
  // healthy link down between two pings (this project's bound).
  for (const auto& [key, value] : {std::pair{"knet_ping_interval", knet_ping_interval}, std::pair{"knet_ping_timeout", knet_ping_timeout}}) {
    if (value && (*value < milliseconds(1) || *value > kMaximumTimeout || *value % milliseconds(1) != Duration::zero())) {
      return Status::InvalidArgument(std::string(key) + ": must be a whole number of milliseconds, 1ms..10min");
    }
  }
  if (t.knet_ping_timeout < t.knet_ping_interval) {
    return Status::InvalidArgument("knet_ping_timeout: " + std::to_string(Ms(t.knet_ping_timeout)) +
                                   " ms may not be less than knet_ping_interval (" +
                                   std::to_string(Ms(t.knet_ping_interval)) + " ms): a link would go down between two pings");
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
