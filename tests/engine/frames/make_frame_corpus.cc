// Writes the malformed-frame corpus (tests/engine/frames/*.bin; EXPECTED is written by hand and lists
// what each must do) and the seed corpus of the frame fuzzer (fuzz/corpus/fuzz_frame_decoder/,
// real frames captured from an inproc cluster). Run by hand when the wire format changes:
//
//   make_frame_corpus --frames tests/engine/frames --fuzz-seeds fuzz/corpus/fuzz_frame_decoder
//
// Frames are built with the engine's own codec and MAC, so a malformed frame differs from a real
// one in exactly the way its name says.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codec.h"
#include "frame_auth.h"
#include "frame_corpus.h"
#include "pbxstate/inproc/cluster.h"

namespace pbxstate {
namespace {

using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

Bytes Updates(NodeId sender, std::uint64_t inc, std::string_view device, std::uint64_t seq, std::uint8_t state) {
  Bytes f;
  codec::BeginFrame(&f, codec::FrameType::kUpdates, sender, inc);
  codec::Writer w(&f);
  codec::EncodeUpdatesPrefix(w, seq - 1, seq, 1);
  w.U8(static_cast<std::uint8_t>(EntryKind::kDevice));
  w.Bytes(device);
  w.Varint(seq);
  w.U8(state);
  codec::EndFrame(&f);
  return f;
}

Bytes Seal(const Bytes& plain, const std::string& key, NodeId to, std::uint64_t counter) {
  FrameAuthenticator auth({key});
  Bytes out;
  auth.Seal(plain, to, counter, &out);
  return out;
}

void Put(const fs::path& dir, const std::string& name, const Bytes& bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "%s: cannot write\n", (dir / name).c_str());
    std::exit(1);
  }
}

void WriteMalformedCorpus(const fs::path& dir) {
  using frames::kSender;
  const Bytes good = Updates(kSender, 1, "PJSIP/alice", 1, static_cast<std::uint8_t>(DeviceState::kBusy));
  Put(dir, "good-plain.bin", good);
  Put(dir, "empty.bin", {});
  Put(dir, "truncated-header.bin", Bytes(good.begin(), good.begin() + 10));
  Put(dir, "truncated-body.bin", Bytes(good.begin(), good.end() - 1));
  Bytes b = good;
  b[16] = b[17] = b[18] = b[19] = 0xff;  // body length 4 GiB
  Put(dir, "oversize-body-length.bin", b);
  Bytes big;
  codec::BeginFrame(&big, codec::FrameType::kHeartbeat, kSender, 1);
  big.resize(1401, 0);
  codec::EndFrame(&big);
  Put(dir, "oversize-frame.bin", big);
  Put(dir, "oversize-key-length.bin", Updates(kSender, 1, std::string(300, 'k'), 1, 2));
  Bytes lie;
  codec::BeginFrame(&lie, codec::FrameType::kUpdates, kSender, 1);
  {
    codec::Writer w(&lie);
    codec::EncodeUpdatesPrefix(w, 0, 1, 200000);
  }
  codec::EndFrame(&lie);
  Put(dir, "lying-record-count.bin", lie);
  b = good;
  b[0] = 'Q';
  Put(dir, "bad-magic.bin", b);
  b = good;
  b[2] = 3;
  Put(dir, "wrong-version.bin", b);
  b = good;
  b[2] = 0;
  Put(dir, "wrong-version-zero.bin", b);
  b = good;
  b[3] = 99;
  Put(dir, "unknown-type.bin", b);
  b = good;
  b.push_back(0);
  codec::EndFrame(&b);
  Put(dir, "trailing-bytes.bin", b);
  Put(dir, "bad-device-state.bin", Updates(kSender, 1, "PJSIP/alice", 1, 9));
  Bytes varint;
  codec::BeginFrame(&varint, codec::FrameType::kUpdates, kSender, 1);
  for (int i = 0; i < 11; ++i) varint.push_back(0xff);
  codec::EndFrame(&varint);
  Put(dir, "overlong-varint.bin", varint);
  Put(dir, "sender-zero.bin", Updates(0, 1, "PJSIP/alice", 1, 2));
  Put(dir, "from-self.bin", Updates(frames::kReceiver, 1, "PJSIP/alice", 1, 2));
  Put(dir, "plain-incarnation-5.bin", Updates(kSender, 5, "PJSIP/bob", 1, 2));
  Put(dir, "stale-incarnation-plain.bin", Updates(kSender, 4, "PJSIP/bob", 2, 3));
  Put(dir, "authenticated-at-keyless.bin", Seal(good, frames::KeyA(), kNoNode, 1));

  // Keyed receivers.
  const Bytes good_keyed = Seal(good, frames::KeyA(), kNoNode, 1);
  Put(dir, "good-keyed.bin", good_keyed);
  Put(dir, "duplicate-keyed.bin", good_keyed);
  Put(dir, "unauthenticated.bin", good);
  b = good_keyed;
  b[b.size() - codec::kMacBytes - 1] = static_cast<std::uint8_t>(DeviceState::kNotInUse);  // forged state
  Put(dir, "bad-mac-body.bin", b);
  b = good_keyed;
  b.back() ^= 1;
  Put(dir, "bad-mac-tag.bin", b);
  b = good_keyed;
  b[8] ^= 0x10;  // incarnation, in the signed header
  Put(dir, "bad-mac-incarnation.bin", b);
  Put(dir, "unknown-key.bin", Seal(good, frames::KeyB(), kNoNode, 1));
  Put(dir, "previous-key.bin", Seal(good, frames::KeyB(), kNoNode, 1));
  Put(dir, "counter-2000.bin", Seal(Updates(kSender, 1, "PJSIP/carol", 1, 2), frames::KeyA(), kNoNode, 2000));
  Put(dir, "replayed-old-counter.bin", Seal(Updates(kSender, 1, "PJSIP/carol", 2, 3), frames::KeyA(), kNoNode, 5));
  Put(dir, "misdirected-unicast.bin", Seal(good, frames::KeyA(), 3, 7));
  Put(dir, "keyed-incarnation-5.bin", Seal(Updates(kSender, 5, "PJSIP/bob", 1, 2), frames::KeyA(), kNoNode, 1));
  Put(dir, "stale-incarnation-keyed.bin", Seal(Updates(kSender, 4, "PJSIP/bob", 1, 3), frames::KeyA(), kNoNode, 9));
  Put(dir, "truncated-mac.bin", Bytes(good_keyed.begin(), good_keyed.end() - 8));
  b = good_keyed;
  std::memset(b.data() + codec::kFrameHeaderBytes + 5, 0, 8);  // counter 0
  Put(dir, "counter-zero.bin", b);
  Bytes big_keyed = Seal(big, frames::KeyA(), kNoNode, 1);
  Put(dir, "oversize-keyed.bin", big_keyed);
}

// Real frames from a small cluster with a partition and a heal (every frame type), keyed with
// key A or not. Seeds are in the fuzz target's input format (fuzz/README.md): a mode byte, then
// frames, each as a 2-byte little-endian length and the bytes.
void WriteFuzzSeeds(const fs::path& dir) {
  int written = 0;
  for (bool keyed : {false, true}) {
    inproc::ClusterOptions opt;
    opt.nodes = 3;
    opt.seed = 5;
    opt.engine.anti_entropy_interval = std::chrono::milliseconds(200);
    opt.engine.max_frame_bytes = 512;  // small frames: more pages per catch-up
    opt.engine.max_key_bytes = 64;
    opt.engine.max_contact_bytes = 128;
    if (keyed) opt.engine.cluster_keys = {frames::KeyA()};
    std::unique_ptr<inproc::Cluster> c;
    if (const Status s = inproc::Cluster::Create(opt, &c); !s.ok()) {
      std::fprintf(stderr, "Cluster::Create: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    std::map<int, int> per_type;
    std::vector<Bytes> to_node0;
    c->SetTraceHook([&](const inproc::TraceEvent& e) {
      if (e.kind != inproc::TraceKind::kDelivered || e.frame.size() < 4) return;
      const int type = e.frame[3];
      if (e.node == 0 && to_node0.size() < 8) to_node0.emplace_back(e.frame.begin(), e.frame.end());
      if (per_type[type]++ >= 1) return;
      // Keyed frames go to mode 1 (verified by the target's key); their plain bodies to mode 2
      // would need the plain form, so plain frames seed modes 0, 2 and 3.
      const std::vector<std::uint8_t> modes = keyed ? std::vector<std::uint8_t>{1} : std::vector<std::uint8_t>{0, 2, 3};
      for (std::uint8_t mode : modes) {
        Bytes seed;
        seed.reserve(3 + e.frame.size());
        seed.push_back(mode);
        seed.push_back(static_cast<std::uint8_t>(e.frame.size()));
        seed.push_back(static_cast<std::uint8_t>(e.frame.size() >> 8));
        for (std::uint8_t byte : e.frame) seed.push_back(byte);
        Put(dir, (keyed ? "keyed-" : "plain-") + std::string("type") + std::to_string(type) + "-" +
                     std::to_string(per_type[type]) + "-mode" + std::to_string(mode),
            seed);
        ++written;
      }
    });
    for (int i = 0; i < 3; ++i) (void)c->SetDeviceState(static_cast<std::size_t>(i), "PJSIP/p" + std::to_string(i), DeviceState::kInUse);
    (void)c->SetMailbox(0, "100@default", {2, 1, 0});
    (void)c->SetRegistration(1, "alice", "sip:alice@198.51.100.7:5060", std::chrono::seconds(600));
    (void)c->Advance(std::chrono::seconds(1));
    (void)c->Partition({{0}, {1, 2}});
    for (int i = 0; i < 40; ++i) (void)c->SetDeviceState(1, "PJSIP/q" + std::to_string(i), DeviceState::kRinging);
    (void)c->Advance(std::chrono::seconds(1));
    c->Heal();
    (void)c->Advance(std::chrono::seconds(3));
    // One sequence: the first frames node 0 received, as one input.
    Bytes seq;
    seq.push_back(static_cast<std::uint8_t>(keyed ? 1 : 0));
    for (const Bytes& f : to_node0) {
      seq.push_back(static_cast<std::uint8_t>(f.size()));
      seq.push_back(static_cast<std::uint8_t>(f.size() >> 8));
      for (std::uint8_t byte : f) seq.push_back(byte);
    }
    Put(dir, std::string(keyed ? "keyed" : "plain") + "-sequence-to-node1", seq);
    ++written;
  }
  std::printf("%d fuzz seeds in %s\n", written, dir.c_str());
}

}  // namespace
}  // namespace pbxstate

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const std::filesystem::path dir = argv[i + 1];
    std::filesystem::create_directories(dir);
    if (opt == "--frames") {
      pbxstate::WriteMalformedCorpus(dir);
    } else if (opt == "--fuzz-seeds") {
      pbxstate::WriteFuzzSeeds(dir);
    } else {
      std::fprintf(stderr, "usage: make_frame_corpus [--frames DIR] [--fuzz-seeds DIR]\n");
      return 2;
    }
  }
  return 0;
}
