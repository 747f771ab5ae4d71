// The daemons' run-queue wait (pbxstate/runner/daemon_wait.h): schedstat parsing, the per-interval
// arithmetic, the reads of /proc and the sampler the netns and emu runs drive.
#include "pbxstate/runner/daemon_wait.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

namespace pbxstate::runner {

Status ParseSchedstat(std::string_view text, const std::string& file, std::uint64_t* wait_ns) {
  // Three unsigned decimal fields separated by single spaces, then a newline (fs/proc/base.c,
  // proc_pid_schedstat).
  static constexpr const char* kFields[] = {"on-cpu time (ns)", "run-queue wait (ns)", "timeslices"};
  std::uint64_t values[3] = {};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    const auto [next, ec] = std::from_chars(p, end, values[i]);
    const char want = i < 2 ? ' ' : '\n';
    if (ec != std::errc() || next == end || *next != want) {
      return Status::InvalidArgument(file + ":1: field " + std::to_string(i + 1) + " (" + kFields[i] +
                                     "): expected a number followed by " + (i < 2 ? "a space" : "a newline") +
                                     ", found \"" + std::string(text.substr(0, 64)) + "\"");
    }
    p = next + 1;
  }
  if (p != end) return Status::InvalidArgument(file + ":2: expected the end after three fields");
  *wait_ns = values[1];
  return Status::Ok();
}

void WaitTally::Add(Duration t, std::vector<ThreadWait> threads, std::uint32_t unread) {
  std::sort(threads.begin(), threads.end(), [](const ThreadWait& a, const ThreadWait& b) { return a.tid < b.tid; });
  threads_ = std::max(threads_, static_cast<std::uint32_t>(threads.size()));
  threads_unread_ = std::max(threads_unread_, unread);
  std::uint64_t waited = 0;
  auto last = last_.begin();
  for (const ThreadWait& now : threads) {
    while (last != last_.end() && last->tid < now.tid) ++last;
    // Only a thread read in the previous sample, with a count that did not go down, has a base
    // there; any other sets its base now.
    if (last != last_.end() && last->tid == now.tid && last->wait_ns <= now.wait_ns) {
      waited += now.wait_ns - last->wait_ns;
    }
  }
  assert(based_ || waited == 0);  // the first sample is every thread's base
  const Duration d(static_cast<Duration::rep>(waited));
  total_ += d;
  if (d > worst_) {
    worst_ = d;
    worst_at_ = t;
  }
  based_ = true;
  last_ = std::move(threads);
}

namespace {

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};

// The file's first bytes (a schedstat line is under 64); false when it is gone (the thread
// exited), an error otherwise.
Status ReadSmall(const std::string& file, std::string* text, bool* gone) {
  *gone = false;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *gone = errno == ESRCH;
    if (errno == ENOENT) return Status::FailedPrecondition(file + ": no such file (a kernel without schedstat)");
    return *gone ? Status::Ok() : Status::FailedPrecondition(file + ": " + std::strerror(errno));
  }
  char buf[96];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  const int err = errno;
  ::close(fd);
  if (n < 0) {
    *gone = err == ESRCH;
    return *gone ? Status::Ok() : Status::FailedPrecondition(file + ": " + std::strerror(err));
  }
  text->assign(buf, static_cast<std::size_t>(n));
  return Status::Ok();
}

// The kMaxSampledThreads lowest thread ids listed in `dir` (/proc/PID/task) into `tids` (sorted),
// the others counted in *unread. Holds at most kMaxSampledThreads ids whatever the process has.
void LowestThreadIds(DIR* dir, std::vector<pid_t>* tids, std::uint32_t* unread) {
  tids->clear();
  *unread = 0;
  while (dirent* e = readdir(dir)) {
    pid_t tid = 0;
    const char* name = e->d_name;
    const auto [p, ec] = std::from_chars(name, name + std::strlen(name), tid);
    if (ec != std::errc() || *p != '\0') continue;  // "." and ".."
    if (tids->size() < kMaxSampledThreads) {
      tids->push_back(tid);
      std::push_heap(tids->begin(), tids->end());  // a max-heap: the highest id kept is at the front
      continue;
    }
    ++*unread;
    if (tid < tids->front()) {  // keep the lower id, count the highest kept as unread instead
      std::pop_heap(tids->begin(), tids->end());
      tids->back() = tid;
      std::push_heap(tids->begin(), tids->end());
    }
  }
  std::sort_heap(tids->begin(), tids->end());
  assert(tids->size() <= kMaxSampledThreads);
}

}  // namespace

Status ReadThreadWaits(pid_t pid, std::vector<ThreadWait>* out, std::uint32_t* unread) {
  out->clear();
  *unread = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::unique_ptr<DIR, DirCloser> d(opendir(dir.c_str()));
  if (!d) {
    const int err = errno;
    return err == ENOENT || err == ESRCH ? Status::Ok() : Status::FailedPrecondition(dir + ": " + std::strerror(err));
  }
  std::vector<pid_t> tids;
  tids.reserve(kMaxSampledThreads);
  LowestThreadIds(d.get(), &tids, unread);
  std::string text;
  for (const pid_t tid : tids) {
    const std::string task = dir + "/" + std::to_string(tid);
    const std::string file = task + "/schedstat";
    bool gone = false;
    if (Status st = ReadSmall(file, &text, &gone); !st.ok()) {
      // A task listed a moment ago whose folder is gone has exited; a missing file in a folder
      // that is there is a kernel without the counter.
      if (access(task.c_str(), F_OK) != 0) continue;
      return st;
    }
    if (gone) continue;
    ThreadWait w{.tid = tid};
    if (Status st = ParseSchedstat(text, file, &w.wait_ns); !st.ok()) return st;
    out->push_back(w);
  }
  return Status::Ok();
}

std::string_view DaemonName(Daemon d) { return d == Daemon::kCorosync ? "corosync" : "pbxstated"; }

DaemonWaitSampler::DaemonWaitSampler(std::uint32_t nodes, PidOf pid_of)
    : pid_of_(std::move(pid_of)), tallies_(2 * static_cast<std::size_t>(nodes)) {
  scratch_.reserve(kMaxSampledThreads);
}

void DaemonWaitSampler::MaybeSample(Duration t) {
  if (!unavailable_.empty() || t < next_) return;
  const auto began = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < tallies_.size(); ++i) {
    const NodeId node = static_cast<NodeId>(i / 2 + 1);
    const Daemon daemon = i % 2 == 0 ? Daemon::kCorosync : Daemon::kPbxstated;
    const pid_t pid = pid_of_(node, daemon);
    scratch_.clear();
    scratch_unread_ = 0;
    if (pid > 0) {
      if (Status st = ReadThreadWaits(pid, &scratch_, &scratch_unread_); !st.ok()) {
        unavailable_ = "the daemons' wait for a CPU was not recorded: " + st.message();
        return;
      }
    }
    tallies_[i].Add(t, scratch_, scratch_unread_);
  }
  longest_sample_ = std::max(longest_sample_, Duration(std::chrono::steady_clock::now() - began));
  if (last_t_) longest_interval_ = std::max(longest_interval_, t - *last_t_);
  last_t_ = t;
  ++samples_;
  // The next on the grid of kDaemonWaitInterval after t: a late sample does not bring the next
  // closer.
  next_ = (t / kDaemonWaitInterval + 1) * kDaemonWaitInterval;
}

std::optional<harness::DaemonWaits> DaemonWaitSampler::Record() const {
  if (!unavailable_.empty() || samples_ == 0) return std::nullopt;
  harness::DaemonWaits w;
  w.interval = kDaemonWaitInterval;
  w.samples = samples_;
  w.longest_interval = longest_interval_;
  w.longest_sample = longest_sample_;
  w.bound = kMaxDaemonWait;
  w.max_threads = static_cast<std::uint32_t>(kMaxSampledThreads);
  for (std::size_t i = 0; i < tallies_.size(); ++i) {
    const WaitTally& tally = tallies_[i];
    w.daemons.push_back({.node = static_cast<NodeId>(i / 2 + 1),
                         .daemon = std::string(DaemonName(i % 2 == 0 ? Daemon::kCorosync : Daemon::kPbxstated)),
                         .worst = tally.worst(),
                         .worst_at = tally.worst_at(),
                         .total = tally.total(),
                         .threads = tally.threads(),
                         .threads_unread = tally.threads_unread()});
  }
  return w;
}

}  // namespace pbxstate::runner
