// The state of catch-up sessions (engine_sync.cc; engine/README.md, "Catch-up"): what a node
// lacks of an origin and who offered it (Want), a pull it runs from a donor (PullSession), and a
// serve it runs for a puller (ServeSession, with its pages in flight and TCP-like congestion
// control).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "codec.h"
#include "pbxstate/engine.h"

namespace pbxstate {

// Finished sessions remembered per puller (Peer::served_sessions). A late copy of a request
// comes within a few round trips of its session's end; a puller finishes far fewer sessions with
// one donor in that time.
inline constexpr std::size_t kServedSessionMemory = 16;
// Donors kept per wanted owned origin (a mailbox want keeps up to max_nodes).
inline constexpr std::size_t kMaxWantDonors = 4;

// A live donor whose pulls of an origin timed out without a page, in a row (AbandonSlowPull):
// it is asked again after a pause that doubles at each such timeout, from sync_retransmit up to
// EngineImpl::SilentDonorPauseBound(), and starts again from sync_retransmit once a pull from it
// brings a page or the members change (engine/README.md, "Catch-up sessions").
struct SilentDonor {
  NodeId donor = kNoNode;
  Duration pause{};                // the pause before it was last asked again; {}: none yet
  std::uint64_t members_seen = 0;  // EngineStats::membership_changes then (it counts every change)
};

// An origin this node lacks something of, and who offered it.
struct Want {
  std::uint64_t incarnation = 0;
  std::uint64_t target = 0;    // the greatest watermark a donor advertised
  bool full = false;           // same watermark, different content: pull everything
  std::uint64_t full_at = 0;   // this node's watermark when that was seen (full only)
  std::vector<NodeId> donors;  // best first; kMaxWantDonors for owned origins
  MonoTime not_before{};       // after a busy donor refused, or a silent one timed out: wait before asking again
  SilentDonor silent;          // the last donor whose pull of it timed out without a page
  // Set when only nodes of other sites offered it to a node that does not act for its site: the
  // site's speaker fetches across the WAN for the whole site and offers it to its site-mates,
  // so a pull across the WAN starts only if no site-mate offered it by then (WaitsForSiteMate).
  MonoTime far_after{};
};

struct PullSession {
  std::uint32_t id;
  NodeId donor;
  NodeId origin;
  std::uint64_t incarnation;
  std::uint64_t since;
  std::uint32_t next_page = 0;
  MonoTime last_progress{};
  MonoTime last_request{};  // the SYNC_REQUEST is sent again every sync_retransmit until a page comes
  std::uint64_t target = 0;
  bool full = false;
  std::uint64_t full_at = 0;  // as Want::full_at
  std::vector<NodeId> other_donors;  // where to go when this donor fails
  SilentDonor silent;                // the want's, until a page comes: then none
  // Asked a donor whose shared stream of the origin this node overheard (OverheardStream): it
  // joins that stream, which costs the donor no slot and the ring no frame, so it takes no pull
  // slot either; such pulls count apart, up to max_sync_pulls of them.
  bool follows = false;
  // Where a unicast reaches every node: the acknowledgement held until the frames delivered with
  // the page it answers are read (EngineImpl::HoldAck), as the next page wanted; 0: none held.
  std::uint32_t held_ack = 0;
  // Pages that came past a gap (next_page not yet come), applied as they came and skipped once the
  // gap fills: acknowledgements stay cumulative, and the donor's go-back-N resends them, but under
  // heavy loss the page that ends a session often comes only once, before the one missing (swarm
  // seed 17796). At most sync_window_pages - 1 of them, each within the window past next_page.
  std::set<std::uint32_t> ahead;
  std::optional<std::uint64_t> last_ahead_watermark;  // the last page was among them: its donor_watermark
};

// A shared stream of an origin that this node overheard (a SYNC_PAGE naming other pullers only,
// which reaches every node where a unicast does: CPG). A node that wants the same origin asks
// that donor, whose stream it joins, rather than open a second stream at another donor (at a heal
// the owner, ranked first, offered it by the time a later want starts: engine/README.md,
// "Catch-up sessions", "Following a stream"). Kept per origin, the latest page; forgotten at the
// stream's last page, and stale after sync_retransmit without a page.
struct OverheardStream {
  NodeId donor;
  std::uint64_t incarnation;
  std::uint64_t donor_watermark;  // the stream's snapshot ends here: a request below it can join
  MonoTime seen;
};

// What a donor serves of one origin: a stream of pages over a snapshot of its items, for one
// puller or, when pullers of the same origin ask while it runs, for several at once (a shared
// stream, engine/README.md "Catch-up sessions"). Pages are numbered by the stream; a member's
// session counts its own from the page it joined at. A member joins at the cursor and leaves
// once the cursor has gone round the snapshot back to where it joined (the stream wraps).
struct ServeSession {
  struct Member {
    NodeId puller;
    std::uint32_t session;
    std::uint32_t first_page;  // the stream's page that is this member's page 0
    std::size_t start;         // the item it joined at
    std::size_t covered = 0;   // items its pages have gone over so far
    std::uint32_t acked;       // the stream's pages below this one it acknowledged
    std::uint32_t last_page = 0;
    bool cut_last = false;     // its last page (last_page) is cut
    MonoTime last_progress{};
    // When it last held the stream back at a retransmit timeout while others were ahead and was
    // sent its unacknowledged pages again (ServeTick); MonoTime{} never. The next such timeout
    // refuses it if it has acknowledged nothing since.
    MonoTime resent_alone_at{};
  };
  std::vector<Member> members;  // at least one while the stream runs; at most kMaxSyncPageAddressees
  NodeId origin;
  std::uint64_t incarnation;
  std::uint64_t since;  // the snapshot holds the items above it: a request from here or above may join
  std::uint64_t donor_watermark;
  std::vector<std::uint32_t> items;  // device ids then AOR ids (owned origin), or mailbox ids
  std::size_t device_items = 0;
  std::size_t cursor = 0;  // the first item of the next new page
  struct Mark {
    std::uint32_t page;
    std::size_t start, end;  // the items it covers
    MonoTime sent;
    bool resent;  // Karn: no round-trip sample from a page sent twice
    // The page as first sent (plain). Go-back-N resends the same items [start, end), with their
    // current values when those still fit a frame, else these bytes: a page cut anew could end
    // elsewhere once an entry changed size, and the puller, which counts pages, would skip the
    // items between the old and the new cut.
    std::vector<std::uint8_t> frame;
    // The sessions it was cut for that are still members (node kNoNode: plain page); empty once
    // they all left (Leave).
    std::vector<codec::SyncPageAddressee> to;
    bool frame_names_left = false;  // `frame` names a session that has left the stream since
  };
  std::deque<Mark> unacked;     // sent and not acknowledged, oldest first; at most sync_window_pages
  std::size_t in_flight = 0;    // unacked[0, in_flight) are in flight; after a timeout, the rest wait
  std::uint32_t next_page = 0;  // the number of the next new page
  std::uint32_t acked = 0;     // the slowest member's: pages below it left every member's window
  bool sent_last = false;      // every member's last page is cut
  MonoTime last_send{};
  // Congestion control, as TCP does it: a window that grows with acknowledgements and
  // collapses on a timeout, and a retransmit timeout from the measured round trip. A catch-up
  // that ignored congestion would push heartbeats out of queues and make links flap.
  double cwnd = 2;
  double ssthresh = 0;         // 0: still in slow start
  Duration srtt{}, rttvar{};  // srtt 0: no sample yet
  Duration rto{};

  // Takes out the members `leaves` picks (done, timed out, refused, gone from the view) and
  // their sessions from the pages in flight; pages past every remaining member's last one that
  // name nobody now end the stream there, unsent again. Returns how many left; the caller ends
  // a stream left without members (engine_serve.cc).
  template <typename Pred>
  std::size_t Leave(Pred leaves) {
    const std::size_t left = std::erase_if(members, leaves);
    if (left != 0) ForgetLeftSessions();
    return left;
  }
  void ForgetLeftSessions();

  // Moves the window to the slowest member's acknowledgement at `now`, growing the congestion
  // window; returns a round-trip sample when a page sent once left it (engine_serve.cc).
  std::optional<Duration> AdvanceWindow(MonoTime now, const EngineConfig& config);
};

// Served streams, numbered upwards from the greatest number still open (a stream outlives the
// member that opened it: no puller's session can name it).
using ServeMap = std::map<std::uint64_t, ServeSession>;

}  // namespace pbxstate
