#include "pbxstate/emu/timer_interrupts.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace pbxstate::emu {

namespace {

constexpr std::string_view kEvent = ": local_timer_entry:";
constexpr std::string_view kEventDir = "events/irq_vectors/local_timer_entry";

}  // namespace

std::int64_t ParseTraceStamp(std::string_view s) {
  const std::size_t dot = s.find('.');
  if (dot == std::string_view::npos || s.size() - dot - 1 != 6) return -1;
  std::int64_t sec = 0, us = 0;
  const char* end = s.data() + dot;
  if (std::from_chars(s.data(), end, sec).ptr != end) return -1;
  end = s.data() + s.size();
  if (std::from_chars(s.data() + dot + 1, end, us).ptr != end) return -1;
  return sec * 1'000'000'000 + us * 1'000;
}

int ParseTraceCpu(std::string_view head) {
  const std::size_t open = head.rfind('[');
  const std::size_t close = head.find(']', open == std::string_view::npos ? 0 : open);
  if (open == std::string_view::npos || close == std::string_view::npos) return -1;
  int cpu = -1;
  const auto [ptr, ec] = std::from_chars(head.data() + open + 1, head.data() + close, cpu);
  return ec == std::errc() && ptr == head.data() + close ? cpu : -1;
}

TimerInterrupts::~TimerInterrupts() { Close(); }

TimerInterrupts::TimerInterrupts(Duration tick) : tick_(tick) { assert(tick > Duration::zero()); }

std::int64_t TimerInterrupts::allowance() const { return GapAllowance(tick_).count(); }

Status TimerInterrupts::Open(const Options& options) {
  if (instance_.exists()) return Status::FailedPrecondition("timer interrupts: open already");
  options_ = options;
  Status st = instance_.Create(options.tracefs, options.instance, options.buffer_kb_per_cpu);
  if (st.ok()) st = instance_.Enable(kEventDir);
  if (st.ok()) {
    fd_ = ::open((instance_.dir() + "/trace_pipe").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) st = Status::FailedPrecondition(instance_.dir() + "/trace_pipe: " + std::strerror(errno));
  }
  if (!st.ok()) Close();
  return st;
}

void TimerInterrupts::Drain() {
  if (fd_ < 0) return;
  // Allocated once: a buffer this large comes from mmap, whose lock the simulation's faults need.
  constexpr std::size_t kRead = 64 * 1024;
  buffer_.resize(kRead);
  for (std::size_t total = 0; total < kDrainBytes;) {
    const ssize_t n = read(fd_, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
    Feed(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
  }
}

void TimerInterrupts::Feed(std::string_view text) {
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + text.size() <= kLine) partial_.append(text);
      else partial_.assign(kLine + 1, ' ');  // too long: dropped at its end
      return;
    }
    if (partial_.empty()) {
      Line(text.substr(0, nl));
    } else {
      partial_.append(text.substr(0, nl));
      if (partial_.size() <= kLine) Line(partial_);
      partial_.clear();
    }
    text.remove_prefix(nl + 1);
  }
}

void TimerInterrupts::Line(std::string_view line) {
  // "CPU:0 [LOST 123 EVENTS]": the buffer overflowed; what came before the next interrupt is void.
  if (line.find("[LOST ") != std::string_view::npos) {
    lost_ = true;
    ++lost_reports_;
    cpus_.clear();  // each CPU's trace starts again at its next interrupt
    return;
  }
  const std::size_t at = line.find(kEvent);
  if (at == std::string_view::npos) return;
  const std::size_t space = line.rfind(' ', at);
  if (space == std::string_view::npos) return;
  const std::int64_t t = ParseTraceStamp(line.substr(space + 1, at - space - 1));
  const int cpu = ParseTraceCpu(line.substr(0, space));
  if (t <= 0) return;
  if (cpu >= 0 && cpu < kCpus) CpuInterrupt(cpu, t);
  Interrupt(t);
}

void TimerInterrupts::CpuInterrupt(int cpu, std::int64_t t) {
  if (static_cast<std::size_t>(cpu) >= cpus_.size()) cpus_.resize(static_cast<std::size_t>(cpu) + 1);
  Cpu& c = cpus_[static_cast<std::size_t>(cpu)];
  if (c.last_ns == 0) {
    c.first_ns = c.last_ns = t;
    return;
  }
  if (t <= c.last_ns) return;  // a CPU's own buffer is in time order; a repeat is no gap
  if (t - c.last_ns > allowance()) {
    c.gaps.push_back({c.last_ns, t});
    if (c.gaps.size() > kGaps) {
      c.first_ns = c.gaps.front().end_ns;
      c.gaps.pop_front();
    }
  }
  c.last_ns = t;
}

void TimerInterrupts::Interrupt(std::int64_t t) {
  if (last_ns_ == 0 || lost_) {
    lost_ = false;
    gaps_.clear();
    first_ns_ = last_ns_ = t;
    return;
  }
  const std::int64_t tick = allowance();
  if (t < last_ns_) {
    // Read after a later one (the merge of the CPUs' buffers raced a write): it splits its gap.
    for (std::size_t i = gaps_.size(); i-- > 0;) {
      const Gap g = gaps_[i];
      if (g.end_ns <= t) break;
      if (g.begin_ns >= t) continue;
      gaps_.erase(gaps_.begin() + static_cast<std::ptrdiff_t>(i));
      if (g.end_ns - t > tick) gaps_.insert(gaps_.begin() + static_cast<std::ptrdiff_t>(i), Gap{t, g.end_ns});
      if (t - g.begin_ns > tick) gaps_.insert(gaps_.begin() + static_cast<std::ptrdiff_t>(i), Gap{g.begin_ns, t});
      break;
    }
    return;
  }
  if (t - last_ns_ > tick) {
    gaps_.push_back({last_ns_, t});
    if (gaps_.size() > kGaps) {
      first_ns_ = gaps_.front().end_ns;  // what came before it is no longer known
      gaps_.pop_front();
    }
  }
  last_ns_ = t;
}

std::int64_t TimerInterrupts::StoppedNs(std::int64_t from_ns, std::int64_t to_ns) const {
  if (last_ns_ < to_ns || from_ns < first_ns_ || to_ns < from_ns) return -1;
  std::int64_t stopped = 0;
  for (const Gap& g : gaps_) stopped += GapBeyond(g.begin_ns, g.end_ns, from_ns, to_ns, allowance());
  assert(stopped <= to_ns - from_ns);
  return stopped;
}

std::int64_t TimerInterrupts::every_cpu_last_ns() const {
  if (cpus_.empty()) return 0;
  std::int64_t least = cpus_.front().last_ns;
  for (const Cpu& c : cpus_) least = std::min(least, c.last_ns);
  return least;
}

std::vector<std::int64_t> TimerInterrupts::NotExecutedNs(std::int64_t from_ns, std::int64_t to_ns) const {
  std::vector<std::int64_t> out;
  for (const Cpu& c : cpus_) {
    if (c.last_ns < to_ns || from_ns < c.first_ns || to_ns < from_ns) {
      out.push_back(-1);
      continue;
    }
    std::int64_t not_executed = 0;
    for (const Gap& g : c.gaps) not_executed += GapBeyond(g.begin_ns, g.end_ns, from_ns, to_ns, allowance());
    assert(not_executed <= to_ns - from_ns);
    out.push_back(not_executed);
  }
  return out;
}

std::int64_t GapBeyond(std::int64_t begin_ns, std::int64_t end_ns, std::int64_t from_ns, std::int64_t to_ns,
                       std::int64_t allowance_ns) {
  const std::int64_t overlap = std::min(end_ns, to_ns) - std::max(begin_ns, from_ns);
  return std::max<std::int64_t>(0, overlap - allowance_ns);
}

void TimerInterrupts::Close() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  instance_.Remove();  // after the reader's close: the kernel refuses while one holds it
}

}  // namespace pbxstate::emu
