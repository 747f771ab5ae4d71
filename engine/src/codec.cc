#include "codec.h"

#include <cstring>
#include <limits>

#include "pbxstate/engine.h"
#include "pbxstate/check.h"

namespace pbxstate::codec {
namespace {

constexpr std::uint8_t kRegRemoved = 1;
// A device record's state byte when the owner removed its contribution (no state: kUnknown).
constexpr std::uint8_t kDeviceRemoved = 0x80;
static_assert(kDeviceStateCount < kDeviceRemoved);
// A mailbox record's new-messages count when the record is a removal (no counts: the old and
// urgent counts are 0): one past the largest count, so it is no count a write can carry.
constexpr std::uint64_t kMailboxRemoved = std::uint64_t{std::numeric_limits<std::uint32_t>::max()} + 1;
constexpr std::uint8_t kRegUnreachable = 2;
constexpr std::uint8_t kPageLast = 1;
constexpr std::uint8_t kPageShared = 2;

std::size_t VarintBytes(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

bool ReadKind(Reader& r, std::uint8_t* kind) {
  if (!r.U8(kind)) return false;
  if (*kind > static_cast<std::uint8_t>(EntryKind::kRegistration)) return r.Fail(DropReason::kMalformed);
  return true;
}

bool ReadRecord(Reader& r, const DecodeLimits& limits, Record* rec) {
  *rec = Record{};
  if (!ReadKind(r, &rec->kind)) return false;
  if (!r.Bytes(limits.max_key_bytes, &rec->key)) return false;
  if (rec->key.empty()) return r.Fail(DropReason::kMalformed);
  std::uint64_t v = 0;
  switch (static_cast<EntryKind>(rec->kind)) {
    case EntryKind::kDevice: {
      std::uint8_t state = 0;
      if (!r.Varint(&rec->seq) || !r.U8(&state)) return false;
      if (rec->seq == 0) return r.Fail(DropReason::kMalformed);
      if (state == kDeviceRemoved) {
        rec->removed = true;
        return true;
      }
      if (state >= kDeviceStateCount) return r.Fail(DropReason::kMalformed);
      rec->state = static_cast<DeviceState>(state);
      return true;
    }
    case EntryKind::kRegistration: {
      std::uint8_t flags = 0;
      if (!r.Varint(&rec->seq) || !r.U8(&flags)) return false;
      if (rec->seq == 0 || (flags & ~(kRegRemoved | kRegUnreachable)) != 0) return r.Fail(DropReason::kMalformed);
      rec->removed = (flags & kRegRemoved) != 0;
      rec->status = (flags & kRegUnreachable) != 0 ? ContactStatus::kUnreachable : ContactStatus::kReachable;
      constexpr auto kMaxNs = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      if (!r.VarintBounded(kMaxNs, &v)) return false;
      rec->expires_ns = static_cast<std::int64_t>(v);
      if (!r.VarintBounded(kMaxNs, &v)) return false;
      rec->horizon_ns = static_cast<std::int64_t>(v);
      if (!r.VarintBounded(std::numeric_limits<std::uint32_t>::max(), &v)) return false;
      rec->rtt_us = static_cast<std::uint32_t>(v);
      if (!r.Bytes(limits.max_contact_bytes, &rec->contact)) return false;
      if (!r.Bytes(limits.max_contact_bytes, &rec->path)) return false;
      if (!r.Bytes(limits.max_contact_bytes, &rec->user_agent)) return false;
      if (rec->horizon_ns < rec->expires_ns) return r.Fail(DropReason::kMalformed);
      // The contact names the entry, so a removal carries it too; the three fields share one bound.
      if (rec->contact.empty()) return r.Fail(DropReason::kMalformed);
      if (rec->contact.size() + rec->path.size() + rec->user_agent.size() > limits.max_contact_bytes) {
        return r.Fail(DropReason::kMalformed);
      }
      if (rec->removed && (!rec->path.empty() || !rec->user_agent.empty())) return r.Fail(DropReason::kMalformed);
      return true;
    }
    case EntryKind::kMailbox: {
      constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
      if (!r.VarintBounded(kMailboxRemoved, &v)) return false;
      rec->removed = v == kMailboxRemoved;
      if (!rec->removed) rec->counts.new_messages = static_cast<std::uint32_t>(v);
      if (!r.VarintBounded(kMaxU32, &v)) return false;
      rec->counts.old_messages = static_cast<std::uint32_t>(v);
      if (!r.VarintBounded(kMaxU32, &v)) return false;
      rec->counts.urgent_messages = static_cast<std::uint32_t>(v);
      if (rec->removed && (rec->counts.old_messages != 0 || rec->counts.urgent_messages != 0)) {
        return r.Fail(DropReason::kMalformed);  // a removal has no counts
      }
      if (!r.VarintBounded(static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), &v)) return false;
      rec->hlc.physical_ns = static_cast<std::int64_t>(v);
      if (!r.VarintBounded(kMaxU32, &v)) return false;
      rec->hlc.logical = static_cast<std::uint32_t>(v);
      if (!r.VarintBounded(kMaxU32, &v)) return false;
      rec->writer = static_cast<NodeId>(v);
      if (rec->writer == kNoNode || rec->writer == kMailboxOrigin) return r.Fail(DropReason::kMalformed);
      return true;
    }
  }
  return r.Fail(DropReason::kMalformed);
}

bool ReadCount(Reader& r, std::size_t min_item_bytes, std::uint64_t* count) {
  if (!r.VarintBounded(kMaxItemsPerFrame, count)) return false;
  // A count that could not fit in the bytes left is a lie: refuse before reserving anything.
  if (*count * min_item_bytes > r.remaining()) return r.Fail(DropReason::kTruncated);
  return true;
}

std::optional<DropReason> Finish(Reader& r) {
  if (!r.ok()) return r.error();
  if (r.remaining() != 0) return DropReason::kMalformed;
  return std::nullopt;
}

bool ReadNode(Reader& r, NodeId* node) {
  std::uint64_t v = 0;
  if (!r.VarintBounded(std::numeric_limits<std::uint32_t>::max(), &v)) return false;
  if (v == kNoNode) return r.Fail(DropReason::kMalformed);
  *node = static_cast<NodeId>(v);
  return true;
}

bool ReadU32Varint(Reader& r, std::uint32_t* out) {
  std::uint64_t v = 0;
  if (!r.VarintBounded(std::numeric_limits<std::uint32_t>::max(), &v)) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

// The smallest structurally possible record: kind, key length, seq, state. (A valid one is a
// byte longer; the count check only has to refuse counts no body could hold.)
constexpr std::size_t kMinRecordBytes = 4;

}  // namespace

void Writer::U32(std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out_->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Writer::U64(std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out_->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Writer::Varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<std::uint8_t>(v));
}

void Writer::Bytes(std::string_view s) {
  Varint(s.size());
  out_->insert(out_->end(), s.begin(), s.end());
}

bool Reader::U8(std::uint8_t* v) {
  if (error_) return false;
  if (remaining() < 1) return Fail(DropReason::kTruncated);
  *v = in_[pos_++];
  return true;
}

bool Reader::U32(std::uint32_t* v) {
  if (error_) return false;
  if (remaining() < 4) return Fail(DropReason::kTruncated);
  std::uint32_t x = 0;
  for (int i = 0; i < 4; ++i) x |= static_cast<std::uint32_t>(in_[pos_ + static_cast<std::size_t>(i)]) << (8 * i);
  pos_ += 4;
  *v = x;
  return true;
}

bool Reader::U64(std::uint64_t* v) {
  if (error_) return false;
  if (remaining() < 8) return Fail(DropReason::kTruncated);
  std::uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x |= static_cast<std::uint64_t>(in_[pos_ + static_cast<std::size_t>(i)]) << (8 * i);
  pos_ += 8;
  *v = x;
  return true;
}

bool Reader::Varint(std::uint64_t* v) {
  if (error_) return false;
  std::uint64_t x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (remaining() < 1) return Fail(DropReason::kTruncated);
    const std::uint8_t b = in_[pos_++];
    // The tenth byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && b > 1) return Fail(DropReason::kMalformed);
    x |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = x;
      return true;
    }
  }
  return Fail(DropReason::kMalformed);
}

bool Reader::VarintBounded(std::uint64_t max, std::uint64_t* v) {
  if (!Varint(v)) return false;
  if (*v > max) return Fail(DropReason::kMalformed);
  return true;
}

bool Reader::Bytes(std::size_t max_len, std::string_view* s) {
  std::uint64_t len = 0;
  if (!Varint(&len)) return false;
  if (len > max_len) return Fail(DropReason::kOversize);
  if (len > remaining()) return Fail(DropReason::kTruncated);
  *s = std::string_view(reinterpret_cast<const char*>(in_.data() + pos_), static_cast<std::size_t>(len));
  pos_ += static_cast<std::size_t>(len);
  return true;
}

std::size_t MaxRecordBytes(std::size_t key_bytes, std::size_t contact_bytes) {
  // kind + key length + key + the widest kind's fields (registration: seq, flags, expires,
  // horizon, rtt, the lengths of contact, path and user agent, and their bytes, which share
  // contact_bytes; the mailbox's fields are narrower).
  return 1 + 5 + key_bytes + 10 + 1 + 10 + 10 + 5 + 3 * 5 + contact_bytes;
}

std::size_t EncodedRecordBytes(const Record& r) {
  std::size_t n = 1 + VarintBytes(r.key.size()) + r.key.size();
  switch (static_cast<EntryKind>(r.kind)) {
    case EntryKind::kDevice:
      return n + VarintBytes(r.seq) + 1;
    case EntryKind::kRegistration:
      return n + VarintBytes(r.seq) + 1 + VarintBytes(static_cast<std::uint64_t>(r.expires_ns)) +
             VarintBytes(static_cast<std::uint64_t>(r.horizon_ns)) + VarintBytes(r.rtt_us) +
             VarintBytes(r.contact.size()) + r.contact.size() + VarintBytes(r.path.size()) + r.path.size() +
             VarintBytes(r.user_agent.size()) + r.user_agent.size();
    case EntryKind::kMailbox:
      if (r.removed) {
        return n + VarintBytes(kMailboxRemoved) + 1 + 1 + VarintBytes(static_cast<std::uint64_t>(r.hlc.physical_ns)) +
               VarintBytes(r.hlc.logical) + VarintBytes(r.writer);
      }
      return n + VarintBytes(r.counts.new_messages) + VarintBytes(r.counts.old_messages) +
             VarintBytes(r.counts.urgent_messages) + VarintBytes(static_cast<std::uint64_t>(r.hlc.physical_ns)) +
             VarintBytes(r.hlc.logical) + VarintBytes(r.writer);
  }
  return n;
}

std::size_t BeginFrame(std::vector<std::uint8_t>* out, FrameType type, NodeId sender, std::uint64_t incarnation) {
  out->clear();
  Writer w(out);
  w.U8(kMagic0);
  w.U8(kMagic1);
  w.U8(kVersion);
  w.U8(static_cast<std::uint8_t>(type));
  w.U32(sender);
  w.U64(incarnation);
  w.U32(0);  // body length, filled by EndFrame
  PBXSTATE_CHECK_EQ(out->size(), kFrameHeaderBytes);
  return out->size();
}

void EndFrame(std::vector<std::uint8_t>* out) {
  PBXSTATE_CHECK_GE(out->size(), kFrameHeaderBytes);
  const auto body = static_cast<std::uint32_t>(out->size() - kFrameHeaderBytes);
  for (int i = 0; i < 4; ++i) (*out)[16 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(body >> (8 * i));
}

void WriteAuthenticatedFrame(std::span<const std::uint8_t> plain, std::uint8_t key_id, NodeId to,
                             std::uint64_t counter, std::vector<std::uint8_t>* out) {
  PBXSTATE_CHECK_GE(plain.size(), kFrameHeaderBytes);
  PBXSTATE_CHECK_EQ(plain[2], kVersion);
  PBXSTATE_CHECK_NE(counter, 0u);
  const std::size_t frame_bytes = plain.size() + kAuthOverheadBytes;
  out->clear();
  out->reserve(frame_bytes);
  out->assign(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(kFrameHeaderBytes));
  (*out)[2] = kVersionAuthenticated;
  Writer w(out);
  w.U8(key_id);
  w.U32(to);
  w.U64(counter);
  PBXSTATE_CHECK_EQ(out->size(), kAuthHeaderBytes);
  // The body and the zeroed MAC: the frame grows to its final size once and the body is copied
  // into place. (A range insert here made GCC 12 at -O3 warn, wrongly, that it overflows the
  // 20-byte header allocation: -Wstringop-overflow cannot see that reserve() covered it.)
  out->resize(frame_bytes, 0);
  std::memcpy(out->data() + kAuthHeaderBytes, plain.data() + kFrameHeaderBytes, plain.size() - kFrameHeaderBytes);
  PBXSTATE_CHECK_EQ(out->size(), frame_bytes);
}

void EncodeRecord(Writer& w, const Record& r) {
  const std::size_t start = w.size();
  w.U8(r.kind);
  w.Bytes(r.key);
  switch (static_cast<EntryKind>(r.kind)) {
    case EntryKind::kDevice:
      w.Varint(r.seq);
      w.U8(r.removed ? kDeviceRemoved : static_cast<std::uint8_t>(r.state));
      break;
    case EntryKind::kRegistration:
      w.Varint(r.seq);
      w.U8(static_cast<std::uint8_t>((r.removed ? kRegRemoved : 0) |
                                     (r.status == ContactStatus::kUnreachable ? kRegUnreachable : 0)));
      w.Varint(static_cast<std::uint64_t>(r.expires_ns));
      w.Varint(static_cast<std::uint64_t>(r.horizon_ns));
      w.Varint(r.rtt_us);
      w.Bytes(r.contact);
      w.Bytes(r.path);
      w.Bytes(r.user_agent);
      break;
    case EntryKind::kMailbox:
      w.Varint(r.removed ? kMailboxRemoved : r.counts.new_messages);
      w.Varint(r.removed ? 0 : r.counts.old_messages);
      w.Varint(r.removed ? 0 : r.counts.urgent_messages);
      w.Varint(static_cast<std::uint64_t>(r.hlc.physical_ns));
      w.Varint(r.hlc.logical);
      w.Varint(r.writer);
      break;
  }
  PBXSTATE_CHECK_EQ(w.size() - start, EncodedRecordBytes(r));
  (void)start;
}

void EncodeUpdatesPrefix(Writer& w, std::uint64_t from_seq, std::uint64_t to_seq, std::uint32_t count) {
  w.Varint(from_seq);
  w.Varint(to_seq);
  w.Varint(count);
}

void EncodeHeartbeat(Writer& w, const Heartbeat& hb) {
  w.U64(hb.summary);
  w.Bytes(hb.label);
  if (hb.site_mates.empty()) return;
  PBXSTATE_CHECK_LE(hb.site_mates.size(), kMaxNodes);
  w.Varint(hb.site_mates.size());
  for (const SiteMateHeard& m : hb.site_mates) {
    w.Varint(m.node);
    w.Varint(m.age_ms);
  }
}

void EncodeSummary(Writer& w, const Summary& s) { w.U64(s.summary); }

void EncodeDigest(Writer& w, const Digest& d) {
  w.U8(static_cast<std::uint8_t>(d.mode));
  w.U64(d.mailbox_hash);
  w.Varint(d.lo);
  w.Varint(d.hi);
  w.Varint(d.entries.size());
  for (const DigestEntry& e : d.entries) {
    w.Varint(e.origin);
    w.Varint(e.incarnation);
    w.Varint(e.watermark);
    w.U64(e.hash);
  }
}

void EncodeSyncRequest(Writer& w, const SyncRequest& r) {
  w.Varint(r.session);
  w.Varint(r.origin);
  w.Varint(r.incarnation);
  w.Varint(r.since);
}

void EncodeSyncPagePrefix(Writer& w, const SyncPage& p, std::uint32_t count) {
  // The first addressee where a plain page has its session; a shared page then names it and the
  // others after the donor's watermark (an engine from before shared streams refuses the flag).
  PBXSTATE_CHECK(!p.to.empty() && p.to.size() <= kMaxSyncPageAddressees);
  const bool shared = p.to.front().node != kNoNode;
  PBXSTATE_CHECK(shared || p.to.size() == 1);
  w.Varint(p.to.front().session);
  w.Varint(p.to.front().page);
  w.U8(static_cast<std::uint8_t>((p.to.front().last ? kPageLast : 0) | (shared ? kPageShared : 0)));
  w.Varint(p.origin);
  w.Varint(p.incarnation);
  w.Varint(p.donor_watermark);
  if (shared) {
    w.Varint(p.to.front().node);
    w.U8(static_cast<std::uint8_t>(p.to.size() - 1));
    for (std::size_t i = 1; i < p.to.size(); ++i) {
      PBXSTATE_CHECK_NE(p.to[i].node, kNoNode);
      w.Varint(p.to[i].node);
      w.Varint(p.to[i].session);
      w.Varint(p.to[i].page);
      w.U8(p.to[i].last ? kPageLast : 0);
    }
  }
  w.Varint(count);
}

void EncodeSyncAck(Writer& w, const SyncAck& a) {
  w.Varint(a.session);
  w.Varint(a.next_page);
}

void EncodeSyncRefuse(Writer& w, const SyncRefuse& r) {
  w.Varint(r.session);
  w.U8(static_cast<std::uint8_t>(r.reason));
}

namespace {

// A moment of a probe (kMailboxMomentBytes, little-endian).
void WriteMoment(Writer& w, std::uint64_t v) {
  for (std::size_t i = 0; i < kMailboxMomentBytes; ++i) w.U8(static_cast<std::uint8_t>(v >> (8 * i)));
}

bool ReadMoment(Reader& r, std::uint64_t* v) {
  *v = 0;
  for (std::size_t i = 0; i < kMailboxMomentBytes; ++i) {
    std::uint8_t b = 0;
    if (!r.U8(&b)) return false;
    *v |= static_cast<std::uint64_t>(b) << (8 * i);
  }
  return true;
}

}  // namespace

void EncodeMailboxRanges(Writer& w, const MailboxRanges& m) {
  w.U8(static_cast<std::uint8_t>(m.mode));
  w.U8(m.level);
  w.U64(m.salt);
  w.Varint(m.ranges.size());
  std::uint32_t prev = 0;
  for (std::size_t i = 0; i < m.ranges.size(); ++i) {
    const MailboxRange& r = m.ranges[i];
    PBXSTATE_CHECK(i == 0 || r.prefix > prev);
    w.Varint(i == 0 ? r.prefix : r.prefix - prev);
    if (const std::size_t n = MailboxMoments(m.mode)) {
      PBXSTATE_CHECK_GE(m.level, kMailboxProbeMinLevel);
      const std::uint64_t s[] = {r.s1, r.s2, r.s3, r.s4};
      for (std::size_t k = 0; k < n; ++k) {
        PBXSTATE_CHECK_LT(s[k], kMailboxMomentPrime);
        WriteMoment(w, s[k]);
      }
    } else {
      w.U32(r.fingerprint);
    }
    prev = r.prefix;
  }
}

void EncodeMailboxEntriesPrefix(Writer& w, std::uint32_t count) { w.Varint(count); }

std::optional<DropReason> DecodeHeader(std::span<const std::uint8_t> frame, const DecodeLimits& limits,
                                       FrameHeader* header, std::span<const std::uint8_t>* body) {
  if (frame.size() > limits.max_frame_bytes) return DropReason::kOversize;
  if (frame.size() < 2) return DropReason::kTruncated;
  if (frame[0] != kMagic0 || frame[1] != kMagic1) return DropReason::kBadMagic;
  Reader r(frame.subspan(2));
  std::uint8_t version = 0, type = 0;
  std::uint32_t sender = 0, length = 0;
  std::uint64_t incarnation = 0;
  if (!r.U8(&version)) return r.error();
  if (version != kVersion && version != kVersionAuthenticated) return DropReason::kBadVersion;
  const bool authenticated = version == kVersionAuthenticated;
  if (!r.U8(&type) || !r.U32(&sender) || !r.U64(&incarnation) || !r.U32(&length)) return r.error();
  if (type < static_cast<std::uint8_t>(FrameType::kUpdates) || type > static_cast<std::uint8_t>(FrameType::kRelay)) {
    return DropReason::kUnknownType;
  }
  std::uint8_t key_id = 0;
  std::uint32_t to = 0;
  std::uint64_t counter = 0;
  if (authenticated && (!r.U8(&key_id) || !r.U32(&to) || !r.U64(&counter))) return r.error();
  const std::size_t header_bytes = authenticated ? kAuthHeaderBytes : kFrameHeaderBytes;
  const std::size_t trailer_bytes = authenticated ? kMacBytes : 0;
  if (frame.size() < header_bytes + trailer_bytes) return DropReason::kTruncated;
  const std::size_t body_bytes = frame.size() - header_bytes - trailer_bytes;
  if (length != body_bytes) return length > body_bytes ? DropReason::kTruncated : DropReason::kMalformed;
  if (sender == kNoNode || sender == kMailboxOrigin || incarnation == 0) return DropReason::kMalformed;
  if (authenticated && (counter == 0 || to == kMailboxOrigin)) return DropReason::kMalformed;
  header->type = static_cast<FrameType>(type);
  header->sender = sender;
  header->incarnation = incarnation;
  header->authenticated = authenticated;
  header->key_id = key_id;
  header->to = to;
  header->counter = counter;
  header->signed_bytes = frame.first(frame.size() - trailer_bytes);
  header->mac = frame.last(trailer_bytes);
  *body = frame.subspan(header_bytes, body_bytes);
  return std::nullopt;
}

std::optional<DropReason> DecodeUpdates(std::span<const std::uint8_t> body, const DecodeLimits& limits, Updates* out) {
  Reader r(body);
  std::uint64_t count = 0;
  out->records.clear();
  if (!r.Varint(&out->from_seq) || !r.Varint(&out->to_seq) || !ReadCount(r, kMinRecordBytes, &count)) return r.error();
  if (out->to_seq < out->from_seq) return DropReason::kMalformed;
  out->records.resize(static_cast<std::size_t>(count));
  for (Record& rec : out->records) {
    if (!ReadRecord(r, limits, &rec)) return r.error();
    // An UPDATES frame carries its sender's changes from (from, to] only (mailbox writes carry
    // no sequence number).
    if (rec.kind != static_cast<std::uint8_t>(EntryKind::kMailbox) && (rec.seq <= out->from_seq || rec.seq > out->to_seq)) {
      return DropReason::kMalformed;
    }
  }
  return Finish(r);
}

std::optional<DropReason> DecodeHeartbeat(std::span<const std::uint8_t> body, Heartbeat* out) {
  Reader r(body);
  out->site_mates.clear();
  if (!r.U64(&out->summary) || !r.Bytes(kMaxLabelBytes, &out->label)) return r.error();
  if (r.remaining() == 0) return std::nullopt;
  std::uint64_t count = 0;
  if (!r.VarintBounded(kMaxNodes, &count)) return r.error();
  // Each pair takes at least 2 bytes: a count the body cannot hold is refused before reserving.
  if (count == 0 || count > r.remaining() / 2) return DropReason::kMalformed;
  out->site_mates.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    SiteMateHeard m;
    std::uint64_t age = 0;
    if (!ReadNode(r, &m.node) || !r.VarintBounded(std::numeric_limits<std::uint32_t>::max(), &age)) return r.error();
    if (m.node == kNoNode) return DropReason::kMalformed;
    m.age_ms = static_cast<std::uint32_t>(age);
    out->site_mates.push_back(m);
  }
  return Finish(r);
}

std::optional<DropReason> DecodeSummary(std::span<const std::uint8_t> body, Summary* out) {
  Reader r(body);
  if (!r.U64(&out->summary)) return r.error();
  return Finish(r);
}

std::optional<DropReason> DecodeDigest(std::span<const std::uint8_t> body, Digest* out) {
  Reader r(body);
  std::uint8_t mode = 0;
  std::uint64_t count = 0;
  out->entries.clear();
  if (!r.U8(&mode) || !r.U64(&out->mailbox_hash)) return r.error();
  if (mode > static_cast<std::uint8_t>(DigestMode::kJoin)) return DropReason::kMalformed;
  out->mode = static_cast<DigestMode>(mode);
  if (!ReadNode(r, &out->lo) || !ReadNode(r, &out->hi) || !ReadCount(r, 11, &count)) return r.error();
  if (out->hi < out->lo || count > kMaxNodes) return DropReason::kMalformed;
  out->entries.resize(static_cast<std::size_t>(count));
  NodeId prev = kNoNode;
  for (DigestEntry& e : out->entries) {
    if (!ReadNode(r, &e.origin) || !r.Varint(&e.incarnation) || !r.Varint(&e.watermark) || !r.U64(&e.hash)) {
      return r.error();
    }
    if (e.origin <= prev || e.origin < out->lo || e.origin > out->hi || e.incarnation == 0) return DropReason::kMalformed;
    prev = e.origin;
  }
  return Finish(r);
}

std::optional<DropReason> DecodeSyncRequest(std::span<const std::uint8_t> body, SyncRequest* out) {
  Reader r(body);
  if (!ReadU32Varint(r, &out->session) || !ReadNode(r, &out->origin) || !r.Varint(&out->incarnation) ||
      !r.Varint(&out->since)) {
    return r.error();
  }
  return Finish(r);
}

std::optional<DropReason> DecodeSyncPage(std::span<const std::uint8_t> body, const DecodeLimits& limits, SyncPage* out) {
  Reader r(body);
  std::uint8_t flags = 0;
  std::uint64_t count = 0;
  out->records.clear();
  out->to.assign(1, SyncPageAddressee{});
  SyncPageAddressee& first = out->to.front();
  if (!ReadU32Varint(r, &first.session) || !ReadU32Varint(r, &first.page) || !r.U8(&flags) || !ReadNode(r, &out->origin) ||
      !r.Varint(&out->incarnation) || !r.Varint(&out->donor_watermark)) {
    return r.error();
  }
  if ((flags & ~(kPageLast | kPageShared)) != 0) return DropReason::kMalformed;
  first.last = (flags & kPageLast) != 0;
  if ((flags & kPageShared) != 0) {
    std::uint8_t more = 0;
    if (!ReadNode(r, &first.node) || !r.U8(&more)) return r.error();
    if (more + std::size_t{1} > kMaxSyncPageAddressees) return DropReason::kMalformed;
    for (std::uint8_t i = 0; i < more; ++i) {
      SyncPageAddressee a;
      std::uint8_t f = 0;
      if (!ReadNode(r, &a.node) || !ReadU32Varint(r, &a.session) || !ReadU32Varint(r, &a.page) || !r.U8(&f)) {
        return r.error();
      }
      if ((f & ~kPageLast) != 0) return DropReason::kMalformed;
      a.last = (f & kPageLast) != 0;
      for (const SyncPageAddressee& b : out->to) {
        if (b.node == a.node) return DropReason::kMalformed;  // one addressee per node
      }
      out->to.push_back(a);
    }
  }
  if (!ReadCount(r, kMinRecordBytes, &count)) return r.error();
  const bool mailbox_session = out->origin == kMailboxOrigin;
  if (!mailbox_session && out->incarnation == 0) return DropReason::kMalformed;
  out->records.resize(static_cast<std::size_t>(count));
  for (Record& rec : out->records) {
    if (!ReadRecord(r, limits, &rec)) return r.error();
    // A page carries one origin's owned entries, or (origin kMailboxOrigin) mailboxes only.
    const bool is_mailbox = rec.kind == static_cast<std::uint8_t>(EntryKind::kMailbox);
    if (is_mailbox != mailbox_session) return DropReason::kMalformed;
  }
  return Finish(r);
}

std::optional<DropReason> DecodeSyncAck(std::span<const std::uint8_t> body, SyncAck* out) {
  Reader r(body);
  if (!ReadU32Varint(r, &out->session) || !ReadU32Varint(r, &out->next_page)) return r.error();
  return Finish(r);
}

std::optional<DropReason> DecodeSyncRefuse(std::span<const std::uint8_t> body, SyncRefuse* out) {
  Reader r(body);
  std::uint8_t reason = 0;
  if (!ReadU32Varint(r, &out->session) || !r.U8(&reason)) return r.error();
  if (reason > static_cast<std::uint8_t>(RefuseReason::kStale)) return DropReason::kMalformed;
  out->reason = static_cast<RefuseReason>(reason);
  return Finish(r);
}

std::optional<DropReason> DecodeMailboxRanges(std::span<const std::uint8_t> body, MailboxRanges* out) {
  Reader r(body);
  std::uint8_t mode = 0;
  std::uint64_t count = 0;
  out->ranges.clear();
  if (!r.U8(&mode) || !r.U8(&out->level) || !r.U64(&out->salt)) return r.error();
  if (mode > static_cast<std::uint8_t>(RangesMode::kPairProbe) || out->level > kMailboxMaxLevel) {
    return DropReason::kMalformed;
  }
  out->mode = static_cast<RangesMode>(mode);
  const std::size_t moments = MailboxMoments(out->mode);
  const bool probe = moments > 0;
  if (probe && out->level < kMailboxProbeMinLevel) return DropReason::kMalformed;
  // The prefixes of a level: 2^(2 level), so level 16 spans all of a u32.
  const std::uint64_t limit = std::uint64_t{1} << (kMailboxBitsPerLevel * out->level);
  if (!ReadCount(r, probe ? 1 + moments * kMailboxMomentBytes : 1 + 4, &count)) return r.error();
  if (count > limit) return DropReason::kMalformed;
  out->ranges.resize(static_cast<std::size_t>(count));
  std::uint64_t prefix = 0;
  for (std::size_t i = 0; i < out->ranges.size(); ++i) {
    std::uint64_t delta = 0;
    MailboxRange& range = out->ranges[i];
    if (!r.VarintBounded(limit - 1, &delta)) return r.error();
    if (probe) {
      std::uint64_t* const s[] = {&range.s1, &range.s2, &range.s3, &range.s4};
      for (std::size_t k = 0; k < moments; ++k) {
        if (!ReadMoment(r, s[k])) return r.error();
        if (*s[k] >= kMailboxMomentPrime) return DropReason::kMalformed;
      }
    } else if (!r.U32(&range.fingerprint)) {
      return r.error();
    }
    if (i > 0 && delta == 0) return DropReason::kMalformed;  // strictly increasing
    prefix += delta;
    if (prefix >= limit) return DropReason::kMalformed;
    out->ranges[i].prefix = static_cast<std::uint32_t>(prefix);
  }
  return Finish(r);
}

std::optional<DropReason> DecodeMailboxEntries(std::span<const std::uint8_t> body, const DecodeLimits& limits,
                                               MailboxEntries* out) {
  Reader r(body);
  std::uint64_t count = 0;
  out->records.clear();
  if (!ReadCount(r, kMinRecordBytes, &count)) return r.error();
  out->records.resize(static_cast<std::size_t>(count));
  for (Record& rec : out->records) {
    if (!ReadRecord(r, limits, &rec)) return r.error();
    if (rec.kind != static_cast<std::uint8_t>(EntryKind::kMailbox)) return DropReason::kMalformed;
  }
  return Finish(r);
}

std::size_t RelayedFrameBytes(std::size_t n) {
  std::size_t prefix = 1;
  for (std::size_t v = n; v >= 0x80; v >>= 7) ++prefix;
  return prefix + n;
}

void EncodeRelay(Writer& w, const std::vector<std::span<const std::uint8_t>>& frames) {
  w.Varint(frames.size());
  for (std::span<const std::uint8_t> f : frames) {
    w.Bytes(std::string_view(reinterpret_cast<const char*>(f.data()), f.size()));
  }
}

std::optional<DropReason> DecodeRelay(std::span<const std::uint8_t> body, const DecodeLimits& limits, Relay* out) {
  Reader r(body);
  std::uint64_t count = 0;
  out->frames.clear();
  if (!ReadCount(r, kFrameHeaderBytes + 1, &count)) return r.error();
  if (count == 0) return DropReason::kMalformed;
  out->frames.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string_view f;
    if (!r.Bytes(limits.max_frame_bytes, &f)) return r.error();
    if (f.size() < kFrameHeaderBytes) return DropReason::kTruncated;
    out->frames.emplace_back(reinterpret_cast<const std::uint8_t*>(f.data()), f.size());
  }
  return Finish(r);
}

}  // namespace pbxstate::codec
