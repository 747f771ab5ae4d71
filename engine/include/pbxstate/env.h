// The engine's whole contact with the outside world.
//
// An Engine never reads a clock, opens a socket, starts a thread or draws a random number on its
// own: it asks its Env. A host (the inproc network, the ns-3 application, the pbxstated daemon,
// the Asterisk module) implements Env and makes the upcalls listed on Engine (OnFrame,
// OnMembership, OnTimer, OnSendReady). That is what lets one engine run unchanged in all of them.
//
// Threading: the engine calls its Env only from inside an engine call, on the host's thread.
// An Env implementation must not call back into the engine from inside any of these methods;
// work it wants to hand to the engine (a received frame, a timer) is delivered later as an upcall.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "pbxstate/types.h"

namespace pbxstate {

enum class SendStatus {
  kOk,           // handed to the network; it may still be lost on the way
  kTryAgain,     // the transport is congested and has no room of its own (the ns-3 host's bounded
                 // jitter hold): nothing was sent; the engine keeps the frame in its own bounded
                 // queue and retries after EngineConfig::send_retry_interval, or as soon as the
                 // host calls Engine::OnSendReady(). A host that queues for itself (the CPG
                 // transport) never answers it: one owner per path for frame flow control.
  kTooLarge,     // the frame exceeds what the transport carries: nothing was sent; the engine
                 // counts it (a configuration error: max_frame_bytes is larger than the transport's)
  kUnreachable,  // unicast to a node the transport does not know: nothing was sent
};

// Severity of a log line. The values are pbxstate_log_level's (c_api.h; c_api_handle.cc checks them),
// so C hosts cast between the two.
enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning", "error": the names every host writes and reads (pbxstated's log
// and its log.level key, the ns-3 application's trace).
std::string_view LogLevelName(LogLevel level);
// The level named `name` (one of the names above, exactly); nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

class Env {
 public:
  virtual ~Env() = default;

  // The host's monotonic time. Never decreases between two calls. Used for timers, intervals,
  // failure detection and batch windows.
  virtual MonoTime Now() = 0;

  // Calendar time, comparable across nodes as far as their clocks are synchronised. May jump.
  // Used only for registration expiry and the hybrid logical clock of MWI writes.
  virtual WallTime WallNow() = 0;

  // Asks the host to call Engine::OnTimer() once Now() >= at. The engine keeps a single wakeup:
  // a later call replaces the earlier request, whether it is sooner or later. A wakeup the host
  // delivers late, or more than once, is harmless: OnTimer does whatever is due at that moment.
  virtual void ScheduleWakeup(MonoTime at) = 0;

  // Sends `frame` to every other member of the cluster (never back to this node). The bytes are
  // only borrowed for the duration of the call. Delivery may be lossy, duplicated or reordered
  // unless the transport promises more (CPG: agreed order, no loss within a view).
  virtual SendStatus Broadcast(std::span<const std::uint8_t> frame) = 0;

  // Sends `frame` to node `to` only. Same ownership and delivery rules as Broadcast.
  virtual SendStatus Unicast(NodeId to, std::span<const std::uint8_t> frame) = 0;

  // Whether a Unicast costs the network what a Broadcast costs: the frame travels to every node
  // and all but `to` discard it (CPG: a unicast is an addressed message in the ring's agreed
  // order). True makes the engine send nothing through site relays (EngineConfig::
  // relays_per_site): a relay saves WAN crossings only where a unicast crosses one link, and
  // where it reaches everyone anyway a relay's hop only multiplies the messages on the network
  // (engine/README.md, "Sites and relays"). Such a host may also hand the engine the unicasts it
  // carried for other nodes (Engine::OnOverheard), whose mailbox records then repair this node too
  // (engine/README.md, "Mailbox repair"); it may as well drop them. false (the default): a unicast
  // goes to `to` alone (UDP, the in-process network), and the host never calls OnOverheard. Read
  // once, when the engine is made: the answer must not change over the Env's life.
  virtual bool UnicastReachesEveryone() const { return false; }

  // How many frames this host accepted (Broadcast/Unicast answered kOk) and is not through with
  // yet: waiting in its own queue, being sent, or sent and not yet confirmed by the transport
  // (CPG delivers every message back to its sender in agreed order: that is the confirmation).
  // 0: a frame handed over now leaves at once. nullopt (the default): this host cannot tell (UDP:
  // a datagram handed to the socket is gone, nothing ever confirms it).
  //
  // It drives adaptive batching (EngineConfig::batch_window > 0): the engine sends a lone change
  // at once only when the count is 0 (or unknown) and no update flush happened in the last window;
  // otherwise it holds changes and coalesces them until the count is 0 (the host calls
  // Engine::OnSendReady()) and the window since the last flush has passed. A host that returns a
  // count must call Engine::OnSendReady() every time the count drops to 0 (later, outside any Env
  // method). A host answers with a count always or never.
  virtual std::optional<std::size_t> SendBacklog() { return std::nullopt; }

  // A uniformly distributed 64-bit value from the host's seeded generator. All of the engine's
  // randomness (peer choice, jitter on periodic timers) comes from here, so a host that seeds
  // its generator makes the engine's behaviour replayable.
  virtual std::uint64_t Random() = 0;

  // A line for the host's log. The engine logs rarely (start-up, refused frames in bulk,
  // membership changes), never per change.
  virtual void Log(LogLevel level, std::string_view message) = 0;
};

}  // namespace pbxstate
