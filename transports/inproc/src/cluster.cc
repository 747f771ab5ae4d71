#include "pbxstate/inproc/cluster.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "cluster_impl.h"

// The public API of cluster.h over Cluster::Impl (cluster_impl.h, which says where each part of
// the network lives).
namespace pbxstate::inproc {

std::string_view DropCauseName(DropCause cause) {
  switch (cause) {
    case DropCause::kLoss: return "loss";
    case DropCause::kPartition: return "partition";
    case DropCause::kDeadNode: return "dead_node";
    case DropCause::kQueueFull: return "queue_full";
    case DropCause::kTooLarge: return "too_large";
    case DropCause::kCount: break;
  }
  return "?";
}

std::string_view TraceKindName(TraceKind kind) {
  switch (kind) {
    case TraceKind::kDelivered: return "delivered";
    case TraceKind::kDropped: return "dropped";
    case TraceKind::kViewChange: return "view_change";
    case TraceKind::kMembersChanged: return "members_changed";
    case TraceKind::kMembership: return "membership";
    case TraceKind::kCrash: return "crash";
    case TraceKind::kStart: return "start";
  }
  return "?";
}

Status Cluster::Create(const ClusterOptions& options, std::unique_ptr<Cluster>* out) {
  if (out == nullptr) return Status::InvalidArgument("Cluster::Create: out is null");
  if (options.max_events_per_instant == 0) return Status::InvalidArgument("max_events_per_instant is 0");
  auto valid_faults = [](const LinkFaults& f) {
    auto prob = [](double p) { return p >= 0.0 && p <= 1.0; };
    return f.delay >= Duration::zero() && f.jitter >= Duration::zero() &&
           f.reorder_delay >= Duration::zero() && prob(f.loss) && prob(f.duplicate) && prob(f.reorder);
  };
  if (!valid_faults(options.link)) return Status::InvalidArgument("link faults out of range");
  if (options.membership_delay < Duration::zero()) return Status::InvalidArgument("membership_delay < 0");
  auto impl = std::make_unique<Impl>(options);
  for (std::size_t i = 0; i < options.nodes; ++i) {
    Status s = impl->AddNode(nullptr);
    if (!s.ok()) return s;
  }
  out->reset(new Cluster(std::move(impl)));
  return Status::Ok();
}

Cluster::Cluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Cluster::~Cluster() {
  // Engines first: an engine must not outlive its env.
  for (auto& n : impl_->nodes_) n.engine.reset();
}

Status Cluster::Advance(Duration d) {
  if (d < Duration::zero()) return Status::InvalidArgument("Advance: negative duration");
  return impl_->RunUntil(impl_->now_ + d);
}

Status Cluster::RunUntil(MonoTime at) { return impl_->RunUntil(at); }
Status Cluster::RunBefore(MonoTime at) { return impl_->RunUntil(at, /*inclusive=*/false); }
MonoTime Cluster::now() const { return impl_->now_; }
WallTime Cluster::wall_now() const { return impl_->WallNow(); }
WallTime Cluster::Epoch() { return kSimEpoch; }

Status Cluster::Partition(const std::vector<std::vector<std::size_t>>& groups) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  std::size_t n = impl_->nodes_.size();
  std::vector<std::size_t> group(n, Impl::kNone);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::size_t i : groups[g]) {
      if (i >= n) return Status::InvalidArgument("Partition: no node " + std::to_string(i));
      if (group[i] != Impl::kNone) return Status::InvalidArgument("Partition: node " + std::to_string(i) + " listed twice");
      group[i] = g;
    }
  }
  // Unlisted nodes each get a group of their own, numbered after the listed ones.
  std::size_t next = groups.size();
  for (std::size_t i = 0; i < n; ++i) {
    impl_->nodes_[i].group = group[i] != Impl::kNone ? group[i] : next++;
  }
  impl_->next_group_ = next;
  impl_->partitioned_ = true;
  impl_->RecomputeViews();
  return Status::Ok();
}

Status Cluster::CutLink(std::size_t from, std::size_t to) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  if (from >= size() || to >= size() || from == to) return Status::InvalidArgument("CutLink: bad link");
  impl_->cut_[from][to] = true;
  impl_->RecomputeViews();
  return Status::Ok();
}

Status Cluster::CutLinks(const std::vector<std::size_t>& from, const std::vector<std::size_t>& to) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  for (const auto* side : {&from, &to}) {
    for (std::size_t i : *side) {
      if (i >= size()) return Status::InvalidArgument("CutLinks: no node " + std::to_string(i));
    }
  }
  for (std::size_t a : from) {
    for (std::size_t b : to) {
      if (a != b) impl_->cut_[a][b] = true;
    }
  }
  impl_->RecomputeViews();
  return Status::Ok();
}

Status Cluster::RestoreLink(std::size_t from, std::size_t to) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  if (from >= size() || to >= size() || from == to) return Status::InvalidArgument("RestoreLink: bad link");
  impl_->cut_[from][to] = false;
  impl_->RecomputeViews();
  return Status::Ok();
}

void Cluster::BeginTopologyChange() {
  PBXSTATE_CHECK(!impl_->in_callback_ && !impl_->in_topology_change_);
  impl_->in_topology_change_ = true;
  impl_->views_due_ = false;
}

void Cluster::EndTopologyChange() {
  PBXSTATE_CHECK(impl_->in_topology_change_);
  impl_->in_topology_change_ = false;
  if (impl_->views_due_) impl_->RecomputeViews();
  impl_->views_due_ = false;
}

void Cluster::Heal() {
  PBXSTATE_CHECK(!impl_->in_callback_);
  for (auto& n : impl_->nodes_) n.group = 0;
  for (auto& row : impl_->cut_) std::fill(row.begin(), row.end(), false);
  impl_->next_group_ = 1;
  impl_->partitioned_ = false;
  impl_->RecomputeViews();
}

Status Cluster::SetLinkFaults(std::size_t from, std::size_t to, const LinkFaults& faults) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  if (from >= size() || to >= size() || from == to) return Status::InvalidArgument("SetLinkFaults: bad link");
  auto prob = [](double p) { return p >= 0.0 && p <= 1.0; };
  if (faults.delay < Duration::zero() || faults.jitter < Duration::zero() ||
      faults.reorder_delay < Duration::zero() || !prob(faults.loss) || !prob(faults.duplicate) ||
      !prob(faults.reorder)) {
    return Status::InvalidArgument("SetLinkFaults: value out of range");
  }
  impl_->links_[from][to] = faults;
  return Status::Ok();
}

Status Cluster::SetAllLinkFaults(const LinkFaults& faults) {
  for (std::size_t i = 0; i < size(); ++i) {
    for (std::size_t j = 0; j < size(); ++j) {
      if (i == j) continue;
      Status s = SetLinkFaults(i, j, faults);
      if (!s.ok()) return s;
    }
  }
  impl_->options_.link = faults;  // for nodes added later
  return Status::Ok();
}

bool Cluster::Reachable(std::size_t from, std::size_t to) const {
  if (from >= size() || to >= size() || from == to) return false;
  return up(from) && up(to) && impl_->Connected(from, to) && impl_->SameView(from, to);
}

Status Cluster::Crash(std::size_t i) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  return impl_->Crash(i);
}

Status Cluster::Restart(std::size_t i) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  if (i >= size()) return Status::InvalidArgument("Restart: no node " + std::to_string(i));
  if (impl_->nodes_[i].engine) return Status::FailedPrecondition("Restart: node " + std::to_string(i) + " is up");
  return impl_->StartNode(i);
}

Status Cluster::AddNode(std::size_t* index) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  return impl_->AddNode(index);
}

std::size_t Cluster::size() const { return impl_->nodes_.size(); }
bool Cluster::up(std::size_t i) const { return i < size() && impl_->nodes_[i].engine != nullptr; }

std::vector<std::size_t> Cluster::UpNodes() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < size(); ++i) {
    if (up(i)) out.push_back(i);
  }
  return out;
}

Engine* Cluster::engine(std::size_t i) { return i < size() ? impl_->nodes_[i].engine.get() : nullptr; }
const Engine* Cluster::engine(std::size_t i) const {
  return i < size() ? impl_->nodes_[i].engine.get() : nullptr;
}
std::uint64_t Cluster::incarnation(std::size_t i) const { return i < size() ? impl_->nodes_[i].incarnation : 0; }

namespace {
Status Down(std::size_t i) { return Status::FailedPrecondition("node " + std::to_string(i) + " is down"); }
}  // namespace

Status Cluster::SetDeviceState(std::size_t i, std::string_view device, DeviceState state) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  Engine* e = engine(i);
  return e ? e->SetDeviceState(device, state) : Down(i);
}

Status Cluster::SetMailbox(std::size_t i, std::string_view mailbox, const MailboxCounts& counts) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  Engine* e = engine(i);
  return e ? e->SetMailbox(mailbox, counts) : Down(i);
}

Status Cluster::SetRegistration(std::size_t i, std::string_view aor, std::string_view contact,
                                Duration expires_in) {
  RegistrationInfo info;
  info.contact = std::string(contact);
  info.expires = wall_now() + expires_in;
  return SetRegistration(i, aor, info);
}

Status Cluster::SetRegistration(std::size_t i, std::string_view aor, const RegistrationInfo& info) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  Engine* e = engine(i);
  return e ? e->SetRegistration(aor, info) : Down(i);
}

Status Cluster::RemoveRegistration(std::size_t i, std::string_view aor) {
  PBXSTATE_CHECK(!impl_->in_callback_);
  Engine* e = engine(i);
  return e ? e->RemoveRegistration(aor) : Down(i);
}

std::optional<DeviceState> Cluster::DeviceStateAt(std::size_t i, std::string_view device) const {
  const Engine* e = engine(i);
  return e ? e->ClusterDeviceState(device) : std::nullopt;
}

std::optional<MailboxValue> Cluster::MailboxAt(std::size_t i, std::string_view mailbox) const {
  const Engine* e = engine(i);
  return e ? e->Mailbox(mailbox) : std::nullopt;
}

std::vector<RegistrationView> Cluster::RegistrationsAt(std::size_t i, std::string_view aor) const {
  const Engine* e = engine(i);
  return e ? e->Registrations(aor) : std::vector<RegistrationView>{};
}

bool Cluster::Converged() const {
  std::vector<NodeId> live;
  for (std::size_t i : UpNodes()) live.push_back(IdOf(i));
  std::optional<ViewDigest> first;
  for (std::size_t i : UpNodes()) {
    const Engine* e = engine(i);
    if (e->Members() != live) return false;
    ViewDigest d = e->Digest();
    if (!first) {
      first = d;
    } else if (d != *first) {
      return false;
    }
  }
  return true;
}

EngineStats Cluster::stats(std::size_t i) const {
  const Engine* e = engine(i);
  return e ? e->stats() : EngineStats{};
}

const NodeCounters& Cluster::counters(std::size_t i) const {
  PBXSTATE_CHECK(i < size());
  return impl_->nodes_[i].counters;
}

const LinkCounters& Cluster::link_counters(std::size_t from, std::size_t to) const {
  PBXSTATE_CHECK(from < size() && to < size());
  return impl_->link_counters_[from][to];
}

void Cluster::ResetLinkMaxima() {
  for (auto& row : impl_->link_counters_) {
    for (auto& lc : row) lc.max_in_flight = lc.in_flight;
  }
}

std::size_t Cluster::frames_in_flight() const { return impl_->frames_queued_ + impl_->frames_held_; }

void Cluster::SetTraceHook(std::function<void(const TraceEvent&)> hook) { impl_->trace_hook_ = std::move(hook); }
std::uint64_t Cluster::TraceHash() const { return impl_->hasher_.value(); }
void Cluster::SetLogHook(std::function<void(std::size_t, LogLevel, std::string_view)> hook) {
  impl_->log_hook_ = std::move(hook);
}
const ClusterOptions& Cluster::options() const { return impl_->options_; }

}  // namespace pbxstate::inproc
