// The per-node state of mailbox repair's exchanges that is more than a field (engine/README.md,
// "Mailbox repair"): the peers waiting for an exchange, the repeats with anti-entropy off, and
// what this node overhears of other nodes' exchanges where a unicast reaches every node.
#pragma once

#include <cstdint>
#include <optional>

#include "codec.h"
#include "pbxstate/types.h"

namespace pbxstate {

// A waiting peer, and the opening it sent while this node was busy, if it sent one, and when it
// came. While the peer still waits on it (MailboxRepairQuiet after it came) the opening is
// answered; an exchange of this node's own would reach the peer inside the window where it takes
// ours for a crossed opening and drops it (then neither exchange ran: at 20 servers one server
// was left out until the whole-set fallback, 4 s after the heal). Later, the peer has moved on
// and this node opens its own exchange.
struct MailboxRepairWaiter {
  NodeId peer = kNoNode;
  std::optional<codec::MailboxRanges> opening;
  MonoTime opening_arrived{};
};

// With anti-entropy off, the exchange this node opened last is opened again once quiet, so a
// frame of it lost on the way is sent again (MailboxRepairRepeat): its peer, whether a repair
// frame came from the peer since the last opening, how many openings in a row got none (roots
// equal, or the opening or every answer lost) and how many repeats there were in all.
struct MailboxRepairRepeats {
  NodeId peer = kNoNode;
  bool answered = false;
  std::uint32_t silent = 0;
  std::uint32_t repeats = 0;
};

// What this node knows of other nodes' exchanges where a unicast reaches every node (Engine::
// OnOverheard; engine/README.md, "Overheard entries").
struct MailboxOverhearing {
  bool delivered = false;              // the host hands this node overheard frames
  std::optional<MonoTime> last;        // a repair frame between two other nodes last overheard
  NodeId last_from = kNoNode;          // ... and its sender
  // The longest one-way trip on the ring seen since the stagger: the gap between two overheard
  // repair frames of different senders while an exchange ran (EngineImpl::ApplyOverheard).
  Duration trip{};
  std::optional<MonoTime> held_until;  // this node's openings wait until then (the stagger)
  bool stagger_due = false;            // a view changed: the next differing digest staggers
  std::optional<MonoTime> view_changed;  // when a transport view last added or removed members
};

}  // namespace pbxstate
