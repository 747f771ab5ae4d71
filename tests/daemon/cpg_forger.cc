// cpg_forger: an attacker on the cluster LAN with access to a corosync of the ring, for the live
// test tests/daemon/forged_traffic_test.py. It joins the pbxstate CPG group through libcpg
// directly (not CpgTransport), records the genuine messages the group sends (it is a member, so
// it receives them all), and for a bounded time and a bounded count per kind sends forged
// traffic. Then it prints one JSON object: what it sent, per kind, with the breakdowns the test
// needs to predict every receiver's counters exactly.
//
// It must run on a corosync node of its own: CpgTransport accepts one process per corosync node
// id, and a second process of a pbxstated's node id would be ignored before the engine
// (from_ignored_member), which would test nothing.
//
// Kinds (name in the JSON: what is sent; how the test expects each of the 3 pbxstated to count it):
//   random_bytes         random bytes, no envelope (first byte never 'P')   transport envelope_errors
//   random_frame         valid broadcast envelope + random bytes (first byte never 'P')  engine bad_magic
//   wrong_key            an Updates frame sealed under a wrong key, its own key id       unknown_key
//   wrong_key_real_id    the same with the key id byte set to the cluster key's id       bad_mac
//   tampered             a genuine broadcast with one body byte flipped                  bad_mac
//   no_mac               an Updates frame without a MAC (an engine with no key)          unauthenticated
//   replay_broadcast     a genuine broadcast, verbatim (envelope included)
//                        -> from_self at its origin, malformed (sender is not the CPG sender) elsewhere
//   replay_unicast       a genuine addressed unicast, verbatim
//                        -> malformed at its destination, transport unicast_not_for_us elsewhere;
//                        a frame the other engines overhear (catch-up pages, mailbox repair:
//                        EngineImpl::OnOverheard) is counted by those engines too: from_self at
//                        its origin, malformed at the rest ("overheard", by "origin>destination")
//   readdressed_unicast  a genuine unicast's engine frame under a broadcast envelope
//                        -> malformed at its destination, replayed (addressed to another) elsewhere
//   truncated            a genuine broadcast cut short (envelope intact, 1..n-1 frame bytes)  truncated
//   broken_envelope      a genuine broadcast's frame under a broken envelope (5 variants)
//                        -> transport envelope_errors
// Forged frames carry this process's corosync node id as sender (they "come from" node 4), and
// their state names are "Forged:<n>" devices, "<n>@forged" mailboxes and "forged<n>" AORs, so the
// test can show none of them ever appears.
//
// usage: cpg_forger --group NAME [--duration-ms 10000] [--max-per-kind 150] [--interval-us 4000]
//                   [--wait-genuine-ms 10000] [--seed N]
// Exit: 0 after printing the summary; 1 when corosync or the group cannot be reached, or no
// genuine authenticated frame arrived within --wait-genuine-ms; 2 on a bad command line.
#include <corosync/cpg.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "codec.h"  // FrameType: which replayed unicasts the other engines overhear
#include "pbxstate/config.h"
#include "pbxstate/corosync/addressed_frame.h"
#include "pbxstate/engine.h"
#include "pbxstate/env.h"
#include "pbxstate/random.h"

namespace {

using pbxstate::NodeId;
using pbxstate::SplitMix64;
using Bytes = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;

// Engine frame layout (engine/README.md, "Wire format" and "Authentication").
constexpr std::size_t kEnvelope = pbxstate::corosync::kAddressedHeaderBytes;
constexpr std::size_t kVersionOffset = 2;
constexpr std::size_t kTypeOffset = 3;
constexpr std::uint8_t kAuthenticatedVersion = 2;
constexpr std::size_t kKeyIdOffset = 20;
constexpr std::size_t kAuthHeaderBytes = 33;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kMaxCaptured = 256;  // genuine messages kept per shape (oldest dropped)

// The Env of the engines that make forged frames: it keeps what they send and nothing else.
class CaptureEnv final : public pbxstate::Env {
 public:
  explicit CaptureEnv(std::uint64_t seed) : random_(seed) {}
  pbxstate::MonoTime Now() override { return pbxstate::MonoTime(Clock::now().time_since_epoch()); }
  pbxstate::WallTime WallNow() override {
    return pbxstate::WallTime(std::chrono::duration_cast<pbxstate::Duration>(
        std::chrono::system_clock::now().time_since_epoch()));
  }
  void ScheduleWakeup(pbxstate::MonoTime) override {}
  pbxstate::SendStatus Broadcast(std::span<const std::uint8_t> frame) override {
    sent.assign(frame.begin(), frame.end());
    return pbxstate::SendStatus::kOk;
  }
  pbxstate::SendStatus Unicast(NodeId, std::span<const std::uint8_t>) override { return pbxstate::SendStatus::kOk; }
  std::uint64_t Random() override { return random_.Next(); }
  void Log(pbxstate::LogLevel, std::string_view) override {}

  Bytes sent;  // the last broadcast

 private:
  SplitMix64 random_;
};

// One engine of node `self` whose broadcasts are taken as forged frames.
class FrameMaker {
 public:
  FrameMaker(NodeId self, std::vector<std::string> keys, std::uint64_t seed) : env_(seed) {
    pbxstate::EngineConfig c;
    c.node_id = self;
    c.incarnation = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    c.membership = pbxstate::MembershipSource::kTransport;
    c.label = "forger";
    c.cluster_keys = std::move(keys);
    pbxstate::Status s = pbxstate::Engine::Create(c, &env_, &engine_);
    if (!s.ok()) {
      std::fprintf(stderr, "cpg_forger: cannot create a frame-making engine: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    engine_->Start();
  }

  // An Updates frame about forged state number n (device, mailbox or registration by turns).
  Bytes Next(std::uint64_t n) {
    env_.sent.clear();
    const std::string id = std::to_string(n);
    pbxstate::Status s;
    switch (n % 3) {
      case 0: s = engine_->SetDeviceState("Forged:" + id, pbxstate::DeviceState::kInUse); break;
      case 1: s = engine_->SetMailbox(id + "@forged", pbxstate::MailboxCounts{9, 9, 9}); break;
      default: {
        pbxstate::RegistrationInfo info;
        info.contact = "sip:forged@203.0.113.66:5060";
        info.expires = env_.WallNow() + std::chrono::hours(1);
        s = engine_->SetRegistration("forged" + id, info);
        break;
      }
    }
    if (!s.ok() || env_.sent.empty()) {
      std::fprintf(stderr, "cpg_forger: the frame-making engine sent nothing for change %s: %s\n", id.c_str(),
                   s.ToString().c_str());
      std::exit(1);
    }
    return env_.sent;
  }

 private:
  CaptureEnv env_;
  std::unique_ptr<pbxstate::Engine> engine_;
};

struct Captured {
  NodeId from = 0;
  Bytes message;  // envelope + engine frame, as delivered
};

struct Forger {
  cpg_handle_t handle = 0;
  NodeId self = 0;
  std::deque<Captured> broadcasts, unicasts;  // genuine, from other nodes, at most kMaxCaptured each
  std::uint64_t genuine_received = 0;
  int genuine_key_id = -1;                    // the cluster key's id, from the first authenticated frame
  std::size_t group_size = 0;
};

void OnDeliver(cpg_handle_t handle, const cpg_name*, uint32_t nodeid, uint32_t, void* msg, size_t len) {
  void* context = nullptr;
  cpg_context_get(handle, &context);
  auto* f = static_cast<Forger*>(context);
  if (nodeid == f->self) return;  // our own forgeries come back to us too
  ++f->genuine_received;
  Captured c{nodeid, Bytes(static_cast<const std::uint8_t*>(msg), static_cast<const std::uint8_t*>(msg) + len)};
  pbxstate::corosync::AddressedHeader header;
  std::span<const std::uint8_t> frame;
  if (pbxstate::corosync::DecodeAddressedHeader(c.message, &header, &frame) != pbxstate::corosync::EnvelopeError::kNone) {
    return;
  }
  if (frame.size() > kKeyIdOffset && frame[kVersionOffset] == kAuthenticatedVersion && f->genuine_key_id < 0) {
    f->genuine_key_id = frame[kKeyIdOffset];
  }
  auto& list = header.kind == pbxstate::corosync::FrameKind::kBroadcast ? f->broadcasts : f->unicasts;
  list.push_back(std::move(c));
  if (list.size() > kMaxCaptured) list.pop_front();
}

void OnConfchg(cpg_handle_t handle, const cpg_name*, const cpg_address*, size_t member_count, const cpg_address*,
               size_t, const cpg_address*, size_t) {
  void* context = nullptr;
  cpg_context_get(handle, &context);
  static_cast<Forger*>(context)->group_size = member_count;
}

// Dispatches what corosync has for us, waiting at most `timeout_ms` for the first event.
bool Pump(Forger& f, int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) > 0) {
    const cs_error_t rc = cpg_dispatch(f.handle, CS_DISPATCH_ALL);
    if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN) {
      std::fprintf(stderr, "cpg_forger: cpg_dispatch: error %d\n", static_cast<int>(rc));
      return false;
    }
  }
  return true;
}

Bytes Envelope(pbxstate::corosync::FrameKind kind, NodeId destination, std::span<const std::uint8_t> frame) {
  const auto header = pbxstate::corosync::EncodeAddressedHeader({kind, destination});
  Bytes out(kEnvelope + frame.size());
  std::memcpy(out.data(), header.data(), kEnvelope);
  if (!frame.empty()) std::memcpy(out.data() + kEnvelope, frame.data(), frame.size());
  return out;
}

std::span<const std::uint8_t> FrameOf(const Captured& c) { return std::span<const std::uint8_t>(c.message).subspan(kEnvelope); }

NodeId DestinationOf(const Captured& c) {
  return static_cast<NodeId>(c.message[4]) | static_cast<NodeId>(c.message[5]) << 8 |
         static_cast<NodeId>(c.message[6]) << 16 | static_cast<NodeId>(c.message[7]) << 24;
}

struct KindCount {
  std::uint64_t sent = 0, bytes = 0;
  std::map<std::string, std::uint64_t> by;  // by origin / destination / variant, where it matters
  std::map<std::string, std::uint64_t> overheard;  // replay_unicast: "origin>destination" of overheard frames
};

// The unicasts an engine that is not their destination still takes from its transport
// (EngineImpl::OnOverheard): catch-up pages and mailbox repair frames. A replay of one is judged
// by every engine, not only its destination's.
bool OverheardByOthers(const Captured& c) {
  using pbxstate::codec::FrameType;
  const auto frame = FrameOf(c);
  if (frame.size() <= kTypeOffset) return false;
  const auto type = static_cast<FrameType>(frame[kTypeOffset]);
  return type == FrameType::kSyncPage || type == FrameType::kMailboxRanges || type == FrameType::kMailboxEntries;
}

int Usage() {
  std::fprintf(stderr,
               "usage: cpg_forger --group NAME [--duration-ms N] [--max-per-kind N] [--interval-us N] "
               "[--wait-genuine-ms N] [--seed N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string group;
  std::uint64_t duration_ms = 10'000, max_per_kind = 150, interval_us = 4000, wait_genuine_ms = 10'000;
  std::uint64_t seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    char* end = nullptr;
    const std::uint64_t n = std::strtoull(value.c_str(), &end, 10);
    const bool numeric = !value.empty() && *end == '\0';
    if (arg == "--group") {
      group = value;
    } else if (arg == "--duration-ms" && numeric && n <= 600'000) {
      duration_ms = n;
    } else if (arg == "--max-per-kind" && numeric && n <= 1'000'000) {
      max_per_kind = n;
    } else if (arg == "--interval-us" && numeric && n <= 1'000'000) {
      interval_us = n;
    } else if (arg == "--wait-genuine-ms" && numeric && n <= 600'000) {
      wait_genuine_ms = n;
    } else if (arg == "--seed" && numeric) {
      seed = n;
    } else {
      std::fprintf(stderr, "cpg_forger: bad argument %s %s\n", arg.c_str(), value.c_str());
      return Usage();
    }
  }
  if (group.empty() || group.size() > CPG_MAX_NAME_LENGTH) return Usage();

  Forger f;
  cpg_callbacks_t callbacks{};
  callbacks.cpg_deliver_fn = OnDeliver;
  callbacks.cpg_confchg_fn = OnConfchg;
  if (cs_error_t rc = cpg_initialize(&f.handle, &callbacks); rc != CS_OK) {
    std::fprintf(stderr, "cpg_forger: cannot reach corosync: cpg_initialize: error %d\n", static_cast<int>(rc));
    return 1;
  }
  cpg_context_set(f.handle, &f);
  unsigned int local = 0;
  int fd = -1;
  cpg_name name{};
  name.length = static_cast<uint32_t>(group.size());
  std::memcpy(name.value, group.data(), group.size());
  if (cpg_local_get(f.handle, &local) != CS_OK || cpg_fd_get(f.handle, &fd) != CS_OK || cpg_join(f.handle, &name) != CS_OK) {
    std::fprintf(stderr, "cpg_forger: cannot join CPG group '%s'\n", group.c_str());
    cpg_finalize(f.handle);
    return 1;
  }
  f.self = local;

  // A genuine authenticated frame first: it gives the cluster key's id and something to replay.
  const auto wait_until = Clock::now() + std::chrono::milliseconds(wait_genuine_ms);
  while (f.genuine_key_id < 0 && Clock::now() < wait_until) {
    if (!Pump(f, fd, 50)) return 1;
  }
  if (f.genuine_key_id < 0) {
    std::fprintf(stderr, "cpg_forger: no genuine authenticated frame within %llu ms\n",
                 static_cast<unsigned long long>(wait_genuine_ms));
    cpg_finalize(f.handle);
    return 1;
  }

  SplitMix64 random(seed);
  // A wrong key whose id differs from the cluster key's (else its frames would be bad_mac, not
  // unknown_key); one key in 256 shares the id, so a few tries are plenty.
  std::unique_ptr<FrameMaker> wrong;
  int wrong_key_id = -1;
  for (int attempt = 0; attempt < 16 && wrong_key_id < 0; ++attempt) {
    std::string key(pbxstate::kClusterKeyBytes, '\0');
    for (char& c : key) c = static_cast<char>(random.Next());
    wrong = std::make_unique<FrameMaker>(f.self, std::vector<std::string>{key}, random.Next());
    const Bytes probe = wrong->Next(1'000'000 + static_cast<std::uint64_t>(attempt));
    if (probe[kKeyIdOffset] != f.genuine_key_id) wrong_key_id = probe[kKeyIdOffset];
  }
  if (wrong_key_id < 0) {
    std::fprintf(stderr, "cpg_forger: 16 random keys all had the cluster key's id\n");
    return 1;
  }
  FrameMaker plain(f.self, {}, random.Next());

  const std::vector<std::string> kinds = {"random_bytes",   "random_frame",     "wrong_key",        "wrong_key_real_id",
                                          "tampered",       "no_mac",           "replay_broadcast", "replay_unicast",
                                          "readdressed_unicast", "truncated",   "broken_envelope"};
  std::map<std::string, KindCount> counts;
  for (const auto& k : kinds) counts[k];
  std::uint64_t forged_state = 0, try_again = 0, not_possible = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(duration_ms);
  std::size_t next_kind = 0;
  bool done = false;
  while (!done && Clock::now() < deadline) {
    if (!Pump(f, fd, 0)) return 1;
    // Round robin over the kinds still under their cap.
    done = true;
    for (std::size_t step = 0; step < kinds.size(); ++step) {
      const std::string& kind = kinds[(next_kind + step) % kinds.size()];
      KindCount& count = counts[kind];
      if (count.sent >= max_per_kind) continue;
      done = false;
      next_kind = (next_kind + step + 1) % kinds.size();
      Bytes message;
      std::string by, overheard;
      auto pick = [&](const std::deque<Captured>& list) -> const Captured* {
        return list.empty() ? nullptr : &list[random.Below(list.size())];
      };
      if (kind == "random_bytes") {
        message.resize(1 + random.Below(256));
        for (auto& b : message) b = static_cast<std::uint8_t>(random.Next());
        if (message[0] == 'P') message[0] = 'Q';  // never the envelope's magic
      } else if (kind == "random_frame") {
        Bytes junk(2 + random.Below(511));
        for (auto& b : junk) b = static_cast<std::uint8_t>(random.Next());
        if (junk[0] == 'P') junk[0] = 'Q';  // never the engine frame's magic
        message = Envelope(pbxstate::corosync::FrameKind::kBroadcast, 0, junk);
      } else if (kind == "wrong_key" || kind == "wrong_key_real_id") {
        Bytes frame = wrong->Next(forged_state++);
        if (kind == "wrong_key_real_id") frame[kKeyIdOffset] = static_cast<std::uint8_t>(f.genuine_key_id);
        message = Envelope(pbxstate::corosync::FrameKind::kBroadcast, 0, frame);
      } else if (kind == "no_mac") {
        message = Envelope(pbxstate::corosync::FrameKind::kBroadcast, 0, plain.Next(forged_state++));
      } else if (kind == "tampered") {
        const Captured* c = pick(f.broadcasts);
        if (c == nullptr || FrameOf(*c).size() <= kAuthHeaderBytes + kMacBytes || FrameOf(*c)[kVersionOffset] != kAuthenticatedVersion) {
          ++not_possible;
          continue;
        }
        message = c->message;
        const std::size_t body = FrameOf(*c).size() - kAuthHeaderBytes - kMacBytes;
        message[kEnvelope + kAuthHeaderBytes + random.Below(body)] ^= 0x80;
      } else if (kind == "replay_broadcast") {
        const Captured* c = pick(f.broadcasts);
        if (c == nullptr) { ++not_possible; continue; }
        message = c->message;
        by = std::to_string(c->from);
      } else if (kind == "replay_unicast" || kind == "readdressed_unicast") {
        const Captured* c = pick(f.unicasts);
        if (c == nullptr) { ++not_possible; continue; }
        by = std::to_string(DestinationOf(*c));
        if (kind == "replay_unicast" && OverheardByOthers(*c)) overheard = std::to_string(c->from) + ">" + by;
        message = kind == "replay_unicast" ? c->message : Envelope(pbxstate::corosync::FrameKind::kBroadcast, 0, FrameOf(*c));
      } else if (kind == "truncated") {
        const Captured* c = pick(f.broadcasts);
        if (c == nullptr || FrameOf(*c).size() < 2) { ++not_possible; continue; }
        message.assign(c->message.begin(), c->message.begin() + static_cast<std::ptrdiff_t>(kEnvelope + 1 + random.Below(FrameOf(*c).size() - 1)));
      } else if (kind == "broken_envelope") {
        const Captured* c = pick(f.broadcasts);
        if (c == nullptr) { ++not_possible; continue; }
        message = c->message;
        static const char* const kVariants[] = {"bad_magic", "bad_version", "bad_kind", "bad_destination", "truncated"};
        const std::size_t v = count.sent % 5;
        by = kVariants[v];
        switch (v) {
          case 0: message[0] = 'Q'; break;
          case 1: message[2] = pbxstate::corosync::kAddressedFrameVersion + 1; break;
          case 2: message[3] = 7; break;
          case 3: message[4] = 2; break;  // a broadcast that names a destination
          default: message.resize(1 + random.Below(kEnvelope - 1)); break;
        }
      }
      iovec iov{message.data(), message.size()};
      const cs_error_t rc = cpg_mcast_joined(f.handle, CPG_TYPE_AGREED, &iov, 1);
      if (rc == CS_ERR_TRY_AGAIN) {
        ++try_again;  // not sent, not counted; corosync's queue drains while we wait
      } else if (rc != CS_OK) {
        std::fprintf(stderr, "cpg_forger: cpg_mcast_joined: error %d\n", static_cast<int>(rc));
        cpg_finalize(f.handle);
        return 1;
      } else {
        ++count.sent;
        count.bytes += message.size();
        if (!by.empty()) ++count.by[by];
        if (!overheard.empty()) ++count.overheard[overheard];
      }
      break;
    }
    if (interval_us > 0) ::usleep(static_cast<useconds_t>(interval_us));
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  // Everything cpg_mcast_joined took is delivered to the group before our leave (virtual synchrony).
  cpg_leave(f.handle, &name);
  cpg_finalize(f.handle);

  nlohmann::json kinds_json = nlohmann::json::object();
  std::uint64_t total = 0;
  for (const auto& [kind, c] : counts) {
    kinds_json[kind] = {{"sent", c.sent}, {"bytes", c.bytes}};
    if (!c.by.empty()) kinds_json[kind]["by"] = c.by;
    if (!c.overheard.empty()) kinds_json[kind]["overheard"] = c.overheard;
    total += c.sent;
  }
  const nlohmann::json summary = {{"node", f.self},
                                  {"group", group},
                                  {"elapsed_ms", elapsed},
                                  {"total_sent", total},
                                  {"try_again", try_again},
                                  {"not_possible_yet", not_possible},
                                  {"genuine_received", f.genuine_received},
                                  {"genuine_key_id", f.genuine_key_id},
                                  {"wrong_key_id", wrong_key_id},
                                  {"captured_broadcasts", f.broadcasts.size()},
                                  {"captured_unicasts", f.unicasts.size()},
                                  {"kinds", kinds_json}};
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}
