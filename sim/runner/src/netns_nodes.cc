// Each node's pbxstated during a namespace run: its configuration (and key file), its start,
// the connections the harness keeps to it, and request/response calls.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "netns_run.h"
#include "pbxstate/netns/interrupt.h"
#include "pbxstate/netns/pbxstated_config.h"

namespace pbxstate::runner::netns_run {

using control::Op;
using control::Request;

Status NetnsRun::WriteDaemonConfig(NodeId n) {
  Node& node = nodes_[n];
  const std::filesystem::path dir = cluster_->NodeDir(n);
  netns::PbxstatedSpec spec;
  spec.control_socket = node.socket;
  spec.group = "pbxstate";
  spec.label = "node" + std::to_string(n);
  spec.random_seed = s_.seed * 1000 + n;
  spec.engine = scenario::EngineConfigOf(s_);
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
  std::ofstream f(node.config, std::ios::trunc);
  f << text;
  if (!f) return Status::FailedPrecondition(node.config.string() + ": cannot write");
  return Status::Ok();
}

Status NetnsRun::SpawnDaemon(NodeId n) {
  Node& node = nodes_[n];
  node.socket = (cluster_->RunDir() / ("n" + std::to_string(n) + ".sock")).string();
  if (node.socket.size() > 107) {
    node.socket = "/tmp/" + cluster_->names().Tag() + "-n" + std::to_string(n) + ".sock";
  }
  std::filesystem::remove(node.socket);
  if (Status st = WriteDaemonConfig(n); !st.ok()) return st;
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
  *connected = false;
  // Subscribe first, as early as the socket answers, so no view change of the new incarnation
  // (its catch-up) is missed; then ask who it is. A daemon that exits instead fails at once.
  const std::string log = (cluster_->NodeDir(n) / "pbxstated.log").string();
  std::int64_t t_sub = 0;
  Status st = control::EventStream::Open(node.socket, wait, &node.events, &t_sub);
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
  // The stream's first line (the transport view in force) may have come with the answer.
  node.view = control::TransportViewEvent{};
  bool closed = false;
  if (Status r = ReadEvents(n, &closed); !r.ok()) return r;
  if (Status c = control::Client::Connect(node.socket, kCallTimeout, &node.control); !c.ok()) return c;
  if (Status c = control::Client::Connect(node.socket, kCallTimeout, &node.writer); !c.ok()) return c;
  if (calls_ != nullptr) {
    if (Status c = control::Client::Connect(node.socket, kCallTimeout, &node.locator); !c.ok()) return c;
    calls_->locating[n].clear();
  }
  node.queue.Clear();
  node.stats_asked = 0;
  node.in_sample = false;
  control::HelloReply hello;
  if (Status h = Call(n, Request::Simple(Op::kHello), &hello); !h.ok()) return h;
  if (hello.node != n) {
    return Status::FailedPrecondition("pbxstated in namespace " + cluster_->names().Namespace(n) + " says it is node " +
                                      std::to_string(hello.node) + ", not " + std::to_string(n));
  }
  node.incarnation = hello.incarnation;
  node.up = true;
  node.starting = false;
  node.last_stats = EngineStats{};
  *connected = true;
  // At the bring-up (before time 0) the daemons start empty and nothing is recorded yet.
  return mono_start_ns_ != 0 ? RecordCatchUp(n) : Status::Ok();
}

Status NetnsRun::RecordCatchUp(NodeId n) {
  Node& node = nodes_[n];
  // Every event stamped before `since` reached the engine before the listing, so the listing
  // shows it or what replaced it: recording the listing at `since` keeps each slot's order. An
  // entry that changed from `since` on may be listed before or after its change; its events,
  // published before the daemon answers and so read with the answer (FinishCatchUp), say which.
  node.listing_since = Now();
  node.changed_while_listing.clear();
  if (Status st = node.control->Send(Request::Simple(Op::kDump), kCallTimeout); !st.ok()) {
    return Status::FailedPrecondition("node " + std::to_string(n) + ": dump: " + st.message());
  }
  return Status::Ok();
}

Status NetnsRun::FinishCatchUp(NodeId n, const nlohmann::json& answer) {
  Node& node = nodes_[n];
  assert(node.listing_since);
  const Duration since = *node.listing_since;
  control::Reply reply;
  Status st = control::DecodeReply(Op::kDump, answer, &reply);
  bool closed = false;
  if (st.ok()) st = ReadEvents(n, &closed);
  node.listing_since.reset();
  if (!st.ok()) return Status::FailedPrecondition("node " + std::to_string(n) + ": dump: " + st.message());
  for (control::OwnedViewChange& c : HarnessCatchUp(std::get<control::DumpReply>(reply), wall_)) {
    if (node.changed_while_listing.count({c.change().kind, std::string(c.change().key)}) != 0) continue;
    RecordView(since, n, std::move(c));
  }
  node.changed_while_listing.clear();
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
  const std::vector<NodeId> all = AllNodes();
  std::string last;
  for (;;) {
    bool ok = true;
    for (NodeId n : all) {
      control::MembersReply r;
      if (Status st = Call(n, Request::Simple(Op::kMembers), &r); !st.ok()) return st;
      if (r.members != all) {
        ok = false;
        last = "node " + std::to_string(n) + " sees [";
        for (std::size_t i = 0; i < r.members.size(); ++i) last += (i ? ", " : "") + std::to_string(r.members[i]);
        last += "]";
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

}  // namespace pbxstate::runner::netns_run
