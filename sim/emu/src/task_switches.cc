#include "pbxstate/emu/task_switches.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "pbxstate/emu/timer_interrupts.h"

namespace pbxstate::emu {

namespace {

constexpr std::string_view kSwitch = ": sched_switch: ";
constexpr std::string_view kTimer = ": local_timer_entry:";
constexpr std::string_view kWakeup = ": sched_wakeup: ";
constexpr const char* kWakeupEvent = "events/sched/sched_wakeup";
constexpr const char* kEvents[] = {"events/sched/sched_switch", "events/irq_vectors/local_timer_entry"};
constexpr int kMaxCpus = 1024;

// The value of `key` ("prev_pid=") in a sched_switch line's fields, up to `next` (the next key,
// with its leading space; empty: to the end). Empty if the key is missing.
std::string_view Value(std::string_view fields, std::string_view key, std::string_view next) {
  const std::size_t at = fields.find(key);
  if (at == std::string_view::npos) return {};
  const std::size_t from = at + key.size();
  const std::size_t end = next.empty() ? fields.size() : fields.find(next, from);
  return end == std::string_view::npos ? std::string_view{} : fields.substr(from, end - from);
}

bool Number(std::string_view s, int* out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

SwitchTally::SwitchTally(std::int64_t from_ns, std::int64_t to_ns, std::int64_t allowance_ns, bool keep_text,
                         LifeguardTimers lifeguards)
    : from_ns_(from_ns), to_ns_(to_ns), allowance_ns_(allowance_ns), keep_text_(keep_text), lifeguards_(std::move(lifeguards)) {
  assert(from_ns <= to_ns && allowance_ns >= 0);
  if (lifeguards_.tids.size() > kLifeguards || lifeguards_.allowance_ns <= 0 || lifeguards_.allowance_ns > allowance_ns) {
    lifeguards_.tids.clear();  // none told apart: the tick's allowance everywhere
  }
  std::sort(lifeguards_.tids.begin(), lifeguards_.tids.end());
}

bool SwitchTally::IsLifeguard(int pid) const {
  return pid > 0 && std::binary_search(lifeguards_.tids.begin(), lifeguards_.tids.end(), pid);
}

void SwitchTally::Feed(std::string_view text) {
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + text.size() <= 1024) partial_.append(text);
      return;
    }
    if (partial_.empty()) {
      Line(text.substr(0, nl));
    } else {
      partial_.append(text.substr(0, nl));
      Line(partial_);
      partial_.clear();
    }
    text.remove_prefix(nl + 1);
  }
}

void SwitchTally::Add(Cpu& c, const TaskTime& task, std::int64_t ns) const {
  if (ns <= 0) return;
  auto it = c.tasks.find(task.pid);
  if (it == c.tasks.end() && c.tasks.size() >= kTasksPerCpu) {
    c.other.ran += Duration(ns);
    return;
  }
  if (it == c.tasks.end()) it = c.tasks.emplace(task.pid, TaskTime{task.comm, task.pid, task.prio, {}}).first;
  it->second.ran += Duration(ns);
}

// The current task ran from since_ns to `until_ns`: its part within the window is its.
void SwitchTally::Run(Cpu& c, std::int64_t until_ns) const {
  if (c.current.pid >= 0 && c.since_ns >= 0) {
    Add(c, c.current, std::min(until_ns, to_ns_) - std::max(c.since_ns, from_ns_));
  }
  c.since_ns = until_ns;
}

// A sign of executing at t_ns: the silence since the last one is counted beyond the tick's
// allowance, or, while the CPU's lifeguard sleeps, held until the sleep's end says which (Settle).
void SwitchTally::Evidence(Cpu& c, std::int64_t t_ns, bool interrupt) const {
  if (c.last_event_ns >= 0) {
    const std::int64_t beyond_tick = GapBeyond(c.last_event_ns, t_ns, from_ns_, to_ns_, allowance_ns_);
    if (c.lifeguard_asleep) {
      const std::int64_t beyond = GapBeyond(c.last_event_ns, t_ns, from_ns_, to_ns_, lifeguards_.allowance_ns);
      c.asleep_beyond_tick += beyond_tick;
      c.asleep_beyond_lifeguard += beyond;
      if (beyond > 0) ++c.asleep_silences;
    } else {
      c.not_executed += beyond_tick;
    }
    c.longest_silence = std::max(c.longest_silence, GapBeyond(c.last_event_ns, t_ns, from_ns_, to_ns_, 0));
  }
  c.last_event_ns = std::max(c.last_event_ns, t_ns);
  c.last_was_interrupt = interrupt;
  if (c.first_ns < 0) c.first_ns = t_ns;
}

// The lifeguard's sleep on this CPU ended: its silences count beyond the lifeguard's allowance when
// its timer was shown armed through them, else beyond the tick's.
void SwitchTally::Settle(Cpu& c, bool timer_armed) {
  if (!c.lifeguard_asleep) return;
  c.not_executed += timer_armed ? c.asleep_beyond_lifeguard : c.asleep_beyond_tick;
  if (timer_armed) c.silences_lifeguard_armed += c.asleep_silences;
  c.lifeguard_asleep = false;
  c.asleep_beyond_tick = c.asleep_beyond_lifeguard = 0;
  c.asleep_silences = 0;
}

SwitchTally::Cpu& SwitchTally::At(int cpu) {
  if (static_cast<std::size_t>(cpu) >= cpus_.size()) cpus_.resize(static_cast<std::size_t>(cpu) + 1);
  return cpus_[static_cast<std::size_t>(cpu)];
}

// "comm=pbxstate pid=11687 prio=49 target_cpu=001" on CPU `cpu`: a wake-up of a followed thread.
// A lifeguard's ends its sleep, by its timer when in hard-interrupt context on its own CPU (a
// thread's wake-up is in a task's context); any other is the simulation's, counted on its target
// CPU when near the window.
void SwitchTally::Wakeup(std::string_view fields, std::int64_t t_ns, int cpu, bool hard_irq) {
  int target = -1, pid = -1;
  if (!Number(Value(fields, "target_cpu=", ""), &target) || target < 0 || target >= kMaxCpus) return;
  if (Number(Value(fields, " pid=", " prio="), &pid) && IsLifeguard(pid)) {
    Cpu& c = At(target);
    if (t_ns >= c.last_event_ns) Settle(c, hard_irq && cpu == target);
    return;
  }
  if (t_ns >= from_ns_ - kWokenBefore && t_ns <= to_ns_) ++At(target).followed_woken;
}

void SwitchTally::Line(std::string_view line) {
  if (line.empty() || line.front() == '#') return;
  const bool is_switch = line.find(kSwitch) != std::string_view::npos;
  const bool is_wakeup = !is_switch && line.find(kWakeup) != std::string_view::npos;
  const std::size_t at = line.find(is_switch ? kSwitch : is_wakeup ? kWakeup : kTimer);
  if (at == std::string_view::npos) return;
  const std::size_t space = line.rfind(' ', at);
  if (space == std::string_view::npos) return;
  const std::int64_t t = ParseTraceStamp(line.substr(space + 1, at - space - 1));
  const int cpu = ParseTraceCpu(line.substr(0, space));
  if (t <= 0 || cpu < 0 || cpu >= kMaxCpus) return;
  if (keep_text_ && t >= from_ns_ - kTextMargin && t <= to_ns_ + kTextMargin && text_.size() + line.size() < kWindowText) {
    text_.append(line).push_back('\n');
  }
  if (is_wakeup) {
    // The flags after the CPU ("d.h1."): the third is h (or H) in hard-interrupt context.
    const std::string_view head = line.substr(0, space);
    const std::size_t flags = head.find_first_not_of(' ', head.find(']') + 1);
    const bool hard_irq = flags != std::string_view::npos && flags + 2 < head.size() && (head[flags + 2] == 'h' || head[flags + 2] == 'H');
    Wakeup(line.substr(at + kWakeup.size()), t, cpu, hard_irq);
    return;  // a wake-up is the waker's CPU's doing, not a sign of the target's
  }
  Cpu& c = At(cpu);
  if (t < c.last_event_ns) return;  // a CPU's events come in time order
  const bool after_interrupt = c.last_was_interrupt;
  Evidence(c, t, !is_switch);
  if (is_switch) Switch(c, line.substr(at + kSwitch.size()), t, after_interrupt);
}

// "prev_comm=.. prev_pid=.. prev_prio=.. prev_state=S ==> next_comm=.. next_pid=.. next_prio=..".
void SwitchTally::Switch(Cpu& c, std::string_view f, std::int64_t t, bool after_interrupt) {
  TaskTime prev, next;
  prev.comm = std::string(Value(f, "prev_comm=", " prev_pid="));
  next.comm = std::string(Value(f, "next_comm=", " next_pid="));
  if (!Number(Value(f, "prev_pid=", " prev_prio="), &prev.pid) || !Number(Value(f, "prev_prio=", " prev_state="), &prev.prio) ||
      !Number(Value(f, "next_pid=", " next_prio="), &next.pid) || !Number(Value(f, " next_prio=", ""), &next.prio)) {
    return;
  }
  const std::string_view prev_state = Value(f, "prev_state=", " ==> ");
  // Its timer woke it: an interrupt here, then at once its switch in, preempting the current task
  // (R, or R+ where the kernel marks a preemption).
  if (IsLifeguard(next.pid)) Settle(c, after_interrupt && !prev_state.empty() && prev_state.front() == 'R');
  if (IsLifeguard(prev.pid)) {
    Settle(c, false);  // its switch in unseen: not shown
    c.lifeguard_asleep = prev_state == "S";
  }
  // Before a CPU's first switch its current task is that switch's prev, since the CPU's first event.
  if (c.current.pid < 0) {
    c.current = prev;
    c.since_ns = c.first_ns;
  }
  Run(c, t);
  if (t >= from_ns_ && t <= to_ns_) ++c.switches;
  c.current = std::move(next);
}

std::vector<CpuTasks> SwitchTally::Result(std::int64_t end_ns) const {
  std::vector<CpuTasks> out;
  for (std::size_t i = 0; i < cpus_.size(); ++i) {
    Cpu c = cpus_[i];  // a copy: the current task and the last gap run on to end_ns
    if (c.first_ns < 0 && c.followed_woken == 0) continue;
    Run(c, end_ns);
    Evidence(c, end_ns, false);
    Settle(c, false);  // a sleep the text does not see end: not shown armed
    CpuTasks t;
    t.cpu = static_cast<int>(i);
    t.known = c.first_ns <= from_ns_ && end_ns >= to_ns_;
    t.switches = c.switches;
    t.followed_woken = c.followed_woken;
    t.not_executed = Duration(c.not_executed);
    t.longest_silence = Duration(c.longest_silence);
    t.silences_lifeguard_armed = c.silences_lifeguard_armed;
    t.other_tasks = c.other.ran;
    std::vector<TaskTime> all;
    for (auto& [pid, task] : c.tasks) {
      if (pid == 0) t.idle += task.ran;
      else all.push_back(task);
    }
    std::sort(all.begin(), all.end(), [](const TaskTime& a, const TaskTime& b) { return a.ran > b.ran || (a.ran == b.ran && a.pid < b.pid); });
    for (std::size_t k = CpuTasks::kTop; k < all.size(); ++k) t.other_tasks += all[k].ran;
    all.resize(std::min(all.size(), CpuTasks::kTop));
    t.top = std::move(all);
    out.push_back(std::move(t));
  }
  return out;
}

TaskSwitches::~TaskSwitches() { Close(); }

Status TaskSwitches::Open(const Options& options) {
  if (open()) return Status::FailedPrecondition("task switches: open already");
  Status st = instance_.Create(options.tracefs, options.instance, options.buffer_kb_per_cpu);
  if (st.ok()) st = instance_.Write("options/overwrite", "1");
  if (st.ok()) st = instance_.Write("options/pause-on-trace", "1");  // a snapshot reads a still buffer
  for (const char* event : kEvents) {
    if (st.ok()) st = instance_.Enable(event);
  }
  if (!st.ok()) Close();
  return st;
}

Status TaskSwitches::Follow(std::vector<int> tids) {
  if (!open()) return Status::FailedPrecondition("task switches: not open");
  if (tids.empty()) return Status::InvalidArgument("task switches: no thread to follow");
  if (tids.size() > kFollowed) tids.resize(kFollowed);
  std::string filter;
  for (int tid : tids) filter += (filter.empty() ? "pid == " : " || pid == ") + std::to_string(tid);
  const Status st = instance_.Write(std::string(kWakeupEvent) + "/filter", filter);
  return st.ok() ? instance_.Enable(kWakeupEvent) : st;
}

Status TaskSwitches::Snapshot(SwitchTally* tally) {
  if (!open()) return Status::FailedPrecondition("task switches: not open");
  if (snapshots_ >= kSnapshots) return Status::FailedPrecondition("task switches: " + std::to_string(kSnapshots) + " snapshots taken");
  ++snapshots_;
  const std::string path = instance_.dir() + "/trace";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FailedPrecondition(path + ": " + std::strerror(errno));
  // Allocated once: a buffer this large comes from mmap, whose lock the simulation's faults need.
  constexpr std::size_t kRead = 64 * 1024;
  buffer_.resize(kRead);
  std::size_t total = 0;
  while (total < kReadBytes) {
    const ssize_t n = read(fd, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
    tally->Feed(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
  }
  close(fd);
  return Status::Ok();
}

void TaskSwitches::Close() {
  instance_.Remove();
}

}  // namespace pbxstate::emu
