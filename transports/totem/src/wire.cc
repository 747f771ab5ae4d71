#include "pbxstate/totem/wire.h"

#include <cstring>
#include <type_traits>

namespace pbxstate::totem {

namespace {

constexpr std::uint16_t kMagic = 0x544D;
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 8;

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>* out) : out_(out) { out_->clear(); }
  template <typename T>
  void Put(T v) {
    static_assert(std::is_integral_v<T>);
    for (std::size_t i = 0; i < sizeof(T); ++i) out_->push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i)));
  }
  void PutRing(const RingId& r) {
    Put<std::uint32_t>(r.rep);
    Put<std::uint64_t>(r.seq);
  }
  void PutNodes(const std::vector<NodeId>& nodes) {
    Put<std::uint16_t>(static_cast<std::uint16_t>(nodes.size()));
    for (NodeId n : nodes) Put<std::uint32_t>(n);
  }
  void PutBytes(std::span<const std::uint8_t> b) { out_->insert(out_->end(), b.begin(), b.end()); }

 private:
  std::vector<std::uint8_t>* out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  template <typename T>
  bool Get(T* v) {
    static_assert(std::is_integral_v<T>);
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) x |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += sizeof(T);
    *v = static_cast<T>(x);
    return true;
  }
  bool GetBool(bool* b) {
    std::uint8_t v = 0;
    if (!Get(&v) || v > 1) return false;
    *b = v == 1;
    return true;
  }
  bool GetRing(RingId* r) { return Get(&r->rep) && Get(&r->seq); }
  bool GetNodes(std::vector<NodeId>* nodes) {
    std::uint16_t count = 0;
    if (!Get(&count) || count > kMaxRingMembers) return false;
    nodes->resize(count);
    for (NodeId& n : *nodes) {
      if (!Get(&n)) return false;
    }
    return true;
  }
  std::span<const std::uint8_t> Rest() {
    auto r = in_.subspan(pos_);
    pos_ = in_.size();
    return r;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

PacketType TypeOf(const Packet& p) {
  switch (p.body.index()) {
    case 0: return PacketType::kToken;
    case 1: return PacketType::kMcast;
    case 2: return PacketType::kJoin;
    case 3: return PacketType::kCommit;
    case 4: return PacketType::kMergeDetect;
    case 5: return PacketType::kHoldCancel;
    default: return p.pong ? PacketType::kPong : PacketType::kPing;
  }
}

bool EncodeBody(const Packet& p, Writer& w) {
  if (const auto* t = std::get_if<Token>(&p.body)) {
    if (t->rtr.size() > kRetransmitEntriesMax) return false;
    w.PutRing(t->ring);
    w.Put<std::int64_t>(t->token_seq);
    w.Put<std::uint64_t>(t->seq);
    w.Put<std::uint64_t>(t->aru);
    w.Put<std::uint32_t>(t->aru_addr);
    w.Put<std::uint32_t>(t->fcc);
    w.Put<std::uint32_t>(t->backlog);
    w.Put<std::uint8_t>(t->retrans_flg ? 1 : 0);
    w.Put<std::uint8_t>(static_cast<std::uint8_t>(t->rtr.size()));
    for (std::uint64_t s : t->rtr) w.Put<std::uint64_t>(s);
  } else if (const auto* m = std::get_if<Mcast>(&p.body)) {
    if (m->payload.size() > kMaxMcastPayload) return false;
    w.PutRing(m->ring);
    w.Put<std::uint64_t>(m->seq);
    w.Put<std::uint32_t>(m->origin);
    w.Put<std::uint8_t>(m->encapsulated ? 1 : 0);
    w.PutRing(m->old_ring);
    w.Put<std::uint64_t>(m->old_seq);
    w.PutBytes(m->payload);
  } else if (const auto* j = std::get_if<Join>(&p.body)) {
    if (j->proc.size() > kMaxRingMembers || j->failed.size() > kMaxRingMembers) return false;
    w.Put<std::uint64_t>(j->ring_seq);
    w.PutNodes(j->proc);
    w.PutNodes(j->failed);
  } else if (const auto* c = std::get_if<Commit>(&p.body)) {
    if (c->members.size() > kMaxRingMembers || c->entries.size() != c->members.size()) return false;
    w.PutRing(c->ring);
    w.Put<std::int64_t>(c->token_seq);
    w.Put<std::uint32_t>(c->memb_index);
    w.PutNodes(c->members);
    for (const CommitEntry& e : c->entries) {
      w.PutRing(e.old_ring);
      w.Put<std::uint64_t>(e.aru);
      w.Put<std::uint64_t>(e.high_delivered);
      w.Put<std::uint8_t>(e.received_flg ? 1 : 0);
    }
  } else if (const auto* md = std::get_if<MergeDetect>(&p.body)) {
    w.PutRing(md->ring);
  } else if (const auto* hc = std::get_if<HoldCancel>(&p.body)) {
    w.PutRing(hc->ring);
  } else if (const auto* ping = std::get_if<Ping>(&p.body)) {
    w.Put<std::uint64_t>(ping->seq);
    w.Put<std::int64_t>(ping->sent_ns);
  }
  return true;
}

bool DecodeToken(Reader& r, Token* t) {
  std::uint8_t entries = 0;
  if (!r.GetRing(&t->ring) || !r.Get(&t->token_seq) || !r.Get(&t->seq) || !r.Get(&t->aru) || !r.Get(&t->aru_addr) ||
      !r.Get(&t->fcc) || !r.Get(&t->backlog) || !r.GetBool(&t->retrans_flg) || !r.Get(&entries) ||
      entries > kRetransmitEntriesMax) {
    return false;
  }
  t->rtr.resize(entries);
  for (std::uint64_t& s : t->rtr) {
    if (!r.Get(&s)) return false;
  }
  return r.done();
}

bool DecodeMcast(Reader& r, Mcast* m) {
  if (!r.GetRing(&m->ring) || !r.Get(&m->seq) || !r.Get(&m->origin) || !r.GetBool(&m->encapsulated) ||
      !r.GetRing(&m->old_ring) || !r.Get(&m->old_seq)) {
    return false;
  }
  const auto rest = r.Rest();
  if (rest.size() > kMaxMcastPayload || m->origin == kNoNode) return false;
  m->payload.assign(rest.begin(), rest.end());
  return true;
}

bool DecodeCommit(Reader& r, Commit* c) {
  if (!r.GetRing(&c->ring) || !r.Get(&c->token_seq) || !r.Get(&c->memb_index) || !r.GetNodes(&c->members)) return false;
  if (c->members.empty() || c->memb_index > c->members.size()) return false;
  c->entries.resize(c->members.size());
  for (CommitEntry& e : c->entries) {
    if (!r.GetRing(&e.old_ring) || !r.Get(&e.aru) || !r.Get(&e.high_delivered) || !r.GetBool(&e.received_flg)) return false;
  }
  return r.done();
}

}  // namespace

bool Encode(const Packet& packet, std::vector<std::uint8_t>* out) {
  Writer w(out);
  w.Put<std::uint16_t>(kMagic);
  w.Put<std::uint8_t>(kVersion);
  w.Put<std::uint8_t>(static_cast<std::uint8_t>(TypeOf(packet)));
  w.Put<std::uint32_t>(packet.from);
  if (!EncodeBody(packet, w)) return false;
  return out->size() <= kMaxPacketBytes;
}

bool Decode(std::span<const std::uint8_t> bytes, Packet* packet) {
  if (bytes.size() < kHeaderBytes || bytes.size() > kMaxPacketBytes) return false;
  Reader r(bytes);
  std::uint16_t magic = 0;
  std::uint8_t version = 0, type = 0;
  if (!r.Get(&magic) || !r.Get(&version) || !r.Get(&type) || !r.Get(&packet->from)) return false;
  if (magic != kMagic || version != kVersion || packet->from == kNoNode) return false;
  packet->pong = false;
  switch (static_cast<PacketType>(type)) {
    case PacketType::kToken: return DecodeToken(r, &packet->body.emplace<Token>());
    case PacketType::kMcast: return DecodeMcast(r, &packet->body.emplace<Mcast>());
    case PacketType::kJoin: {
      Join& j = packet->body.emplace<Join>();
      return r.Get(&j.ring_seq) && r.GetNodes(&j.proc) && r.GetNodes(&j.failed) && r.done();
    }
    case PacketType::kCommit: return DecodeCommit(r, &packet->body.emplace<Commit>());
    case PacketType::kMergeDetect: return r.GetRing(&packet->body.emplace<MergeDetect>().ring) && r.done();
    case PacketType::kHoldCancel: return r.GetRing(&packet->body.emplace<HoldCancel>().ring) && r.done();
    case PacketType::kPing:
    case PacketType::kPong: {
      Ping& p = packet->body.emplace<Ping>();
      packet->pong = static_cast<PacketType>(type) == PacketType::kPong;
      return r.Get(&p.seq) && r.Get(&p.sent_ns) && r.done();
    }
  }
  return false;
}

}  // namespace pbxstate::totem
