// The wire format. Every frame:
//
//   magic "PX" (2) | version (1) | type (1) | sender node (u32 LE) | sender incarnation (u64 LE)
//   | body length (u32 LE) | body
//
// An authenticated frame (version 2, sent when cluster keys are configured) carries three more
// header fields and a MAC (frame_auth.h computes it over every byte before it):
//
//   magic "PX" | version 2 | type | sender | incarnation | body length | key id (1)
//   | destination node (u32 LE, 0: broadcast) | frame counter (u64 LE, >= 1) | body | MAC (16)
//
// Bodies use LEB128 varints for integers and varint-length-prefixed byte strings. A decoder
// never trusts a length: each is checked against the bytes left and against a bound before use,
// and a frame decodes completely (into views of its own bytes) before anything in it is applied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "pbxstate/stats.h"
#include "pbxstate/types.h"

namespace pbxstate::codec {

inline constexpr std::uint8_t kMagic0 = 'P';
inline constexpr std::uint8_t kMagic1 = 'X';
inline constexpr std::uint8_t kVersion = 1;               // unauthenticated frames
inline constexpr std::uint8_t kVersionAuthenticated = 2;  // frames with a MAC
inline constexpr std::size_t kFrameHeaderBytes = 20;
inline constexpr std::size_t kAuthHeaderBytes = kFrameHeaderBytes + 1 + 4 + 8;
inline constexpr std::size_t kMacBytes = 16;
// What authentication adds to a frame: the larger header and the MAC.
inline constexpr std::size_t kAuthOverheadBytes = kAuthHeaderBytes - kFrameHeaderBytes + kMacBytes;
inline constexpr std::size_t kMinFrameBytes = 256;
inline constexpr std::size_t kMaxFrameBytes = 1u << 20;
inline constexpr std::size_t kMaxKeyBytes = 1024;
inline constexpr std::size_t kMaxContactBytes = 2048;
inline constexpr std::size_t kMaxLabelBytes = 64;
inline constexpr std::size_t kMaxNodes = 4096;
// Records and digest entries in one frame; far above what kMaxFrameBytes can hold of real ones,
// it bounds what a hostile count could make a decoder reserve.
inline constexpr std::size_t kMaxItemsPerFrame = kMaxFrameBytes / 4;
// The reserved origin of a catch-up session over the mailbox set.
inline constexpr NodeId kMailboxOrigin = 0xFFFFFFFFu;

enum class FrameType : std::uint8_t {
  kUpdates = 1,
  kHeartbeat = 2,
  kSummary = 3,
  kDigest = 4,
  kSyncRequest = 5,
  kSyncPage = 6,
  kSyncAck = 7,
  kSyncRefuse = 8,
  kMailboxRanges = 9,
  kMailboxEntries = 10,
  kRelay = 11,
};

struct FrameHeader {
  FrameType type;
  NodeId sender;
  std::uint64_t incarnation;
  // Authenticated frames (version kVersionAuthenticated) only; views point into the frame.
  bool authenticated = false;
  std::uint8_t key_id = 0;
  NodeId to = kNoNode;                       // kNoNode: a broadcast
  std::uint64_t counter = 0;                 // the sender's frame counter in this incarnation
  std::span<const std::uint8_t> signed_bytes;  // every byte the MAC covers (all but the MAC)
  std::span<const std::uint8_t> mac;           // kMacBytes
};

// One entry as carried in UPDATES and SYNC_PAGE frames.
struct Record {
  std::uint8_t kind;  // EntryKind
  std::string_view key;
  std::uint64_t seq = 0;  // device, registration
  // device, registration: the owner removed the entry; mailbox: a removal, a write without
  // counts that wins by (hlc, writer) like any other
  bool removed = false;
  // device (kUnknown when removed)
  DeviceState state = DeviceState::kUnknown;
  // registration
  ContactStatus status = ContactStatus::kReachable;
  std::int64_t expires_ns = 0;
  std::int64_t horizon_ns = 0;  // latest expiry its owner ever gave this key in this incarnation
  std::uint32_t rtt_us = 0;
  std::string_view contact;     // names the entry with `key` (the AOR): never empty, removed too
  std::string_view path;        // empty when removed
  std::string_view user_agent;  // empty when removed
  // mailbox (counts all 0 when removed)
  MailboxCounts counts;
  HlcTimestamp hlc;
  NodeId writer = kNoNode;
};

// The upper bound of one encoded record, for frame planning.
std::size_t MaxRecordBytes(std::size_t key_bytes, std::size_t contact_bytes);
// Bytes before the records in an UPDATES body (two seqs and a count, at their widest).
inline constexpr std::size_t kUpdatesPrefixMaxBytes = 30;
// Pullers one SYNC_PAGE can address (a donor's shared stream, engine/README.md "Catch-up
// sessions"): a stream takes no more members.
inline constexpr std::size_t kMaxSyncPageAddressees = 8;
// Bytes before the records in a SYNC_PAGE body addressed to `addressees` pullers (1 to
// kMaxSyncPageAddressees), at their widest: 60 for a plain page, 17 more per further puller.
constexpr std::size_t SyncPagePrefixMaxBytes(std::size_t addressees) { return 60 + 17 * (addressees - 1); }
std::size_t EncodedRecordBytes(const Record& r);

struct Updates {
  std::uint64_t from_seq = 0, to_seq = 0;  // the sender's changes in (from, to] are covered
  std::vector<Record> records;
};

// How long ago a site's speaker last heard one of its site-mates (engine/README.md, "Sites and
// relays", "Liveness across the WAN").
struct SiteMateHeard {
  NodeId node = kNoNode;
  std::uint32_t age_ms = 0;
};
// A site-mate in a HEARTBEAT at its widest: the node and the age as varints.
inline constexpr std::size_t kSiteMateHeardMaxBytes = 5 + 5;

// HEARTBEAT body: the summary, the label, and, only in a site speaker's heartbeat, a varint count
// (at most kMaxNodes) and that many (node, age in ms) varint pairs. An engine from before speakers
// refuses a heartbeat that carries them (trailing bytes are malformed).
struct Heartbeat {
  std::uint64_t summary = 0;
  std::string_view label;
  std::vector<SiteMateHeard> site_mates;  // empty: none (and nothing on the wire)
};

struct Summary {
  std::uint64_t summary = 0;
};

struct DigestEntry {
  NodeId origin;
  std::uint64_t incarnation;
  std::uint64_t watermark;
  std::uint64_t hash;
};

// How a digest's receiver treats it.
enum class DigestMode : std::uint8_t {
  kOffer = 0,  // an anti-entropy answer: pull what the sender has, answer once if it lacks something
  kReply = 1,  // the answer to an offer: pull only, never answer
  kJoin = 2,   // sent to a newly joined node: pull only, never answer
};

struct Digest {
  DigestMode mode = DigestMode::kOffer;
  std::uint64_t mailbox_hash = 0;
  NodeId lo = 0, hi = 0;  // origins in [lo, hi] that the sender holds are all listed
  std::vector<DigestEntry> entries;  // sorted by origin
};

struct SyncRequest {
  std::uint32_t session;
  NodeId origin;
  std::uint64_t incarnation;
  std::uint64_t since;
};

// One puller a SYNC_PAGE is for: its session, the page's number in that session, and whether it
// is that session's last page. `node` is kNoNode in a plain page: its receiver.
struct SyncPageAddressee {
  NodeId node = kNoNode;
  std::uint32_t session = 0;
  std::uint32_t page = 0;
  bool last = false;
};

// A plain page has one addressee (node kNoNode), on the wire as before shared streams; a shared
// page (flag kPageShared) names every addressee, at most kMaxSyncPageAddressees, each node once.
struct SyncPage {
  std::vector<SyncPageAddressee> to;
  NodeId origin;
  std::uint64_t incarnation;
  std::uint64_t donor_watermark;
  std::vector<Record> records;
};

struct SyncAck {
  std::uint32_t session;
  std::uint32_t next_page;  // every page below this one arrived
};

enum class RefuseReason : std::uint8_t { kBusy = 0, kNotHeld = 1, kStale = 2 };

struct SyncRefuse {
  std::uint32_t session;
  RefuseReason reason;
};

// Mailbox repair (engine/README.md, "Mailbox repair"). The mailbox set is a tree over the top
// bits of each name's 32-bit position hash: a range at level L (0..kMailboxMaxLevel) is the
// names whose position starts with the 2L-bit prefix; level 0 is the whole set, and every range
// splits into kMailboxFanout children at the next level.
inline constexpr std::uint32_t kMailboxBitsPerLevel = 2;
inline constexpr std::uint32_t kMailboxFanout = 1u << kMailboxBitsPerLevel;
inline constexpr std::uint32_t kMailboxMaxLevel = 32 / kMailboxBitsPerLevel;

// How the receiver of a MAILBOX_RANGES frame treats its ranges.
enum class RangesMode : std::uint8_t {
  // Compare each range with yours; where it differs, answer with your fingerprints of its
  // children, or (a small or deepest range) send your entries of it and answer kAfterEntries.
  kCompare = 0,
  // The sender sent you its entries of these ranges first: merge them, and where yours still
  // differ from these fingerprints, send your entries of the range. Never answered with ranges.
  kAfterEntries = 1,
  // Each range carries the sender's moments of it instead of a fingerprint (level at least
  // kMailboxProbeMinLevel): where they and yours differ in exactly one position, that position
  // is recovered from the difference and only it is repaired; else the walk goes on as for
  // kCompare.
  kProbe = 2,
  // As kProbe with four moments (s1 to s4): where they and yours differ in one or two positions,
  // those are recovered and only they are repaired; else the walk goes on as for kCompare.
  kPairProbe = 3,
};

// The moments of a range (kProbe): over its entries, with h an entry's hash reduced modulo
// kMailboxMomentPrime and p its position, s1 = sum of h and s2 = sum of h * p, modulo the prime.
// Two sets that differ in the entries of one position p differ by d1 and d1 * p. 48 bits (the
// largest prime below 2^48), sent in kMailboxMomentBytes each: above the 32 bits of a position,
// so that a quotient of several differences seldom passes for one (MailboxIndex::OnlyDifference).
// kPairProbe adds s3 = sum of h * p^2 and s4 = sum of h * p^3: two differing positions are the
// roots of a quadratic whose coefficients the four differences give (MailboxIndex::Differences).
inline constexpr std::uint64_t kMailboxMomentPrime = (std::uint64_t{1} << 48) - 59;
inline constexpr std::size_t kMailboxMomentBytes = 6;
// How many moments a range of `mode` carries (0: a fingerprint instead).
constexpr std::size_t MailboxMoments(RangesMode mode) {
  return mode == RangesMode::kProbe ? 2 : mode == RangesMode::kPairProbe ? 4 : 0;
}
// Probes are answered from one bucket of the index (engine: MailboxIndex::kBucketLevel).
inline constexpr std::uint32_t kMailboxProbeMinLevel = 5;

struct MailboxRange {
  std::uint32_t prefix = 0;       // < kMailboxFanout^level
  std::uint32_t fingerprint = 0;  // the sender's, under the frame's salt (kCompare, kAfterEntries)
  std::uint64_t s1 = 0, s2 = 0;   // the sender's moments (kProbe), each < kMailboxMomentPrime
  std::uint64_t s3 = 0, s4 = 0;   // ... and its higher ones (kPairProbe)
};

// MAILBOX_RANGES: ranges of one level, sorted by prefix, each with the sender's fingerprint.
struct MailboxRanges {
  RangesMode mode = RangesMode::kCompare;
  std::uint8_t level = 0;
  std::uint64_t salt = 0;  // chosen by whoever opened the exchange, echoed in every answer
  std::vector<MailboxRange> ranges;
};
// Bytes before the ranges (mode, level, salt, count at its widest), and per range at its widest
// (prefix delta varint, fingerprint; for probes, their moments).
inline constexpr std::size_t kMailboxRangesPrefixMaxBytes = 1 + 1 + 8 + 5;
inline constexpr std::size_t kMailboxRangeMaxBytes = 5 + 4;
constexpr std::size_t MailboxRangeMaxBytes(RangesMode mode) {
  return MailboxMoments(mode) == 0 ? kMailboxRangeMaxBytes : 5 + MailboxMoments(mode) * kMailboxMomentBytes;
}

// MAILBOX_ENTRIES: mailbox records the receiver may lack.
struct MailboxEntries {
  std::vector<Record> records;
};
inline constexpr std::size_t kMailboxEntriesPrefixMaxBytes = 5;

// RELAY: frames of other nodes (or of the relay itself) that a relay passes on inside its site
// (engine/README.md, "Sites and relays"), each exactly as its sender sealed it. Body: a varint
// count, then each frame as varint-length-prefixed bytes. Only UPDATES and HEARTBEAT frames are
// carried, never a RELAY frame.
struct Relay {
  std::vector<std::span<const std::uint8_t>> frames;
};
// What a RELAY frame adds around one carried frame: its own (unauthenticated) header, the count
// and one length at their widest. Frames that may be relayed are planned this much smaller.
inline constexpr std::size_t kRelayOverheadBytes = kFrameHeaderBytes + 5 + 5;
// Bytes a carried frame of `n` bytes takes in a RELAY body (its length prefix and itself).
std::size_t RelayedFrameBytes(std::size_t n);

// Appends to a caller-owned buffer.
class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>* out) : out_(out) {}
  void U8(std::uint8_t v) { out_->push_back(v); }
  void U32(std::uint32_t v);
  void U64(std::uint64_t v);
  void Varint(std::uint64_t v);
  void Bytes(std::string_view s);  // varint length, then the bytes
  std::size_t size() const { return out_->size(); }

 private:
  std::vector<std::uint8_t>* out_;
};

// Reads from borrowed bytes. After the first failure every read fails and error() says why.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool U8(std::uint8_t* v);
  bool U32(std::uint32_t* v);
  bool U64(std::uint64_t* v);
  bool Varint(std::uint64_t* v);
  bool VarintBounded(std::uint64_t max, std::uint64_t* v);  // kMalformed above max
  bool Bytes(std::size_t max_len, std::string_view* s);       // kOversize above max_len
  bool Fail(DropReason why) {
    if (!error_) error_ = why;
    return false;
  }
  std::size_t remaining() const { return in_.size() - pos_; }
  bool ok() const { return !error_.has_value(); }
  std::optional<DropReason> error() const { return error_; }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  std::optional<DropReason> error_;
};

// Limits a decoder applies to what a peer sends. They come from the receiver's EngineConfig.
struct DecodeLimits {
  std::size_t max_frame_bytes;
  std::size_t max_key_bytes;
  std::size_t max_contact_bytes;
};

// Starts a frame in `out` (cleared first) and returns the offset of its body.
std::size_t BeginFrame(std::vector<std::uint8_t>* out, FrameType type, NodeId sender, std::uint64_t incarnation);
// Writes the body length into the header once the body is complete.
void EndFrame(std::vector<std::uint8_t>* out);
// Writes into `out` (cleared first) the authenticated form of the complete unauthenticated frame
// `plain` (from BeginFrame/EndFrame): version 2, the extra header fields, the same body, and
// kMacBytes of zeros for the caller to overwrite with the MAC (frame_auth.h). `counter` >= 1.
void WriteAuthenticatedFrame(std::span<const std::uint8_t> plain, std::uint8_t key_id, NodeId to,
                             std::uint64_t counter, std::vector<std::uint8_t>* out);

void EncodeRecord(Writer& w, const Record& r);
void EncodeUpdatesPrefix(Writer& w, std::uint64_t from_seq, std::uint64_t to_seq, std::uint32_t count);
void EncodeHeartbeat(Writer& w, const Heartbeat& hb);
void EncodeSummary(Writer& w, const Summary& s);
void EncodeDigest(Writer& w, const Digest& d);
void EncodeSyncRequest(Writer& w, const SyncRequest& r);
void EncodeSyncPagePrefix(Writer& w, const SyncPage& p, std::uint32_t count);
void EncodeSyncAck(Writer& w, const SyncAck& a);
void EncodeSyncRefuse(Writer& w, const SyncRefuse& r);
void EncodeMailboxRanges(Writer& w, const MailboxRanges& m);
void EncodeMailboxEntriesPrefix(Writer& w, std::uint32_t count);
void EncodeRelay(Writer& w, const std::vector<std::span<const std::uint8_t>>& frames);

// Bytes per digest entry at their widest (for paging digests).
inline constexpr std::size_t kDigestEntryMaxBytes = 5 + 10 + 10 + 8;
inline constexpr std::size_t kDigestPrefixMaxBytes = 1 + 8 + 5 + 5 + 5;

// Parses and checks the header of an unauthenticated or an authenticated frame (the MAC is not
// checked here: see frame_auth.h); on success `body` views the body bytes.
std::optional<DropReason> DecodeHeader(std::span<const std::uint8_t> frame, const DecodeLimits& limits,
                                       FrameHeader* header, std::span<const std::uint8_t>* body);

// Each decoder consumes the whole body or fails; trailing bytes are kMalformed. Output views
// point into `body`.
std::optional<DropReason> DecodeUpdates(std::span<const std::uint8_t> body, const DecodeLimits& limits, Updates* out);
std::optional<DropReason> DecodeHeartbeat(std::span<const std::uint8_t> body, Heartbeat* out);
std::optional<DropReason> DecodeSummary(std::span<const std::uint8_t> body, Summary* out);
std::optional<DropReason> DecodeDigest(std::span<const std::uint8_t> body, Digest* out);
std::optional<DropReason> DecodeSyncRequest(std::span<const std::uint8_t> body, SyncRequest* out);
std::optional<DropReason> DecodeSyncPage(std::span<const std::uint8_t> body, const DecodeLimits& limits, SyncPage* out);
std::optional<DropReason> DecodeSyncAck(std::span<const std::uint8_t> body, SyncAck* out);
std::optional<DropReason> DecodeSyncRefuse(std::span<const std::uint8_t> body, SyncRefuse* out);
// Refuses a level above kMailboxMaxLevel, an unknown mode, a probe above kMailboxProbeMinLevel or
// with a moment not below kMailboxMomentPrime, a prefix outside its level, prefixes not strictly
// increasing (so at most kMailboxFanout^level ranges), and a non-mailbox record.
std::optional<DropReason> DecodeMailboxRanges(std::span<const std::uint8_t> body, MailboxRanges* out);
std::optional<DropReason> DecodeMailboxEntries(std::span<const std::uint8_t> body, const DecodeLimits& limits,
                                               MailboxEntries* out);
// Refuses an empty RELAY, a carried frame shorter than a frame header or longer than
// max_frame_bytes; the carried frames themselves are decoded (and refused) one by one after.
std::optional<DropReason> DecodeRelay(std::span<const std::uint8_t> body, const DecodeLimits& limits, Relay* out);

}  // namespace pbxstate::codec
