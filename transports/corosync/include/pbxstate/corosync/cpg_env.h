// The Env of one engine hosted over Corosync CPG on a real host: the host's clocks, one timerfd
// for the engine's single wakeup, a seeded random source, and a CpgTransport for frames and views.
//
// A host (pbxstated, the Asterisk module) does:
//
//   std::unique_ptr<CpgEnv> env;
//   CpgEnv::Create(config, log, &env);     // its descriptors (epoll set, timers)
//   env->Connect();                        // learns the corosync node id, joins the group
//   EngineConfig ec; ec.node_id = env.local_node(); ec.membership = MembershipSource::kTransport; ...
//   Engine::Create(ec, &env, &engine);
//   env.Attach(engine.get());
//   engine->Start();
//   loop: poll(env.fd(), POLLIN) ... env.Dispatch();
//   env.Leave(flush_timeout);              // graceful stop; then destroy the engine, then env
//
// fd() is one epoll descriptor (stable for the object's life) covering the CPG connection, the
// transport's retry/reconnect timer and the engine's wakeup, so it nests in any event loop (epoll,
// poll, asio, Asterisk's own thread). Dispatch() never blocks.
//
// Threading: everything (the engine included) on the thread that calls Dispatch(), or serialised
// by the host. Upcalls into the engine happen only inside Dispatch(), never inside an Env method.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <memory>
#include <span>
#include <string_view>

#include "pbxstate/corosync/cpg_transport.h"
#include "pbxstate/corosync/timer_fd.h"
#include "pbxstate/engine.h"
#include "pbxstate/env.h"
#include "pbxstate/random.h"

namespace pbxstate::corosync {

struct CpgEnvConfig {
  CpgTransportConfig transport;
  // Seed of the engine's random source. 0: drawn from getrandom(2) at construction (the value is
  // logged, so a run can be replayed as far as a real network allows).
  std::uint64_t random_seed = 0;
};

// What CpgEnv hands the engine's upcalls to. Attach(Engine*) delivers straight to an Engine; a host
// that reaches its engine through another interface (the C API host of c_cpg_host.h) attaches its
// own EngineUpcalls. Called only from inside CpgEnv::Dispatch().
class EngineUpcalls {
 public:
  virtual ~EngineUpcalls() = default;
  virtual void OnFrame(NodeId from, std::span<const std::uint8_t> frame) = 0;
  // A unicast that `from` addressed to `to`, another node (Engine::OnOverheard). The default drops
  // it (a host may: only the repair's speed depends on it).
  virtual void OnOverheard(NodeId /*from*/, NodeId /*to*/, std::span<const std::uint8_t> /*frame*/) {}
  virtual void OnMembership(const MembershipView& view) = 0;
  virtual void OnTimer() = 0;
  virtual void OnSendReady() = 0;
};

struct CpgEnvStats {
  std::uint64_t wakeups = 0;             // Engine::OnTimer calls
  std::uint64_t frames_before_attach = 0;  // frames that arrived with no engine attached (dropped)
};

class CpgEnv final : public Env, private CpgTransport::Handler {
 public:
  // Makes an env in *out, with its epoll set and timers. An operating-system failure (descriptor
  // or memory limits) is a FailedPrecondition naming the call and errno's text; *out is then null.
  static Status Create(CpgEnvConfig config, CpgTransport::LogFn log, std::unique_ptr<CpgEnv>* out);
  ~CpgEnv() override;
  CpgEnv(const CpgEnv&) = delete;
  CpgEnv& operator=(const CpgEnv&) = delete;

  // See CpgTransport::Connect.
  Status Connect() { return transport_.Connect(); }
  NodeId local_node() const { return transport_.local_node(); }

  // Gives the env its engine (created with this env and node_id == local_node()). A membership
  // view that arrived before is delivered now. nullptr detaches (frames are then dropped).
  void Attach(Engine* engine);
  // The same for a host that delivers through `upcalls` (which must outlive the attachment; its
  // engine's node id must be local_node()). nullptr detaches.
  void AttachUpcalls(EngineUpcalls* upcalls);

  int fd() const { return epoll_fd_; }
  void Dispatch();

  // A host about to make a series of local changes at once (the Asterisk module draining its
  // inbox) brackets them: in between, SendBacklog() counts one more frame, so the engine holds
  // every change of the series (adaptive batching) instead of sending the first one alone; at
  // EndBatch() they leave together, in as few frames as fit, unless the transport is still busy
  // (then they leave when it frees, as usual). Not nested. EndBatch() makes the engine's upcall:
  // call it outside any engine call.
  void BeginBatch();
  void EndBatch();
  void Leave(Duration flush_timeout) { transport_.Leave(flush_timeout); }

  CpgTransport& transport() { return transport_; }
  const CpgTransport& transport() const { return transport_; }
  const CpgEnvStats& stats() const { return stats_; }
  std::uint64_t random_seed() const { return seed_; }

  // ---- Env ----
  MonoTime Now() override;
  WallTime WallNow() override;
  void ScheduleWakeup(MonoTime at) override;
  SendStatus Broadcast(std::span<const std::uint8_t> frame) override { return transport_.Broadcast(frame); }
  SendStatus Unicast(NodeId to, std::span<const std::uint8_t> frame) override { return transport_.Unicast(to, frame); }
  // A CPG unicast is a message in the ring's agreed order that every member receives and all but
  // its addressee drop (CpgTransport::Unicast).
  bool UnicastReachesEveryone() const override { return true; }
  // The transport's backlog (cpg_transport.h): queued messages and messages CPG has not yet
  // delivered back to us. OnSendReady reaches the engine when it drops to 0.
  std::optional<std::size_t> SendBacklog() override { return transport_.backlog() + (in_batch_ ? 1 : 0); }
  std::uint64_t Random() override;
  void Log(LogLevel level, std::string_view message) override;

 private:
  CpgEnv(CpgEnvConfig config, CpgTransport::LogFn log);
  // The descriptors: the wakeup timer and the epoll set over it and the transport's.
  Status Open();

  // ---- CpgTransport::Handler ----
  void OnFrame(NodeId from, std::span<const std::uint8_t> frame) override;
  void OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame) override;
  void OnView(const MembershipView& view) override;
  void OnSendReady() override;

  // Attach(Engine*)'s upcalls: straight to the engine.
  class DirectUpcalls final : public EngineUpcalls {
   public:
    Engine* engine = nullptr;
    void OnFrame(NodeId from, std::span<const std::uint8_t> frame) override { engine->OnFrame(from, frame); }
    void OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame) override {
      engine->OnOverheard(from, to, frame);
    }
    void OnMembership(const MembershipView& view) override { engine->OnMembership(view); }
    void OnTimer() override { engine->OnTimer(); }
    void OnSendReady() override { engine->OnSendReady(); }
  };

  CpgTransport::LogFn log_;
  CpgTransport transport_;
  TimerFd wakeup_;
  int epoll_fd_ = -1;
  DirectUpcalls direct_;
  EngineUpcalls* upcalls_ = nullptr;
  bool view_pending_ = false;  // a view arrived while no engine was attached
  std::uint64_t frames_dropped_logged_ = 0;  // frames_before_attach already logged
  bool in_batch_ = false;      // between BeginBatch and EndBatch
  std::uint64_t seed_ = 0;
  SplitMix64 random_;
  CpgEnvStats stats_;
};

}  // namespace pbxstate::corosync
