// Range-digested repair of the mailbox set (engine/README.md, "Mailbox repair").
//
// Mailboxes are shared last-writer-wins entries: neither side of a difference can tell from a
// hash which of them is newer, so an exchange repairs both ways. It walks the tree of
// MailboxIndex from the root down, only into ranges whose fingerprints differ:
//   - kCompare ranges: where mine differs, I answer with my fingerprints of its children, or,
//     when I hold at most kLeafEntries there (or the range is the deepest), I send my entries of
//     it and the range again as kAfterEntries. Where the sender's fingerprint is that of an empty
//     range, my entries go without a question.
//   - kAfterEntries ranges: the sender's entries of them came first; where mine still differ after
//     merging them, mine are newer somewhere: I send them.
//   - From level kMailboxProbeMinLevel down, a differing kCompare range is answered with a probe
//     (the range's moments) rather than its children: where the sets differ at one position, the
//     receiver of the probe recovers it and sends its entries there (or asks for the sender's),
//     without walking down to it. Where differences are dense (ProbeMode), the probe carries four
//     moments and places two positions.
//   - A MAILBOX_ENTRIES record older than mine is answered with mine.
//   - Where a unicast reaches every node, MAILBOX_ENTRIES addressed to another node are applied
//     here too, answering nothing (ApplyOverheard).
// An exchange keeps no state: every frame is answered from the store as it is then, so writes
// during an exchange are fine (a range that changed meanwhile differs and is walked or sent);
// a lost frame leaves a difference that the next digest round finds again, or, with anti-entropy
// off, the opener's repeat of the exchange (MailboxRepairRepeat).
#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "engine_impl.h"
#include "pbxstate/check.h"
#include "pbxstate/random.h"

namespace pbxstate {

namespace {

// A range with at most this many of my entries is sent rather than split: two entries cost
// about what the children's fingerprints would.
constexpr std::uint32_t kLeafEntries = 1;

// With anti-entropy off (MailboxRepairRepeat): an exchange this node opened is opened again until
// this many openings in a row got no answer, at most kMailboxRepairMaxRepeats times. Three: an
// opening whose answer is lost at 20% loss stays unanswered three times in 125, and the next
// join or heal is the only other repair. The total bound ends repeats between two nodes that
// never agree (one at max_entries refuses the other's new mailboxes): each costs a walk.
constexpr std::uint32_t kMailboxRepairSilentRepeats = 3;
constexpr std::uint32_t kMailboxRepairMaxRepeats = 32;

// 32 bits of a range's 64-bit hash, mixed with the exchange's salt (multiply-shift: for two
// different hashes, a new salt collides with probability about 2^-31), so that a collision
// that hid a difference in one exchange does not hide it in the next. An empty range is 0.
std::uint32_t Fingerprint(std::uint64_t hash, std::uint64_t salt) {
  return static_cast<std::uint32_t>((hash * (salt | 1)) >> 32);
}

// The probes for `differing` of the `compared` ranges of one frame of `level`. Below the first
// probe level a range is compared only because a probe of its parent found several differences,
// so two in one child are likely. At the first, the share that differs tells how dense they are:
// with about one per range (more than half of them differing), a quarter of the ranges hold two
// or more, which a probe of two moments cannot place and whose walk down goes one level per two
// trips (a heal of 1,000 changes among 100,000 mailboxes went down to level 9); four moments
// place two. Where they are sparse, the 12 more bytes a probe seldom save a level.
codec::RangesMode ProbeMode(std::uint32_t level, std::size_t differing, std::size_t compared) {
  const bool dense = level > codec::kMailboxProbeMinLevel || 2 * differing > compared;
  return dense ? codec::RangesMode::kPairProbe : codec::RangesMode::kProbe;
}

}  // namespace

bool EngineImpl::MailboxRepairBusy(MonoTime now) const {
  return mailbox_repair_last_ && now < *mailbox_repair_last_ + MailboxRepairQuiet();
}

namespace {

// How long after the last repair frame this node holds an opening of its own: quiet for
// MailboxRepairQuiet, or, where the ring's trips were seen longer (overheard exchanges), for two
// of them: an exchange's next frame comes one trip after the last one an overhearer saw, and a
// round trip (two) after the last one of this node's own exchange. Without it, gaps of 50 to
// 90 ms inside one exchange on emu's loaded ring let six other exchanges open beside it at a
// heal, walking the ranges it had not yet repaired (sim/emu/README.md, "mailbox-heal-100k on
// real corosync"). Where nothing is overheard `trip` stays 0: the quiet interval as before.
Duration OpeningHold(Duration quiet, const MailboxOverhearing& o) { return std::max(quiet, 2 * o.trip); }

}  // namespace

std::optional<MonoTime> EngineImpl::MailboxRepairOpensAt() const {
  std::optional<MonoTime> at;
  const auto later = [&at](std::optional<MonoTime> t) {
    if (t && (!at || *t > *at)) at = t;
  };
  const Duration hold = OpeningHold(MailboxRepairQuiet(), mailbox_overhearing_);
  if (mailbox_repair_last_) later(*mailbox_repair_last_ + hold);
  if (mailbox_overhearing_.last) later(*mailbox_overhearing_.last + hold);
  later(mailbox_overhearing_.held_until);
  return at;
}

bool EngineImpl::MailboxRepairMayOpen(MonoTime now) const {
  const std::optional<MonoTime> at = MailboxRepairOpensAt();
  return !at || now >= *at;
}

void EngineImpl::StaggerMailboxRepair(MonoTime now) {
  // At a merge every node hears differing digests from every node of the other side at once; all
  // opening at once, their walks ran side by side over the same ranges before any entries were
  // overheard. Held by rank, the lowest id's exchange goes first and the others, hearing it, wait
  // until it is quiet; their own openings then mostly find equal roots.
  mailbox_overhearing_.stagger_due = false;
  mailbox_overhearing_.trip = Duration::zero();  // this heal's ring, measured again
  std::int64_t rank = 0;
  for (const auto& [node, p] : peers_) rank += p.live && node < config_.node_id ? 1 : 0;
  if (rank > 0) mailbox_overhearing_.held_until = now + rank * MailboxRepairQuiet();
}

void EngineImpl::StartMailboxRepair(NodeId peer) {
  const MonoTime now = env_->Now();
  if (mailbox_overhearing_.delivered && mailbox_overhearing_.stagger_due) StaggerMailboxRepair(now);
  if (!MailboxRepairMayOpen(now)) {
    // One exchange at a time: at a heal every node hears from many peers whose sets differ the
    // same way, and an exchange with each would bring the same entries many times.
    DeferMailboxRepair(peer, std::nullopt);
    return;
  }
  // The salt only has to differ from one exchange to the next; drawing it from Env::Random would
  // shift every later jitter and donor pick of this node (its anti-entropy rounds, its pulls), so
  // a mailbox repair would change when owned entries are repaired.
  const std::uint64_t salt = SplitMix64::Derive(
      (static_cast<std::uint64_t>(config_.node_id) << 32) ^ config_.incarnation,
      ++mailbox_repair_opened_count_);
  mailbox_repair_opened_ = std::make_pair(peer, now);
  mailbox_repair_partner_ = peer;
  if (config_.anti_entropy_interval == Duration::zero()) {
    if (mailbox_repair_repeats_.peer != peer) mailbox_repair_repeats_ = {peer, false, 0, 0};
    mailbox_repair_repeats_.answered = false;
  }
  SendMailboxRanges(peer, codec::RangesMode::kCompare, 0, salt,
                    {{0, Fingerprint(mailbox_index_.Stats(0, 0).hash, salt)}});
  ArmSyncTick();  // the next waiting peer, once this exchange is quiet
}

void EngineImpl::DeferMailboxRepair(NodeId peer, std::optional<codec::MailboxRanges> opening) {
  // Only openings wait (level 0: one range, as the codec admits), so a waiter's size is bounded.
  PBXSTATE_CHECK(!opening || (opening->level == 0 && opening->mode == codec::RangesMode::kCompare));
  auto it = std::find_if(mailbox_repair_waiting_.begin(), mailbox_repair_waiting_.end(),
                         [&](const MailboxRepairWaiter& w) { return w.peer == peer; });
  if (it != mailbox_repair_waiting_.end()) {
    if (opening) {  // the peer's latest opening is the one it waits on
      it->opening = std::move(opening);
      it->opening_arrived = env_->Now();
    }
  } else if (mailbox_repair_waiting_.size() < config_.max_nodes) {
    mailbox_repair_waiting_.push_back({peer, std::move(opening), env_->Now()});
  }
  ArmSyncTick();
}

void EngineImpl::MailboxRepairAnswered(NodeId peer) {
  std::erase_if(mailbox_repair_waiting_, [peer](const MailboxRepairWaiter& w) { return w.peer == peer; });
  mailbox_repair_crossed_ = kNoNode;
}

void EngineImpl::NoteMailboxRepairAnswer(NodeId peer) {
  if (peer == mailbox_repair_repeats_.peer) mailbox_repair_repeats_.answered = true;
}

void EngineImpl::MailboxRepairRepeat() {
  MailboxRepairRepeats& r = mailbox_repair_repeats_;
  if (r.peer == kNoNode) return;
  r.silent = r.answered ? 0 : r.silent + 1;
  r.answered = false;
  if (!IsLive(r.peer) || r.silent >= kMailboxRepairSilentRepeats || r.repeats >= kMailboxRepairMaxRepeats) {
    r = {};
    return;
  }
  ++r.repeats;
  DeferMailboxRepair(r.peer, std::nullopt);  // behind the peers already waiting
}

void EngineImpl::MailboxRepairTick(MonoTime now) {
  MailboxRepairStartWaiting(now);
  // The exchange this node opened last is over (quiet, nobody waiting): anything lost in it is
  // sent again by opening it again (with anti-entropy off no digest would find it). The repeat
  // either ends or queues the peer, which is then opened (busy again).
  while (mailbox_repair_repeats_.peer != kNoNode && MailboxRepairMayOpen(now)) {
    MailboxRepairRepeat();
    MailboxRepairStartWaiting(now);
  }
}

void EngineImpl::MailboxRepairStartWaiting(MonoTime now) {
  while (!mailbox_repair_waiting_.empty() && MailboxRepairMayOpen(now)) {
    MailboxRepairWaiter w = std::move(mailbox_repair_waiting_.front());
    mailbox_repair_waiting_.pop_front();
    if (w.peer == mailbox_repair_crossed_) mailbox_repair_crossed_ = kNoNode;
    if (!IsLive(w.peer)) continue;
    if (!w.opening || now >= w.opening_arrived + MailboxRepairQuiet()) {
      StartMailboxRepair(w.peer);
      continue;
    }
    // The peer opened while this node was busy and still waits on it: answer that opening now, so
    // the exchange is the peer's (its salt); nothing is sent when the roots are equal by now.
    mailbox_repair_partner_ = w.peer;
    AnswerMailboxRanges(w.peer, *w.opening);
  }
}

void EngineImpl::HandleMailboxRanges(NodeId from, const codec::MailboxRanges& m) {
  const MonoTime now = env_->Now();
  if (m.level == 0 && m.mode == codec::RangesMode::kCompare && mailbox_repair_opened_ &&
      mailbox_repair_opened_->first == from &&
      now < mailbox_repair_opened_->second + MailboxRepairQuiet() && config_.node_id < from) {
    // Crossed openings: the peer answers the one this node opened, unless it was busy with a
    // third node when that one arrived: then it refused it, remembered this node, and this is
    // its own opening from that queue. Both look alike here, so this node queues the peer until
    // its answer comes; without one, it opens again once quiet. Dropping it alone left the
    // difference until the next digest, which with anti-entropy off may never come (swarm
    // seed 5983).
    if (std::none_of(mailbox_repair_waiting_.begin(), mailbox_repair_waiting_.end(),
                     [from](const MailboxRepairWaiter& w) { return w.peer == from; })) {
      mailbox_repair_crossed_ = from;
      StartMailboxRepair(from);
    }
    return;
  }
  if (from == mailbox_repair_crossed_ && !(m.level == 0 && m.mode == codec::RangesMode::kCompare)) {
    MailboxRepairAnswered(from);
  }
  if (!(m.level == 0 && m.mode == codec::RangesMode::kCompare)) NoteMailboxRepairAnswer(from);
  if (m.level == 0 && m.mode == codec::RangesMode::kCompare) {
    if (MailboxRepairBusy(now) && mailbox_repair_partner_ != from) {
      // Busy with another peer: this node answers this opening once it is quiet. Answering both
      // at once would bring the entries they both differ in twice.
      DeferMailboxRepair(from, m);
      return;
    }
    mailbox_repair_partner_ = from;
    // An opening found equal here is over: nothing answers it, so it does not make this node
    // busy. At a merge, openings of the view before arrive late within each side, and the quiet
    // interval of each held this node's own openings across the sides. An answer sent does
    // (SendMailboxRanges, SendMailboxEntries).
    AnswerMailboxRanges(from, m);
    return;
  }
  mailbox_repair_last_ = now;
  AnswerMailboxRanges(from, m);
}

void EngineImpl::AnswerMailboxRanges(NodeId from, const codec::MailboxRanges& m) {
  std::vector<std::uint32_t> send_ids;
  std::vector<codec::MailboxRange> children, after, probes, ask_one;
  // Where this node holds more than one mailbox in a differing range: its children's
  // fingerprints, or, deep enough for one bucket, its moments (a probe: in the common case of
  // one differing position, one answer finds it where walking down to it takes several levels
  // of 4 fingerprints each).
  auto split = [&](const codec::MailboxRange& r) {
    if (m.level >= codec::kMailboxProbeMinLevel && codec::MailboxMoments(m.mode) == 0) {
      const MailboxIndex::Moments mo = mailbox_index_.RangeMoments(m.level, r.prefix);
      probes.push_back({r.prefix, 0, mo.s1, mo.s2, mo.s3, mo.s4});
      return;
    }
    for (std::uint32_t c = 0; c < codec::kMailboxFanout; ++c) {
      const std::uint32_t child = (r.prefix << codec::kMailboxBitsPerLevel) | c;
      children.push_back({child, Fingerprint(mailbox_index_.Stats(m.level + 1, child).hash, m.salt)});
    }
  };
  for (const codec::MailboxRange& r : m.ranges) {
    const MailboxIndex::RangeStats mine = mailbox_index_.Stats(m.level, r.prefix);
    const std::uint32_t fp = Fingerprint(mine.hash, m.salt);
    if (const std::size_t moments = codec::MailboxMoments(m.mode)) {
      MailboxIndex::Moments mo = mailbox_index_.RangeMoments(m.level, r.prefix);
      if (moments == 2) mo.s3 = mo.s4 = 0;  // kProbe: the sender's higher moments are 0 too
      if (mo.s1 == r.s1 && mo.s2 == r.s2 && mo.s3 == r.s3 && mo.s4 == r.s4) continue;  // equal
      const MailboxIndex::Moments theirs{r.s1, r.s2, r.s3, r.s4};
      std::vector<std::uint32_t> at;
      if (moments == 4) {
        at = MailboxIndex::Differences(m.level, r.prefix, mo, theirs);
      } else if (const auto p = MailboxIndex::OnlyDifference(m.level, r.prefix, mo, theirs)) {
        at.push_back(*p);
      }
      // One or two positions differ: send mine there (the sender answers it with its own where
      // that is newer: HandleMailboxEntries); with nothing of mine at one, ask for theirs (an
      // empty range's fingerprint, 0, is answered with entries at once).
      for (std::uint32_t p : at) {
        const std::size_t before = send_ids.size();
        mailbox_index_.Ids(codec::kMailboxMaxLevel, p, &send_ids);
        if (send_ids.size() == before) ask_one.push_back({p, 0});
      }
      if (!at.empty()) continue;
      if (mine.count <= kLeafEntries || m.level == codec::kMailboxMaxLevel) {
        mailbox_index_.Ids(m.level, r.prefix, &send_ids);
        after.push_back({r.prefix, fp});
        continue;
      }
      split(r);
      continue;
    }
    if (fp == r.fingerprint) continue;
    if (m.mode == codec::RangesMode::kAfterEntries || r.fingerprint == 0) {
      mailbox_index_.Ids(m.level, r.prefix, &send_ids);
      continue;
    }
    if (mine.count <= kLeafEntries || m.level == codec::kMailboxMaxLevel) {
      mailbox_index_.Ids(m.level, r.prefix, &send_ids);
      after.push_back({r.prefix, fp});
      continue;
    }
    split(r);
  }
  // Entries before the ranges that refer to them: on an ordered link they are merged by the time
  // the kAfterEntries ranges are compared.
  constexpr std::uint32_t kOne = codec::kMailboxMaxLevel;
  if (!send_ids.empty()) SendMailboxEntries(from, send_ids);
  if (!after.empty()) SendMailboxRanges(from, codec::RangesMode::kAfterEntries, m.level, m.salt, after);
  if (!ask_one.empty()) SendMailboxRanges(from, codec::RangesMode::kCompare, kOne, m.salt, ask_one);
  if (!children.empty()) SendMailboxRanges(from, codec::RangesMode::kCompare, m.level + 1, m.salt, children);
  if (!probes.empty()) SendMailboxRanges(from, ProbeMode(m.level, probes.size(), m.ranges.size()), m.level, m.salt, probes);
  ArmSyncTick();
}

void EngineImpl::HandleMailboxEntries(NodeId from, const codec::MailboxEntries& e) {
  mailbox_repair_last_ = env_->Now();
  if (from == mailbox_repair_crossed_) MailboxRepairAnswered(from);
  NoteMailboxRepairAnswer(from);
  // A record older than this node's value goes back answered with that value: the sender took
  // its side of a difference for the newer one (it could not tell), so without the answer the
  // difference would stay. Each answer carries a strictly newer value than the record it
  // answers, so answers to answers end.
  std::vector<std::uint32_t> newer, here;
  std::vector<std::string_view> differed;  // records applied, or older than this node's
  for (const codec::Record& rec : e.records) {
    if (ApplyMailbox(rec, ChangeCause::kRemote)) {
      MailboxMovedBy(from);
      RepairedFrom(from);
      differed.push_back(rec.key);
      continue;
    }
    const std::optional<std::uint32_t> id = mailboxes_.Find(rec.key);
    if (!id) continue;
    const std::optional<MailboxValue>& mine = mailboxes_[*id].value;
    if (mine && std::tie(mine->hlc, mine->writer) > std::tie(rec.hlc, rec.writer)) {
      newer.push_back(*id);
      differed.push_back(rec.key);
    }
  }
  // The same for this node's other names at the position of a record that differed: two names
  // at one position (positions are 32-bit hashes) make one difference for a probe, and its
  // answer carried only the names its sender holds. Only where a record differed, so two nodes
  // that hold the same names there stop (an equal record asks for nothing).
  std::unordered_set<std::string_view> received;
  for (const codec::Record& rec : e.records) received.insert(rec.key);
  for (std::string_view key : differed) {
    here.clear();
    mailbox_index_.Ids(codec::kMailboxMaxLevel, MailboxIndex::Position(key), &here);
    for (std::uint32_t id : here) {
      if (!received.contains(mailboxes_[id].name)) newer.push_back(id);
    }
  }
  std::sort(newer.begin(), newer.end());
  newer.erase(std::unique(newer.begin(), newer.end()), newer.end());
  if (!newer.empty()) SendMailboxEntries(from, newer);
  ArmSyncTick();
}

void EngineImpl::ApplyOverheard(NodeId from, codec::FrameType type) {
  // Where a unicast reaches every node (CPG), one exchange's entries repair every node that lacks
  // them, so the exchanges still walking elsewhere find their ranges equal and stop. Nothing is
  // answered: an older record is the addressee's to answer, and this node's part in exchanges
  // (busy, queued, crossed) is its own frames'; it only waits to open its own (MailboxRepairOpensAt).
  MailboxOverhearing& o = mailbox_overhearing_;
  const MonoTime now = env_->Now();
  // An opening is not an answer: a gap that ends at one is no trip of the ring. And before this
  // node's first differing digest after a view change (stagger_due), an overheard opening is of
  // the view before: at a merge on Corosync, openings that nodes of one side sent each other,
  // held during the membership change, reach every node 75 to 155 ms after the merged view.
  // Counted, they held the lowest id's first opening until 50 ms after the last of them, and
  // their gaps (openings of different nodes) were taken for trips of up to 90 ms, raising the
  // hold to 180 ms (sim/emu/README.md, "mailbox-heal-100k on real corosync", 2026-12-07: the
  // first exchange across the sides opened 411 ms after the views). Later openings still hold
  // this node's own (an opening is the first frame of an exchange that may run): ignoring them
  // all let exchanges open side by side on a slow ring (MiniNet, 40 ms a trip: 622 repair frames
  // and 239,991 B against 510 and 163,426 B). Only within join_digest_holdoff + sync_retransmit
  // of the view change, when the held frames of the view before come: stagger_due alone stays
  // set at a node whose sets were equal at the merge (no differing digest clears it), which then
  // ignored every opening until the next view change and opened its own beside them
  // (MailboxOverhear.OpeningsLongAfterAViewChangeHoldThisNodesOwn).
  const bool opening = type == codec::FrameType::kMailboxRanges && ranges_buf_.level == 0 &&
                       ranges_buf_.mode == codec::RangesMode::kCompare;
  const bool of_the_view_before =
      o.stagger_due && o.view_changed && now - *o.view_changed < config_.join_digest_holdoff + config_.sync_retransmit;
  if (opening && of_the_view_before) return;
  // A frame from another sender than the last one, while an exchange counts as running (within
  // the opening hold): the gap was one trip of the ring, the answer's. Longer gaps are an
  // exchange over, or a lost frame; at most sync_retransmit (no exchange frame is resent).
  if (!opening && o.last && o.last_from != from && now - *o.last < OpeningHold(MailboxRepairQuiet(), o)) {
    o.trip = std::max(o.trip, std::min<Duration>(now - *o.last, config_.sync_retransmit));
  }
  o.last = now;
  o.last_from = from;
  if (type != codec::FrameType::kMailboxEntries) return;  // ranges: compared against the addressee's set
  for (const codec::Record& rec : mailbox_entries_buf_.records) {
    if (const std::optional<std::uint32_t> id = mailboxes_.Find(rec.key)) {
      const std::optional<MailboxValue>& mine = mailboxes_[*id].value;
      if (mine && std::tie(mine->hlc, mine->writer) >= std::tie(rec.hlc, rec.writer)) continue;
    }
    if (ApplyMailbox(rec, ChangeCause::kRemote)) {
      MailboxMovedBy(from);  // records from `from` changing this node's set, as if sent here
      RepairedFrom(from);
    }
  }
}

void EngineImpl::SendMailboxRanges(NodeId to, codec::RangesMode mode, std::uint32_t level, std::uint64_t salt,
                                   const std::vector<codec::MailboxRange>& ranges) {
  PBXSTATE_CHECK_LE(level, codec::kMailboxMaxLevel);
  mailbox_repair_last_ = env_->Now();
  const std::size_t per_frame = (MaxPlainFrameBytes() - codec::kFrameHeaderBytes - codec::kMailboxRangesPrefixMaxBytes) /
                                codec::MailboxRangeMaxBytes(mode);
  PBXSTATE_CHECK_GT(per_frame, 0u);
  codec::MailboxRanges m;
  m.mode = mode;
  m.level = static_cast<std::uint8_t>(level);
  m.salt = salt;
  for (std::size_t i = 0; i < ranges.size(); i += per_frame) {
    const std::size_t j = std::min(ranges.size(), i + per_frame);
    m.ranges.assign(ranges.begin() + static_cast<std::ptrdiff_t>(i), ranges.begin() + static_cast<std::ptrdiff_t>(j));
    codec::BeginFrame(&frame_buf_, codec::FrameType::kMailboxRanges, config_.node_id, config_.incarnation);
    codec::Writer w(&frame_buf_);
    codec::EncodeMailboxRanges(w, m);
    codec::EndFrame(&frame_buf_);
    PBXSTATE_CHECK_LE(frame_buf_.size(), MaxPlainFrameBytes());
    Send(to, frame_buf_);
  }
}

void EngineImpl::SendMailboxEntries(NodeId to, const std::vector<std::uint32_t>& ids) {
  mailbox_repair_last_ = env_->Now();
  const std::size_t budget = MaxPlainFrameBytes() - codec::kFrameHeaderBytes - codec::kMailboxEntriesPrefixMaxBytes;
  std::vector<codec::Record> records;
  std::size_t bytes = 0;
  auto flush = [&] {
    codec::BeginFrame(&frame_buf_, codec::FrameType::kMailboxEntries, config_.node_id, config_.incarnation);
    codec::Writer w(&frame_buf_);
    codec::EncodeMailboxEntriesPrefix(w, static_cast<std::uint32_t>(records.size()));
    for (const codec::Record& rec : records) codec::EncodeRecord(w, rec);
    codec::EndFrame(&frame_buf_);
    PBXSTATE_CHECK_LE(frame_buf_.size(), MaxPlainFrameBytes());
    Send(to, frame_buf_);
    records.clear();
    bytes = 0;
  };
  for (std::uint32_t id : ids) {
    if (!mailboxes_[id].value) continue;
    codec::Record rec = MailboxRecordFor(id);
    const std::size_t n = codec::EncodedRecordBytes(rec);
    PBXSTATE_CHECK_LE(n, budget);  // max_frame_bytes holds a record of max_key_bytes (Validate)
    if (bytes + n > budget) flush();
    bytes += n;
    records.push_back(rec);
  }
  if (!records.empty()) flush();
}

}  // namespace pbxstate
