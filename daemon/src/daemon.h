// pbxstated: one engine hosted over Corosync CPG, with a control socket, on one epoll loop.
//
// Life: Run() waits for corosync (up to connect_timeout), creates the engine with the corosync
// node id and a fresh incarnation (wall clock in microseconds), opens the control socket, then
// loops on one epoll set {CpgEnv::fd(), ControlServer::fd(), signalfd(SIGTERM, SIGINT), the load
// generator's timerfd (armed only during a `generate` run)} until a
// signal, a `stop` request, or a fatal transport error. A graceful stop sends `stopping` to every
// subscriber, writes what is queued to control clients, leaves the CPG group (flushing the send
// queue for at most shutdown.flush_timeout_ms), closes the socket and returns 0.
//
// Why plain epoll and not asio: three descriptors, one thread, and the transport already hands
// out a single pollable fd; epoll is the smallest thing that does it, with no dependency, and it
// is what the Asterisk module's thread will do too.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>

#include "control_server.h"
#include "daemon_config.h"
#include "load_generator.h"
#include "logger.h"
#include "pbxstate/control/events.h"
#include "pbxstate/control/protocol.h"
#include "pbxstate/control/replies.h"
#include "pbxstate/corosync/cpg_env.h"
#include "pbxstate/corosync/timer_fd.h"
#include "pbxstate/engine.h"

namespace pbxstate::daemon {

class Daemon final : private ViewListener, private corosync::EngineUpcalls {
 public:
  Daemon(DaemonConfig config, Logger* logger);
  ~Daemon() override;

  // Runs until stopped. Returns the process exit status (pbxstate/exit_status.h): kExitOk after a
  // graceful stop, kExitInvalid when the engine refuses the configuration on this node, kExitFailed
  // when start-up fails otherwise or the transport cannot go on (the reason is logged).
  int Run();

 private:
  // The control protocol (control_handler.cc): one request line executed (ControlServer's
  // RequestFn), and the engine's callbacks published as events to subscribers.
  using Outcome = std::variant<control::Reply, control::Error>;
  ControlServer::Reply HandleRequest(std::string_view line);
  Outcome Execute(const control::Request& request, bool* subscribe);
  // The engine's view as of one instant (DumpReply::as_of_*): its due work done first.
  control::DumpReply Dump();
  control::StatsReply Stats() const;
  // locate: Engine::Locate with each contact's user agent (control::LocateReply::user_agents).
  control::LocateReply Locate(const std::string& aor) const;
  void OnViewChange(const ViewChange& change) override;
  void OnMembersChanged(const std::vector<NodeId>& members) override;

  // ---- corosync::EngineUpcalls: straight to the engine, each CPG view also published as a
  // transport_view event (CONTROL.md) and kept for the next subscriber's first line ----
  void OnFrame(NodeId from, std::span<const std::uint8_t> frame) override { engine_->OnFrame(from, frame); }
  void OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame) override {
    engine_->OnOverheard(from, to, frame);
  }
  void OnMembership(const MembershipView& view) override;
  void OnTimer() override { engine_->OnTimer(); }
  void OnSendReady() override { engine_->OnSendReady(); }

  // The phases of Run: the authentication warning, the start-up wait, the event loop's epoll set
  // (its descriptor in *ep even when a later step fails, -1 when epoll_create1 failed), the loop
  // itself until a stop (returns the exit code), and the shutdown.
  void LogAuthentication();
  Status WaitForCorosync(int signal_fd);
  Status BuildLoop(int signal_fd, int* ep);
  int Serve(int ep, int signal_fd);
  void Stop();
  // Benchmark instruments (daemon_bench.cc): the generate/watch ops, and one slice of the load
  // generator when its timer fires.
  Outcome ExecuteBench(const control::Request& request);
  void RunGenerator();
  void Log(LogLevel level, std::string_view message) { logger_->Log(level, message); }

  DaemonConfig config_;
  Logger* logger_;
  std::unique_ptr<corosync::CpgEnv> env_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ControlServer> server_;
  LoadGenerator generator_;
  ChangeProbe probe_;
  control::TransportViewEvent last_view_;  // the view last handed to the engine, and when
  corosync::TimerFd generate_timer_;  // in the loop's epoll set; armed while a run is going on
  bool stop_requested_ = false;
  std::string stop_reason_;
};

}  // namespace pbxstate::daemon
