#include "pbxstate/corosync/cpg_env.h"

#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "pbxstate/check.h"
#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::corosync {

CpgEnv::CpgEnv(CpgEnvConfig config, CpgTransport::LogFn log)
    : log_(log), transport_(std::move(config.transport), this, log), seed_(config.random_seed) {
  if (seed_ == 0) {
    while (seed_ == 0) {
      if (getrandom(&seed_, sizeof seed_, 0) != static_cast<ssize_t>(sizeof seed_)) seed_ = static_cast<std::uint64_t>(PosixMonoNs());
    }
  }
  random_ = SplitMix64(seed_);  // the inproc network's generator: a seed means the same
}

Status CpgEnv::Create(CpgEnvConfig config, CpgTransport::LogFn log, std::unique_ptr<CpgEnv>* out) {
  out->reset();
  std::unique_ptr<CpgEnv> env(new CpgEnv(std::move(config), std::move(log)));
  if (Status s = env->Open(); !s.ok()) return s;
  env->Log(LogLevel::kInfo, "random seed " + std::to_string(env->seed_));
  *out = std::move(env);
  return Status::Ok();
}

Status CpgEnv::Open() {
  if (!transport_.open_status().ok()) return transport_.open_status();
  if (Status s = wakeup_.Open(); !s.ok()) return s;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Status::FailedPrecondition(std::string("epoll_create1: ") + std::strerror(errno));
  for (int fd : {transport_.fd(), wakeup_.fd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Status::FailedPrecondition(std::string("epoll_ctl(add): ") + std::strerror(errno));
    }
  }
  return Status::Ok();
}

CpgEnv::~CpgEnv() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void CpgEnv::Attach(Engine* engine) {
  PBXSTATE_CHECK(engine == nullptr || engine->node_id() == transport_.local_node());
  direct_.engine = engine;
  AttachUpcalls(engine == nullptr ? nullptr : &direct_);
}

void CpgEnv::AttachUpcalls(EngineUpcalls* upcalls) {
  upcalls_ = upcalls;
  if (upcalls_ != nullptr && stats_.frames_before_attach > frames_dropped_logged_) {
    // The group's frames between the CPG join and the engine: the engine's catch-up must bring
    // what they carried. Said once per attach, so a late catch-up can be traced to them.
    Log(LogLevel::kInfo, std::to_string(stats_.frames_before_attach - frames_dropped_logged_) +
                             " frame(s) arrived before the engine was attached and were dropped");
    frames_dropped_logged_ = stats_.frames_before_attach;
  }
  if (upcalls_ != nullptr && view_pending_) {
    view_pending_ = false;
    upcalls_->OnMembership(transport_.view());
  }
}

void CpgEnv::Dispatch() {
  transport_.Dispatch();
  const auto due = wakeup_.armed_at();
  if (due && Now() >= *due) {
    wakeup_.Drain();
    wakeup_.Disarm();
    if (upcalls_ != nullptr) {
      ++stats_.wakeups;
      upcalls_->OnTimer();  // may re-arm through ScheduleWakeup
    }
  }
}

MonoTime CpgEnv::Now() { return PosixMonoNow(); }
WallTime CpgEnv::WallNow() { return PosixWallNow(); }

void CpgEnv::ScheduleWakeup(MonoTime at) { wakeup_.ArmAt(at); }

std::uint64_t CpgEnv::Random() { return random_.Next(); }

void CpgEnv::Log(LogLevel level, std::string_view message) {
  if (log_) log_(level, message);
}

void CpgEnv::OnFrame(NodeId from, std::span<const std::uint8_t> frame) {
  if (upcalls_ == nullptr) {
    ++stats_.frames_before_attach;
    return;
  }
  upcalls_->OnFrame(from, frame);
}

void CpgEnv::OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame) {
  if (upcalls_ != nullptr) upcalls_->OnOverheard(from, to, frame);  // before attach: for no one here
}

void CpgEnv::OnView(const MembershipView& view) {
  if (upcalls_ == nullptr) {
    view_pending_ = true;
    return;
  }
  upcalls_->OnMembership(view);
}

void CpgEnv::BeginBatch() {
  PBXSTATE_CHECK(!in_batch_);
  in_batch_ = true;
}

void CpgEnv::EndBatch() {
  PBXSTATE_CHECK(in_batch_);
  in_batch_ = false;
  if (transport_.backlog() == 0) OnSendReady();
}

void CpgEnv::OnSendReady() {
  if (upcalls_ != nullptr) upcalls_->OnSendReady();
}

}  // namespace pbxstate::corosync
