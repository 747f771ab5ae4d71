#include "pbxstate/corosync/cpg_env.h"

#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include <cassert>
#include <string>

#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::corosync {

namespace {
// SplitMix64's finaliser: the same generator the inproc network uses, so seeds mean the same.
std::uint64_t Mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

CpgEnv::CpgEnv(CpgEnvConfig config, CpgTransport::LogFn log)
    : log_(log), transport_(std::move(config.transport), this, log), seed_(config.random_seed) {
  if (seed_ == 0) {
    while (seed_ == 0) {
      if (getrandom(&seed_, sizeof seed_, 0) != static_cast<ssize_t>(sizeof seed_)) seed_ = static_cast<std::uint64_t>(PosixMonoNs());
    }
  }
  random_state_ = seed_;
  const Status timer_status = wakeup_.Open();
  assert(timer_status.ok());
  (void)timer_status;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  assert(epoll_fd_ >= 0);
  for (int fd : {transport_.fd(), wakeup_.fd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    const int rc = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    assert(rc == 0);
    (void)rc;
  }
  Log(LogLevel::kInfo, "random seed " + std::to_string(seed_));
}

CpgEnv::~CpgEnv() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void CpgEnv::Attach(Engine* engine) {
  assert(engine == nullptr || engine->node_id() == transport_.local_node());
  direct_.engine = engine;
  AttachUpcalls(engine == nullptr ? nullptr : &direct_);
}

void CpgEnv::AttachUpcalls(EngineUpcalls* upcalls) {
  upcalls_ = upcalls;
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

std::uint64_t CpgEnv::Random() {
  random_state_ += 0x9e3779b97f4a7c15ULL;
  return Mix64(random_state_);
}

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

void CpgEnv::OnView(const MembershipView& view) {
  if (upcalls_ == nullptr) {
    view_pending_ = true;
    return;
  }
  upcalls_->OnMembership(view);
}

void CpgEnv::BeginBatch() {
  assert(!in_batch_);
  in_batch_ = true;
}

void CpgEnv::EndBatch() {
  assert(in_batch_);
  in_batch_ = false;
  if (transport_.backlog() == 0) OnSendReady();
}

void CpgEnv::OnSendReady() {
  if (upcalls_ != nullptr) upcalls_->OnSendReady();
}

}  // namespace pbxstate::corosync
