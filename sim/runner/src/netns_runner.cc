#include "pbxstate/runner/netns_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <fstream>
#include <queue>

#include "daemon_json.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/netns/cluster.h"
#include "pbxstate/netns/control_client.h"
#include "pbxstate/netns/interrupt.h"
#include "pbxstate/netns/pbxstated_config.h"
#include "pbxstate/netns/shaping.h"

namespace pbxstate::runner {
namespace {

using namespace std::chrono_literals;
using harness::PlannedChange;
using nlohmann::json;
using scenario::Scenario;

// How long the harness holds what it learnt before handing it to the recorder, so that events
// read from different nodes' streams reach it in time order (an event reaches the harness
// within milliseconds of its t_mono_ns; this is far above that).
constexpr Duration kReorderHold = 250ms;
// Recorder inputs waiting for kReorderHold; past the bound the run fails (it cannot keep up).
constexpr std::size_t kMaxPendingRecords = std::size_t{1} << 22;
constexpr Duration kCallTimeout = 5s;
constexpr Duration kStartTimeout = 30s;
constexpr Duration kMaxPoll = 10ms;
// Changes sent to one daemon and not yet answered; at the bound the harness waits for answers.
constexpr std::size_t kMaxOutstandingChanges = 1024;
// The harness makes every change through a control socket (pipelined); beyond this rate, with a
// cluster of real processes on one host, it would lag behind the plan.
constexpr double kMaxChangeRate = 2000.0;

std::int64_t ClockNs(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Status Where(const Scenario& s, const scenario::SourcePos& pos, const std::string& field, const std::string& what) {
  return Status::InvalidArgument(s.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " +
                                 field + ": " + what);
}

netns::NetemParams LanNetem(const scenario::LanParams& lan) {
  netns::NetemParams p;
  p.delay = lan.delay;
  p.loss = lan.loss;
  p.rate_bps = lan.bandwidth_bps;
  return p;
}

// The totem token: the scenario's failure-detection time (engine.suspect_after), within what
// corosync accepts. With transport membership the engine has no heartbeat of its own; the token
// is what decides when a silent node (its corosync gone or cut off) leaves.
Duration TotemToken(const Scenario& s) { return std::clamp<Duration>(s.engine.suspect_after, 300ms, 60s); }

// "200 us", "1.5 s": durations in messages and notes.
std::string Seconds(Duration d) {
  const double ns = static_cast<double>(d.count());
  char buf[32];
  if (ns >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.3g s", ns / 1e9);
  } else if (ns >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.3g ms", ns / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g us", ns / 1e3);
  }
  return buf;
}

Status Interrupted() {
  return Status::FailedPrecondition(std::string("interrupted by ") +
                                    (netns::InterruptSignal() == SIGINT ? "SIGINT" : "SIGTERM") +
                                    "; the cluster is torn down and no record is written");
}

// One node of the run as the harness sees it.
struct Node {
  bool up = false;        // answering; changes are made on it
  bool starting = false;  // its daemon is started and has not answered yet (a restart)
  std::chrono::steady_clock::time_point start_deadline;
  std::unique_ptr<netns::ControlClient> control;  // request/response calls
  std::unique_ptr<netns::ControlClient> writer;   // pipelined changes: sent without waiting
  std::deque<std::pair<const PlannedChange*, Duration>> outstanding;  // sent on `writer`, unanswered
  std::unique_ptr<netns::EventStream> events;
  std::uint64_t incarnation = 0;
  EngineStats last_stats;        // the live incarnation's, as of the last sample
  std::uint64_t frames_dead = 0; // frames_out / bytes_out of incarnations that crashed
  std::uint64_t bytes_dead = 0;
  std::uint64_t frames_at_last_sample = 0;  // all incarnations'  frames at the last sample
  std::string socket;
  std::filesystem::path config;
};

class NetnsRun {
 public:
  NetnsRun(const Scenario& s, const RunOptions& o, const NetnsOptions& no, std::filesystem::path daemon,
           netns::NetnsCluster* cluster)
      : s_(s), options_(o), netns_options_(no), daemon_(std::move(daemon)), cluster_(cluster),
        rec_(s, o.timelines.value_or(!s.faults.empty())), nodes_(s.topology.node_count() + 1) {}

  Status Run(RunOutcome* outcome);

 private:
  Duration Now() const { return Duration(ClockNs(CLOCK_MONOTONIC) - mono_start_ns_); }
  Duration FromMono(std::int64_t t_mono_ns) const { return Duration(t_mono_ns - mono_start_ns_); }

  // Writes the node's config and starts its pbxstated; the node is `starting` until TryConnect
  // has subscribed to its events and connected a control client (hello).
  Status SpawnDaemon(NodeId n);
  // One attempt (waiting at most `wait`); fails when the daemon exited or its start deadline passed.
  Status TryConnect(NodeId n, Duration wait, bool* connected);
  // TryConnect until connected.
  Status FinishStart(NodeId n);
  Status Call(NodeId n, const json& request, json* response);
  Status FetchStats(NodeId n, EngineStats* stats);
  // Queues a recorder input for time t. `waits_for_start`: it (and everything after it) is held
  // until that node's daemon has answered.
  void Record(Duration t, std::function<void()> fn, NodeId waits_for_start = kNoNode);
  Status DeliverDue(Duration upto);
  Status ReadEvents(NodeId n, bool* closed);
  Status PollEvents(Duration wait);
  Status ApplyFault(const scenario::Fault& f);
  Status MakeChange(const PlannedChange& c);
  // Takes the answers to pipelined changes that have arrived (waits for all of them, at most
  // kCallTimeout, with `all`) and hands them to the recorder at their send time.
  Status ReadAnswers(NodeId n, bool all);
  // The earliest send time of an unanswered change: the recorder may not go past it.
  std::optional<Duration> EarliestOutstanding() const;
  Status Sample(Duration t);
  Status WaitAllMembers(Duration timeout);

  const Scenario& s_;
  const RunOptions& options_;
  const NetnsOptions& netns_options_;
  std::filesystem::path daemon_;
  netns::NetnsCluster* cluster_;
  harness::RunRecorder rec_;
  std::vector<Node> nodes_;  // by node id; [0] unused
  std::int64_t mono_start_ns_ = 0;
  daemon_json::WallMapping wall_;

  struct Pending {
    Duration t;
    std::uint64_t seq;
    std::function<void()> fn;
    NodeId waits_for_start;
    bool operator>(const Pending& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending_;
  std::uint64_t seq_ = 0;
  std::vector<harness::SeriesPoint> series_;
  std::uint64_t sampled_frames_ = 0, sampled_bytes_ = 0;  // cluster totals at the last sample
  Duration max_lag_{};
};

void NetnsRun::Record(Duration t, std::function<void()> fn, NodeId waits_for_start) {
  pending_.push({t, seq_++, std::move(fn), waits_for_start});
}

Status NetnsRun::DeliverDue(Duration upto) {
  if (pending_.size() > kMaxPendingRecords) {
    return Status::ResourceExhausted("netns run: more than " + std::to_string(kMaxPendingRecords) +
                                     " records waiting for the recorder; the harness cannot keep up");
  }
  while (!pending_.empty() && pending_.top().t <= upto) {
    if (pending_.top().waits_for_start != kNoNode && nodes_[pending_.top().waits_for_start].starting) break;
    Pending p = pending_.top();
    pending_.pop();
    p.fn();
  }
  return Status::Ok();
}

Status NetnsRun::Call(NodeId n, const json& request, json* response) {
  Node& node = nodes_[n];
  if (!node.control) return Status::FailedPrecondition("node " + std::to_string(n) + " has no control connection");
  return node.control->Call(request, kCallTimeout, response);
}

Status NetnsRun::FetchStats(NodeId n, EngineStats* stats) {
  json r;
  if (Status st = Call(n, {{"op", "stats"}}, &r); !st.ok()) return st;
  if (!r.contains("engine")) return Status::FailedPrecondition("pbxstated stats: no 'engine' object");
  return daemon_json::ParseEngineStats(r["engine"], stats);
}

Status NetnsRun::SpawnDaemon(NodeId n) {
  Node& node = nodes_[n];
  const std::filesystem::path dir = cluster_->NodeDir(n);
  node.socket = (cluster_->RunDir() / ("n" + std::to_string(n) + ".sock")).string();
  if (node.socket.size() > 107) {
    node.socket = "/tmp/" + cluster_->names().Tag() + "-n" + std::to_string(n) + ".sock";
  }
  std::filesystem::remove(node.socket);
  netns::PbxstatedSpec spec;
  spec.control_socket = node.socket;
  spec.group = "pbxstate";
  spec.label = "node" + std::to_string(n);
  spec.random_seed = s_.seed * 1000 + n;
  spec.engine = s_.engine;
  if (!s_.engine.cluster_keys.empty()) {
    // pbxstated refuses a key file group or others can read: created 0600 before a byte is written.
    const std::filesystem::path key_file = dir / "cluster.key";
    const int fd = ::open(key_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const std::string& key = s_.engine.cluster_keys.front();
    const bool written = fd >= 0 && ::fchmod(fd, 0600) == 0 &&
                         ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
    if (fd >= 0) ::close(fd);
    if (!written) return Status::FailedPrecondition(key_file.string() + ": cannot write the cluster key file");
    spec.key_file = key_file.string();
  }
  std::string text;
  if (Status st = netns::PbxstatedConfig(spec, &text); !st.ok()) return st;
  node.config = dir / "pbxstated.yaml";
  {
    std::ofstream f(node.config, std::ios::trunc);
    f << text;
    if (!f) return Status::FailedPrecondition(node.config.string() + ": cannot write");
  }
  if (Status st = cluster_->StartDaemon(n, {daemon_.string(), "--config", node.config.string()}, "pbxstated.log");
      !st.ok()) {
    return st;
  }
  node.starting = true;
  node.start_deadline = std::chrono::steady_clock::now() + kStartTimeout;
  return Status::Ok();
}

Status NetnsRun::TryConnect(NodeId n, Duration wait, bool* connected) {
  Node& node = nodes_[n];
  assert(node.starting);
  *connected = false;
  // Subscribe first, as early as the socket answers, so no view change of the new incarnation
  // (its catch-up) is missed; then ask who it is. A daemon that exits instead fails at once.
  const std::string log = (cluster_->NodeDir(n) / "pbxstated.log").string();
  std::int64_t t_sub = 0;
  Status st = netns::EventStream::Open(node.socket, wait, &node.events, &t_sub);
  if (!st.ok()) {
    if (!cluster_->DaemonRunning(n)) {
      return Status::FailedPrecondition("pbxstated of node " + std::to_string(n) + " exited (wait status " +
                                        std::to_string(cluster_->daemon(n).wait_status()) + ") before answering; log: " + log);
    }
    if (std::chrono::steady_clock::now() > node.start_deadline) {
      return Status::FailedPrecondition("pbxstated of node " + std::to_string(n) + " did not answer on " + node.socket +
                                        " within " + Seconds(kStartTimeout) + ": " + st.message() + " (log: " + log + ")");
    }
    return Status::Ok();
  }
  if (Status c = netns::ControlClient::Connect(node.socket, kCallTimeout, &node.control); !c.ok()) return c;
  if (Status c = netns::ControlClient::Connect(node.socket, kCallTimeout, &node.writer); !c.ok()) return c;
  node.outstanding.clear();
  json hello;
  if (Status h = Call(n, {{"op", "hello"}}, &hello); !h.ok()) return h;
  if (hello.value("node", 0u) != n) {
    return Status::FailedPrecondition("pbxstated in namespace " + cluster_->names().Namespace(n) + " says it is node " +
                                      std::to_string(hello.value("node", 0u)) + ", not " + std::to_string(n));
  }
  node.incarnation = hello.value("incarnation", std::uint64_t{0});
  node.up = true;
  node.starting = false;
  node.last_stats = EngineStats{};
  *connected = true;
  return Status::Ok();
}

Status NetnsRun::FinishStart(NodeId n) {
  for (bool connected = false; !connected;) {
    if (netns::InterruptRequested()) return Interrupted();
    if (Status st = TryConnect(n, 50ms, &connected); !st.ok()) return st;
  }
  return Status::Ok();
}

Status NetnsRun::WaitAllMembers(Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<NodeId> all;
  for (NodeId n = 1; n < nodes_.size(); ++n) all.push_back(n);
  std::string last;
  for (;;) {
    bool ok = true;
    for (NodeId n : all) {
      json r;
      if (Status st = Call(n, {{"op", "members"}}, &r); !st.ok()) return st;
      const auto members = r.value("members", std::vector<NodeId>{});
      if (members != all) {
        ok = false;
        last = "node " + std::to_string(n) + " sees " + r.value("members", json::array()).dump();
        break;
      }
    }
    if (ok) return Status::Ok();
    if (netns::InterruptRequested()) return Interrupted();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::FailedPrecondition("the daemons did not all see each other within " + Seconds(timeout) + ": " + last);
    }
    usleep(20'000);
  }
}

Status NetnsRun::ReadEvents(NodeId n, bool* closed) {
  Node& node = nodes_[n];
  std::vector<json> lines;
  if (Status st = node.events->ReadAvailable(&lines, closed); !st.ok()) {
    return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
  }
  for (const json& e : lines) {
    const std::string kind = e.value("event", std::string());
    if (kind == "view") {
      auto owned = std::make_shared<daemon_json::OwnedViewChange>();
      if (Status st = daemon_json::ParseViewEvent(e, wall_, owned.get()); !st.ok()) return st;
      const Duration t = FromMono(e.value("t_mono_ns", std::int64_t{0}));
      Record(t, [this, t, n, owned] { rec_.ViewChanged(t, n, owned->change); });
    } else if (kind == "stopping") {
      *closed = true;
    } else if (kind == "dropped" || kind == "overflow") {
      return Status::FailedPrecondition("node " + std::to_string(n) + ": the daemon dropped this event stream (" + e.dump() + ")");
    }
    // "members": membership is the transport's business; the recorder follows the faults.
  }
  return Status::Ok();
}

Status NetnsRun::PollEvents(Duration wait) {
  std::vector<pollfd> fds;
  std::vector<NodeId> who;
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (nodes_[n].up && nodes_[n].events) {
      fds.push_back({nodes_[n].events->fd(), POLLIN, 0});
      who.push_back(n);
    }
  }
  const std::size_t event_fds = fds.size();
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (nodes_[n].up && !nodes_[n].outstanding.empty()) {
      fds.push_back({nodes_[n].writer->fd(), POLLIN, 0});
      who.push_back(n);
    }
  }
  const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
  const int got = poll(fds.data(), fds.size(), std::max(ms, 0));
  if (got <= 0) return Status::Ok();  // timeout, or EINTR (the caller checks for interrupts)
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    if (i >= event_fds) {
      if (Status st = ReadAnswers(who[i], false); !st.ok()) return st;
      continue;
    }
    bool closed = false;
    if (Status st = ReadEvents(who[i], &closed); !st.ok()) return st;
    if (closed) {
      return Status::FailedPrecondition("pbxstated of node " + std::to_string(who[i]) +
                                        " closed its event stream while it should be up (log: " +
                                        (cluster_->NodeDir(who[i]) / "pbxstated.log").string() + ")");
    }
  }
  return Status::Ok();
}

Status NetnsRun::ApplyFault(const scenario::Fault& f) {
  const Duration t = Now();  // the fault's time is when its mechanism began to act
  Status st;
  const std::uint32_t count = s_.topology.node_count();
  if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
    st = cluster_->Cut(p->sides, p->one_way);
  } else if (std::holds_alternative<scenario::Heal>(f.what)) {
    st = cluster_->Heal();
  } else if (const auto* iso = std::get_if<scenario::Isolate>(&f.what)) {
    std::vector<NodeId> rest;
    for (NodeId n = 1; n <= count; ++n) {
      if (n != iso->node) rest.push_back(n);
    }
    st = cluster_->Cut({{iso->node}, rest}, false);
  } else if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
    netns::NetemParams q = LanNetem(s_.topology.sites[0].lan);
    if (d->delay) q.delay = *d->delay;
    if (d->loss) q.loss = *d->loss;
    if (d->bandwidth_bps) q.rate_bps = *d->bandwidth_bps;
    for (NodeId n = 1; n <= count && st.ok(); ++n) st = cluster_->SetLink(n, q);
  } else if (std::holds_alternative<scenario::Restore>(f.what)) {
    for (NodeId n = 1; n <= count && st.ok(); ++n) st = cluster_->SetLink(n, LanNetem(s_.topology.sites[0].lan));
  } else if (const auto* c = std::get_if<scenario::Crash>(&f.what)) {
    Node& node = nodes_[c->node];
    if (node.starting) {
      if (st = FinishStart(c->node); !st.ok()) return st;
    }
    if (st = ReadAnswers(c->node, true); !st.ok()) return st;
    EngineStats last;
    if (st = FetchStats(c->node, &last); !st.ok()) return st;
    const Duration tc = Now();
    // A host crash: corosync first, so its peers learn of it only by the token timeout (killing
    // the daemon first would let the local corosync announce a clean CPG leave).
    if (netns_options_.crash_corosync) st = cluster_->KillCorosync(c->node);
    if (st.ok()) st = cluster_->KillDaemon(c->node);
    if (!st.ok()) return st;
    // What the node reported before it died still counts: drain its stream to the end.
    for (int i = 0; i < 100; ++i) {
      bool closed = false;
      if (Status r = ReadEvents(c->node, &closed); !r.ok()) return r;
      if (closed) break;
      usleep(2000);
    }
    node.up = false;
    node.events.reset();
    node.control.reset();
    node.writer.reset();
    node.frames_dead += last.frames_out;
    node.bytes_dead += last.bytes_out;
    const NodeId id = c->node;
    Record(tc, [this, tc, id, last, &f] {
      rec_.NodeCrashed(tc, id, last);
      rec_.FaultApplied(tc, f);
    });
    return Status::Ok();
  } else if (const auto* re = std::get_if<scenario::Restart>(&f.what)) {
    // The machine comes back: corosync (when it was killed) and the daemon start together; the
    // daemon waits for corosync itself (corosync.connect_timeout_ms), the harness does not.
    const Duration tr = Now();
    if (!cluster_->CorosyncRunning(re->node)) {
      if (st = cluster_->StartCorosync(re->node); !st.ok()) return st;
    }
    if (st = SpawnDaemon(re->node); !st.ok()) return st;
    // The node counts as started at the restart (as in ns-3, where the restart and the start are
    // one instant); the recorder waits for its incarnation, known once the daemon answers.
    const NodeId id = re->node;
    Record(tr, [this, tr, id] { rec_.NodeStarted(tr, id, nodes_[id].incarnation); }, id);
    Record(tr, [this, tr, &f] { rec_.FaultApplied(tr, f); });
    return Status::Ok();
  }
  if (!st.ok()) return st;
  Record(t, [this, t, &f] { rec_.FaultApplied(t, f); });
  return Status::Ok();
}

Status NetnsRun::MakeChange(const PlannedChange& c) {
  const Duration t = Now();
  max_lag_ = std::max(max_lag_, t - c.at);
  if (!nodes_[c.node].up) {
    Record(t, [this, t, &c] { rec_.ChangeSkipped(t, c); });
    return Status::Ok();
  }
  json req;
  switch (c.kind) {
    case EntryKind::kDevice:
      req = {{"op", "set_device"}, {"device", c.key}, {"state", std::string(DeviceStateName(c.state))}};
      break;
    case EntryKind::kMailbox:
      req = {{"op", "set_mailbox"}, {"mailbox", c.key}, {"new", c.counts.new_messages},
             {"old", c.counts.old_messages}, {"urgent", c.counts.urgent_messages}};
      break;
    case EntryKind::kRegistration:
      if (c.remove) {
        req = {{"op", "unregister"}, {"aor", c.key}};
      } else {
        // The expiry the oracle expects: the change's time plus its lifetime, on the run's
        // calendar, which the daemon's engine reads as CLOCK_REALTIME.
        const WallTime expires = kSimEpoch + t + c.expires_in;
        req = {{"op", "register"}, {"aor", c.key}, {"contact", c.contact}, {"expires_unix_ns", wall_.ToUnix(expires)},
               {"reachable", c.status == ContactStatus::kReachable}, {"rtt_us", 0}};
      }
      break;
  }
  Node& node = nodes_[c.node];
  if (node.outstanding.size() >= kMaxOutstandingChanges) {
    if (Status st = ReadAnswers(c.node, true); !st.ok()) return st;
  }
  if (Status st = node.writer->Send(req, kCallTimeout); !st.ok()) {
    return Status::FailedPrecondition("node " + std::to_string(c.node) + ": " + st.message());
  }
  node.outstanding.emplace_back(&c, t);
  return Status::Ok();
}

Status NetnsRun::ReadAnswers(NodeId n, bool all) {
  Node& node = nodes_[n];
  const auto deadline = std::chrono::steady_clock::now() + kCallTimeout;
  while (!node.outstanding.empty()) {
    std::vector<json> answers;
    if (Status st = node.writer->ReadResponses(&answers); !st.ok()) {
      return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
    }
    for (const json& r : answers) {
      if (node.outstanding.empty()) return Status::FailedPrecondition("node " + std::to_string(n) + ": an answer to no request");
      const auto [c, t] = node.outstanding.front();
      node.outstanding.pop_front();
      // An engine refusal ("ok": false with the engine's code) is a refused change, as in ns-3.
      const Status st = netns::ResponseStatus(r);
      Record(t, [this, t, c, st] { rec_.ChangeMade(t, *c, st); });
    }
    if (!all || node.outstanding.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::FailedPrecondition("node " + std::to_string(n) + ": " + std::to_string(node.outstanding.size()) +
                                        " changes unanswered after " + Seconds(kCallTimeout));
    }
    pollfd p{node.writer->fd(), POLLIN, 0};
    poll(&p, 1, 10);
  }
  return Status::Ok();
}

std::optional<Duration> NetnsRun::EarliestOutstanding() const {
  std::optional<Duration> earliest;
  for (const Node& node : nodes_) {
    if (!node.outstanding.empty() && (!earliest || node.outstanding.front().second < *earliest)) {
      earliest = node.outstanding.front().second;
    }
  }
  return earliest;
}

Status NetnsRun::Sample(Duration t) {
  harness::SeriesPoint p;
  p.t = t;
  std::uint64_t total_frames = 0, total_bytes = 0;
  // Every daemon asked at once, then every answer read: one round trip, not one per node.
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (!nodes_[n].up) continue;
    if (Status st = nodes_[n].control->Send({{"op", "stats"}}, kCallTimeout); !st.ok()) return st;
  }
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (!nodes_[n].up) continue;
    json r;
    if (Status st = nodes_[n].control->Receive(kCallTimeout, &r); !st.ok()) {
      return Status::FailedPrecondition("node " + std::to_string(n) + ": stats: " + st.message());
    }
    if (Status st = daemon_json::ParseEngineStats(r.value("engine", json()), &nodes_[n].last_stats); !st.ok()) return st;
  }
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    Node& node = nodes_[n];
    const std::uint64_t frames = node.frames_dead + (node.up ? node.last_stats.frames_out : 0);
    const std::uint64_t bytes = node.bytes_dead + (node.up ? node.last_stats.bytes_out : 0);
    p.frames_by_node.push_back(frames - node.frames_at_last_sample);
    node.frames_at_last_sample = frames;
    total_frames += frames;
    total_bytes += bytes;
  }
  p.frames = total_frames - sampled_frames_;
  p.bytes = total_bytes - sampled_bytes_;
  sampled_frames_ = total_frames;
  sampled_bytes_ = total_bytes;
  series_.push_back(std::move(p));
  return Status::Ok();
}

Status NetnsRun::Run(RunOutcome* outcome) {
  const auto wall_start = std::chrono::steady_clock::now();
  const std::uint32_t count = s_.topology.node_count();
  std::vector<NodeId> all;
  for (NodeId n = 1; n <= count; ++n) all.push_back(n);

  // ---- bring-up: corosyncs, then daemons, then everyone sees everyone ----
  for (NodeId n : all) {
    if (Status st = cluster_->StartCorosync(n); !st.ok()) return st;
  }
  if (Status st = cluster_->WaitCorosyncMembers(all, kStartTimeout); !st.ok()) {
    return netns::InterruptRequested() ? Interrupted() : st;
  }
  for (NodeId n : all) {
    if (Status st = SpawnDaemon(n); !st.ok()) return st;
    if (Status st = FinishStart(n); !st.ok()) return st;
  }
  if (Status st = WaitAllMembers(kStartTimeout); !st.ok()) return st;
  // Anything the daemons reported while starting (nothing: they start empty) is before time 0.
  for (NodeId n : all) {
    bool closed = false;
    if (Status st = ReadEvents(n, &closed); !st.ok()) return st;
    while (!pending_.empty()) pending_.pop();
  }
  mono_start_ns_ = ClockNs(CLOCK_MONOTONIC);
  wall_.realtime_at_start_ns = ClockNs(CLOCK_REALTIME);
  for (NodeId n : all) rec_.NodeStarted(Duration{}, n, nodes_[n].incarnation);
  if (options_.progress) {
    std::fprintf(stderr, "%s: %u namespaces up (corosync %s, token %s), running %s\n", s_.name.c_str(), count,
                 std::string(netns::CorosyncTransportName(netns_options_.corosync_transport)).c_str(),
                 Seconds(TotemToken(s_)).c_str(), Seconds(s_.end()).c_str());
  }

  // ---- the run: faults and changes at their times, events as they come ----
  const std::vector<PlannedChange> plan = harness::ExpandWorkload(s_);
  std::size_t next_change = 0, next_fault = 0;
  Duration next_sample = 1s;
  const Duration end = s_.end();
  for (;;) {
    if (netns::InterruptRequested()) return Interrupted();
    const Duration now = Now();
    // At one instant faults come before changes (scenarios/README.md).
    for (;;) {
      const bool fault_due = next_fault < s_.faults.size() && s_.faults[next_fault].at <= now;
      const bool change_due = next_change < plan.size() && plan[next_change].at <= now;
      if (fault_due && (!change_due || s_.faults[next_fault].at <= plan[next_change].at)) {
        if (Status st = ApplyFault(s_.faults[next_fault++]); !st.ok()) return st;
      } else if (change_due) {
        if (Status st = MakeChange(plan[next_change++]); !st.ok()) return st;
      } else {
        break;
      }
      if (Now() - now > 50ms) break;  // keep reading events while a burst is being made
    }
    if (now >= next_sample || now >= end) {
      // One sample for the seconds that passed (a slow iteration may span more than one).
      while (next_sample + 1s <= std::min(now, end)) next_sample += 1s;
      if (Status st = Sample(std::min(next_sample, end)); !st.ok()) return st;
      if (options_.progress) {
        std::fprintf(stderr, "%s: %.0f s of %.0f s, %zu of %zu changes made, harness lag %.1f ms\n", s_.name.c_str(),
                     static_cast<double>(std::min(now, end).count()) / 1e9, static_cast<double>(end.count()) / 1e9,
                     next_change, plan.size(), static_cast<double>(max_lag_.count()) / 1e6);
      }
      next_sample += 1s;
    }
    for (NodeId n : all) {
      bool connected = false;
      if (nodes_[n].starting) {
        if (Status st = TryConnect(n, Duration{}, &connected); !st.ok()) return st;
      }
    }
    if (now >= end) break;
    Duration wake = std::min(end, next_sample);
    if (next_fault < s_.faults.size()) wake = std::min(wake, s_.faults[next_fault].at);
    if (next_change < plan.size()) wake = std::min(wake, plan[next_change].at);
    if (Status st = PollEvents(std::clamp(wake - Now(), Duration{}, kMaxPoll)); !st.ok()) return st;
    Duration upto = Now() - kReorderHold;
    if (auto earliest = EarliestOutstanding()) upto = std::min(upto, *earliest - 1ns);
    if (Status st = DeliverDue(upto); !st.ok()) return st;
  }
  // A harness that fell so far behind that planned changes or faults were never made has not run
  // the scenario: say so rather than measure a different one.
  if (next_change < plan.size() || next_fault < s_.faults.size()) {
    return Status::FailedPrecondition(
        "netns run: the harness fell behind on this host: " + std::to_string(plan.size() - next_change) + " changes and " +
        std::to_string(s_.faults.size() - next_fault) + " faults were not made by the end (lag " + Seconds(max_lag_) +
        "); fewer nodes, a lower rate, or a less loaded machine");
  }
  for (NodeId n : all) {
    if (nodes_[n].starting) {
      if (Status st = FinishStart(n); !st.ok()) return st;
    }
    if (nodes_[n].up) {
      if (Status st = ReadAnswers(n, true); !st.ok()) return st;
    }
  }
  // Whatever happened up to the end is in the streams within the hold; read it, then stop.
  const auto drain_until = std::chrono::steady_clock::now() + kReorderHold;
  while (std::chrono::steady_clock::now() < drain_until) {
    if (Status st = PollEvents(kMaxPoll); !st.ok()) return st;
  }
  // Events stamped after the end are not part of the run.
  if (Status st = DeliverDue(end); !st.ok()) return st;

  // ---- final views ----
  std::vector<std::optional<harness::FinalView>> finals(count + 1);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> sent(count + 1);
  for (NodeId n : all) {
    Node& node = nodes_[n];
    sent[n] = {node.frames_dead, node.bytes_dead};
    if (!node.up) continue;
    json dump, stats;
    if (Status st = Call(n, {{"op", "dump"}}, &dump); !st.ok()) return st;
    if (Status st = Call(n, {{"op", "stats"}}, &stats); !st.ok()) return st;
    harness::FinalView v;
    if (Status st = daemon_json::ParseFinalView(dump, stats.value("engine", json::object()), wall_, &v); !st.ok()) return st;
    sent[n].first += v.stats.frames_out;
    sent[n].second += v.stats.bytes_out;
    finals[n] = std::move(v);
  }
  outcome->result = rec_.Finish(end, [&](NodeId n) {
    harness::RunRecorder::NodeAtEnd a;
    a.view = finals[n];
    // Frames the engine handed to corosync: a CPG multicast counts once, whatever totem does.
    a.frames_sent = sent[n].first;
    a.bytes_sent = sent[n].second;
    return a;
  });
  outcome->verdicts = harness::EvaluateChecks(s_, outcome->result);
  outcome->info.backend = "netns";
  if (max_lag_ > 100ms) {
    outcome->info.notes.push_back("the harness made some changes up to " + Seconds(max_lag_) +
                                  " after their planned time (recorded at their real time)");
  }
  outcome->info.notes.push_back("corosync " + std::string(netns::CorosyncTransportName(netns_options_.corosync_transport)) +
                                ", totem token " + Seconds(TotemToken(s_)) + "; messages count frames the engines handed "
                                "to CPG (a CPG multicast once)");
  outcome->info.seed = s_.seed;
  outcome->info.series = std::move(series_);
  outcome->info.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  if (options_.out) {
    std::string error;
    if (!harness::WriteRunRecord(*options_.out, s_, outcome->info, outcome->result, outcome->verdicts, &error)) {
      return Status::FailedPrecondition(error);
    }
    if (options_.dump_state) {
      std::vector<std::string> lines;
      for (NodeId n : all) {
        if (finals[n]) harness::AppendNodeState(&lines, n, *finals[n]);
      }
      harness::AppendChangeLog(&lines, outcome->result);
      if (!harness::WriteLines(*options_.out / "state.jsonl", lines, &error)) return Status::FailedPrecondition(error);
    }
  }
  if (options_.progress && max_lag_ > 20ms) {
    std::fprintf(stderr, "%s: note: changes were made up to %.1f ms after their planned time (at their real time)\n",
                 s_.name.c_str(), static_cast<double>(max_lag_.count()) / 1e6);
  }
  return Status::Ok();
}

// Without netem, LAN delays up to this are run without (a veth pair on a bridge adds tens of
// microseconds of its own) and noted in the record; longer ones, and jitter, are refused.
constexpr Duration kMaxUnappliedDelay = 1ms;

Status CheckShaping(const Scenario& s, netns::ShapingMethod method, std::vector<std::string>* notes) {
  if (method == netns::ShapingMethod::kNetem) return Status::Ok();
  const std::string why = "this kernel has no sch_netem (CONFIG_NET_SCH_NETEM), so the netns backend cannot add ";
  const scenario::Site& site = s.topology.sites[0];
  const std::string lan_field = s.topology.named_sites ? "network.sites." + site.name + ".delay" : "network.lan.delay";
  if (site.lan.delay > kMaxUnappliedDelay) {
    return Where(s, site.pos, lan_field, why + "a delay of " + Seconds(site.lan.delay) + " (at most " +
                                             Seconds(kMaxUnappliedDelay) + " is run without it); use --backend ns3");
  }
  if (site.lan.delay > Duration::zero()) {
    notes->push_back("LAN delay " + Seconds(site.lan.delay) + " not applied: the kernel has no sch_netem (loss and "
                     "rate are applied with nftables and tbf)");
  }
  for (const scenario::Fault& f : s.faults) {
    if (const auto* d = std::get_if<scenario::Degrade>(&f.what); d != nullptr && d->delay && *d->delay > kMaxUnappliedDelay) {
      return Where(s, f.pos, "faults.degrade.delay", why + "a delay of " + Seconds(*d->delay) + "; use --backend ns3");
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckNetnsSupport(const Scenario& s) {
  EngineConfig probe = s.engine;
  probe.node_id = 1;
  probe.incarnation = 1;
  probe.membership = MembershipSource::kTransport;
  if (Status st = probe.Validate(); !st.ok()) return Status::InvalidArgument(s.file + ": engine: " + st.message());
  const std::uint32_t count = s.topology.node_count();
  if (s.topology.sites.size() > 1) {
    return Where(s, s.topology.sites[1].pos, "cluster.sites",
                 "the netns backend builds one LAN (one bridge); sites joined by WAN links are not modelled there "
                 "(run this scenario with --backend ns3)");
  }
  if (count > netns::kMaxNodes) {
    return Where(s, s.topology.sites[0].pos, "cluster.nodes",
                 "the netns backend runs at most " + std::to_string(netns::kMaxNodes) +
                     " nodes (real processes on one host); this scenario has " + std::to_string(count));
  }
  if (s.calls) {
    return Where(s, s.calls->pos, "calls",
                 "the netns backend does not route calls yet (run this scenario with --backend ns3)");
  }
  // The daemon's configuration takes whole milliseconds.
  netns::PbxstatedSpec spec;
  spec.control_socket = "/x";
  spec.engine = s.engine;
  std::string text;
  if (Status st = netns::PbxstatedConfig(spec, &text); !st.ok()) return Status::InvalidArgument(s.file + ": " + st.message());
  if (s.engine.max_frame_bytes > 1024 * 1024) {
    return Status::InvalidArgument(s.file + ": engine.max_frame_bytes: pbxstated carries frames up to 1 MiB");
  }
  for (const scenario::Burst& b : s.workload.bursts) {
    const double rate = std::visit([](const auto& w) { return w.rate_per_s; }, b.what);
    if (s.workload.rate_per_s + rate > kMaxChangeRate) {
      return Where(s, b.pos, "workload.bursts",
                   "the netns backend makes changes through control sockets, at most " +
                       std::to_string(static_cast<int>(kMaxChangeRate)) + "/s with the steady rate; this burst asks " +
                       std::to_string(static_cast<long long>(rate)) + "/s");
    }
  }
  if (s.workload.rate_per_s > kMaxChangeRate) {
    return Status::InvalidArgument(s.file + ": workload.rate: the netns backend makes at most " +
                                   std::to_string(static_cast<int>(kMaxChangeRate)) + " changes/s");
  }
  for (const scenario::Fault& f : s.faults) {
    if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
      if (d->jitter) return Where(s, f.pos, "faults.degrade.jitter", "the netns backend's LAN has no jitter");
      netns::NetemParams p = LanNetem(s.topology.sites[0].lan);
      if (d->delay) p.delay = *d->delay;
      if (d->loss) p.loss = *d->loss;
      std::vector<std::string> args;
      if (Status st = netns::NetemArguments(p, &args); !st.ok()) return Where(s, f.pos, "faults.degrade", st.message());
    }
  }
  return Status::Ok();
}

Status FindPbxstated(const NetnsOptions& options, std::filesystem::path* out) {
  std::vector<std::filesystem::path> tried;
  auto usable = [&](const std::filesystem::path& p) {
    tried.push_back(p);
    return !p.empty() && access(p.c_str(), X_OK) == 0;
  };
  if (!options.pbxstated.empty()) {
    if (usable(options.pbxstated)) {
      *out = std::filesystem::absolute(options.pbxstated);
      return Status::Ok();
    }
    return Status::InvalidArgument("--pbxstated " + options.pbxstated.string() + ": not an executable file");
  }
  if (const char* env = std::getenv("PBXSTATED"); env != nullptr && usable(env)) {
    *out = env;
    return Status::Ok();
  }
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // The build tree: <build>/sim/cli/pbxstate and <build>/daemon/pbxstated.
    const auto p = self.parent_path().parent_path().parent_path() / "daemon" / "pbxstated";
    if (usable(p)) {
      *out = p;
      return Status::Ok();
    }
    if (usable(self.parent_path() / "pbxstated")) {
      *out = self.parent_path() / "pbxstated";
      return Status::Ok();
    }
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  for (std::size_t a = 0; a <= dirs.size();) {
    const std::size_t b = std::min(dirs.find(':', a), dirs.size());
    if (b > a && usable(std::filesystem::path(dirs.substr(a, b - a)) / "pbxstated")) {
      *out = std::filesystem::path(dirs.substr(a, b - a)) / "pbxstated";
      return Status::Ok();
    }
    a = b + 1;
  }
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t.string();
  return Status::FailedPrecondition("pbxstated not found (build the pbxstated target, or give --pbxstated or $PBXSTATED); looked at " + where);
}

Status RunNetns(const Scenario& scenario_in, const RunOptions& options, RunOutcome* outcome,
                const NetnsOptions& netns_options) {
  Scenario s = scenario_in;
  if (options.seed) s.seed = *options.seed;
  // Each pbxstated reads it from a key file of its own (SpawnDaemon writes them, mode 0600).
  if (s.auth) s.engine.cluster_keys = {scenario::ScenarioClusterKey(s.seed)};
  if (Status st = CheckNetnsSupport(s); !st.ok()) return st;
  std::filesystem::path daemon;
  if (Status st = FindPbxstated(netns_options, &daemon); !st.ok()) return st;
  // From here on something may be created: SIGINT/SIGTERM only ask the run to stop.
  netns::InterruptGuard interrupts;
  if (Status st = netns::CheckHostSupport(); !st.ok()) return Status::FailedPrecondition("netns backend: " + st.message());

  std::vector<std::string> removed;
  (void)netns::RemoveStaleRuns(&removed);
  if (options.progress) {
    for (const auto& r : removed) std::fprintf(stderr, "netns: removed a leftover of a killed run: %s\n", r.c_str());
  }

  // The link: netem where the kernel has it; elsewhere loss and rate only (shaping.h). A
  // delay that small is run without and said so; anything more is refused before we start.
  const netns::ShapingMethod shaping =
      netns::KernelHasNetem() ? netns::ShapingMethod::kNetem : netns::ShapingMethod::kNftablesTbf;
  std::vector<std::string> notes;
  if (Status st = CheckShaping(s, shaping, &notes); !st.ok()) return st;
  if (options.progress) {
    for (const auto& n : notes) std::fprintf(stderr, "netns: note: %s\n", n.c_str());
  }

  netns::ClusterSpec spec;
  spec.shaping = shaping;
  spec.nodes = s.topology.node_count();
  spec.work_dir = !netns_options.work_dir.empty() ? netns_options.work_dir
                  : options.out                   ? *options.out / "netns"
                                                  : std::filesystem::temp_directory_path();
  spec.corosync_transport = netns_options.corosync_transport;
  spec.token = TotemToken(s);
  spec.lan = LanNetem(s.topology.sites[0].lan);
  std::unique_ptr<netns::NetnsCluster> cluster;
  if (Status st = netns::NetnsCluster::Create(spec, &cluster); !st.ok()) return st;

  Status result;
  try {
    NetnsRun run(s, options, netns_options, daemon, cluster.get());
    outcome->info.notes = notes;
    result = run.Run(outcome);
  } catch (const std::exception& e) {
    result = Status::FailedPrecondition(std::string("netns run: ") + e.what());
  }
  const Status down = cluster->Teardown();
  if (result.ok() && !down.ok()) return Status::FailedPrecondition("netns teardown: " + down.message());
  if (!down.ok()) std::fprintf(stderr, "netns teardown: %s\n", down.message().c_str());
  return result;
}

}  // namespace pbxstate::runner
