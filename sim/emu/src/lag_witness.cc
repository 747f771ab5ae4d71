#include "pbxstate/emu/lag_witness.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "pbxstate/emu/realtime.h"

namespace pbxstate::emu {

namespace {

// /proc/stat is about 1.2 kB on two CPUs (its interrupt line grows with the interrupts); more
// than this is refused rather than read in part.
constexpr std::size_t kMaxProcStat = 256 * 1024;

}  // namespace

LagWitness::~LagWitness() { Stop(); }

Status LagWitness::Read(Reading* out) {
  out->begin_ns = MonotonicNs();
  const int fd = open(options_.proc_stat.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FailedPrecondition(options_.proc_stat + ": " + std::strerror(errno));
  // Allocated once: a buffer this large comes from mmap, and an mmap every reading would take the
  // address space's lock, which the simulation thread's page faults need.
  std::string& text = buffer_;
  text.resize(kMaxProcStat);
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  if (got == text.size()) return Status::FailedPrecondition(options_.proc_stat + ": larger than " + std::to_string(kMaxProcStat) + " bytes");
  out->simulation_cpu_ns = options_.simulation_cpu_ns ? options_.simulation_cpu_ns() : -1;
  out->end_ns = MonotonicNs();
  return ParseStealNs(std::string_view(text).substr(0, got), ticks_per_second_, options_.proc_stat, &out->steal_ns);
}

Status LagWitness::Start(const Options& options) {
  if (thread_.joinable()) return Status::FailedPrecondition("lag witness: started already");
  if (options.period <= Duration::zero()) return Status::InvalidArgument("lag witness: the period must be positive");
  options_ = options;
  ticks_per_second_ = sysconf(_SC_CLK_TCK);
  if (ticks_per_second_ <= 0) return Status::FailedPrecondition("lag witness: sysconf(_SC_CLK_TCK) failed");
  Reading first;
  if (Status st = Read(&first); !st.ok()) return st;
  readings_.assign(1, std::move(first));
  if (options_.lifeguard != nullptr) (void)options_.lifeguard->TakeGap();
  stop_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    since_mono_ns_ = 0;
  }
  thread_ = std::thread([this] {
    (void)PrepareRealtimeThread(options_.priority);  // at ordinary priority if refused: readings later
    Run();
  });
  return Status::Ok();
}

void LagWitness::Run() {
  std::int64_t next = MonotonicNs();
  while (!stop_.load(std::memory_order_relaxed)) {
    next += options_.period.count();
    const timespec until{static_cast<time_t>(next / 1'000'000'000), static_cast<long>(next % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
    }
    Reading r;
    const bool read = Read(&r).ok();
    if (options_.interrupts != nullptr) options_.interrupts->Drain();  // after: it covers the reading
    if (read) {
      if (options_.lifeguard != nullptr) r.lifeguard_gap = options_.lifeguard->TakeGap();
      readings_.push_back(std::move(r));
      if (readings_.size() > kReadings) readings_.pop_front();
    }
    const std::int64_t now = MonotonicNs();
    if (now - next > options_.period.count()) next = now;  // held up itself: no burst of readings
    Attribute(false);
  }
}

void LagWitness::Note(std::int64_t due_mono_ns, Duration lag) {
  if (due_mono_ns < noted_stall_end_ns_) return;
  noted_stall_end_ns_ = due_mono_ns + lag.count();
  const std::uint64_t w = written_.load(std::memory_order_relaxed);
  if (w - read_.load(std::memory_order_acquire) >= kPending) {
    unrecorded_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Slot& s = slots_[w % kPending];
  s.due_mono_ns.store(due_mono_ns, std::memory_order_relaxed);
  s.lag_ns.store(lag.count(), std::memory_order_relaxed);
  written_.store(w + 1, std::memory_order_release);
}

HostWitness LagWitness::Witness(std::int64_t from_ns, std::int64_t to_ns) const {
  HostWitness w;
  w.lifeguard = options_.lifeguard != nullptr;
  if (options_.interrupts != nullptr) {
    const std::int64_t stopped = options_.interrupts->StoppedNs(from_ns, to_ns);
    w.interrupts_read = stopped >= 0;
    w.no_interrupt = Duration(std::max<std::int64_t>(stopped, 0));
    const std::vector<std::int64_t> per_cpu = options_.interrupts->NotExecutedNs(from_ns, to_ns);
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    w.every_cpu_read = !per_cpu.empty() && static_cast<long>(per_cpu.size()) >= online &&
                       std::all_of(per_cpu.begin(), per_cpu.end(), [](std::int64_t n) { return n >= 0; });
    if (w.every_cpu_read) w.not_executed_every_cpu = Duration(*std::min_element(per_cpu.begin(), per_cpu.end()));
  }
  // The last reading done by the lag's start and the first begun after its end.
  auto after = std::find_if(readings_.begin(), readings_.end(), [&](const Reading& r) { return r.begin_ns >= to_ns; });
  if (after == readings_.end() || readings_.front().end_ns > from_ns) return w;
  auto before = std::prev(std::find_if(readings_.begin(), after, [&](const Reading& r) { return r.end_ns > from_ns; }));
  // By CPU number (ParseStealNs): a CPU read in both readings counts; one offline in either does not.
  const std::size_t cpus = std::min(before->steal_ns.size(), after->steal_ns.size());
  std::int64_t least = -1;
  for (std::size_t c = 0; c < cpus; ++c) {
    const bool read = before->steal_ns[c] != kNoCpu && after->steal_ns[c] != kNoCpu;
    const std::int64_t stolen = read ? after->steal_ns[c] - before->steal_ns[c] : kNoCpu;
    w.steal_per_cpu.push_back(Duration(stolen));
    if (read && (least < 0 || stolen < least)) least = std::max<std::int64_t>(stolen, 0);
  }
  if (least < 0) {
    w.steal_per_cpu.clear();
    return w;
  }
  w.sampled = true;
  w.steal_every_cpu = Duration(least);
  w.window = Duration(after->begin_ns - before->end_ns);
  for (auto r = std::next(before); r != std::next(after); ++r) w.lifeguard_gap = std::max(w.lifeguard_gap, r->lifeguard_gap);
  if (before->simulation_cpu_ns >= 0 && after->simulation_cpu_ns >= before->simulation_cpu_ns) {
    w.simulation_read = true;
    w.simulation_ran = Duration(after->simulation_cpu_ns - before->simulation_cpu_ns);
  }
  return w;
}

void LagWitness::Attribute(bool final) {
  const std::uint64_t written = written_.load(std::memory_order_acquire);
  for (std::uint64_t i = read_.load(std::memory_order_relaxed); i < written; ++i) {
    const Slot& s = slots_[i % kPending];
    LagSpell spell;
    spell.due_mono_ns = s.due_mono_ns.load(std::memory_order_relaxed);
    spell.lag = Duration(s.lag_ns.load(std::memory_order_relaxed));
    // The probes queued behind one stall run one after another once it ends, each a period less
    // late: the same stall, attributed once.
    if (spell.due_mono_ns < stall_end_ns_) continue;
    stall_end_ns_ = spell.due_mono_ns + spell.lag.count();
    waiting_.push_back(spell);
  }
  read_.store(written, std::memory_order_release);
  const std::int64_t last = readings_.empty() ? 0 : readings_.back().begin_ns;
  // A bound: when readings stop coming (/proc/stat unreadable), the spells are attributed with
  // what there is (unknown, without a reading after them) rather than kept waiting.
  const bool overfull = waiting_.size() > kPending;
  // The trace of the interrupts is waited for, on every CPU, a reading more at most (the first
  // interrupt after a stall may come a tick after it, and on one CPU before the other).
  const TimerInterrupts* irq = options_.interrupts;
  auto traced = [&](std::int64_t end) {
    return irq == nullptr || !irq->open() || irq->every_cpu_last_ns() >= end || last - end > options_.period.count();
  };
  auto ready = [&](const LagSpell& s) {
    const std::int64_t end = s.due_mono_ns + s.lag.count();
    return final || overfull || (end <= last && traced(end));
  };
  for (LagSpell& s : waiting_) {
    if (!ready(s)) continue;
    s.witness = Witness(s.due_mono_ns, s.due_mono_ns + s.lag.count());
    std::string record;
    if (s.lag > options_.switches_over) record = WhatRan(s, &s.witness);
    s.cause = AttributeLag(s.lag, s.witness);
    if (!record.empty() && !options_.switches_dir.empty()) WriteRecord(s, record);
    Keep(s);
  }
  waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(), ready), waiting_.end());
}

LifeguardTimers LagWitness::Lifeguards() const {
  LifeguardTimers timers;
  if (options_.lifeguard == nullptr) return timers;
  for (pid_t tid : options_.lifeguard->thread_ids()) timers.tids.push_back(tid);
  if (!timers.tids.empty()) timers.allowance_ns = GapAllowance(options_.lifeguard->period()).count();
  return timers;
}

void LagWitness::WriteRecord(const LagSpell& spell, std::string_view lines) {
  const std::string path = options_.switches_dir + "/stall-" + std::to_string(spell.due_mono_ns / 1'000'000) + ".txt";
  const TimerInterrupts* irq = options_.interrupts;
  const std::string header = StallRecordHeader(spell.due_mono_ns, spell.lag, spell.cause, spell.witness,
                                               Duration(irq != nullptr ? irq->allowance() : 0), Duration(Lifeguards().allowance_ns));
  const Status st = WriteStallRecord(path, header, lines);
  if (st.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (++records_unwritten_ > 1) return;
  first_unwritten_ = st.message();
  std::fprintf(stderr, "pbxstate: a stall's record not written: %s\n", first_unwritten_.c_str());  // once a run
}

Status LagWitness::records_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (records_unwritten_ == 0) return Status::Ok();
  return Status::FailedPrecondition("recorded, but " + std::to_string(records_unwritten_) + " stall record(s) not written (" +
                                    first_unwritten_ + ")");
}

std::string LagWitness::WhatRan(const LagSpell& spell, HostWitness* w) {
  TaskSwitches* switches = options_.switches;
  if (switches == nullptr || !switches->open() || options_.interrupts == nullptr) return {};
  const std::int64_t from = spell.due_mono_ns, to = spell.due_mono_ns + spell.lag.count();
  SwitchTally tally(from, to, options_.interrupts->allowance(), !options_.switches_dir.empty(), Lifeguards());
  if (!switches->Snapshot(&tally).ok()) return {};
  TakeCpuTasks(tally.Result(MonotonicNs()), static_cast<std::size_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))), w);
  return tally.window_text();
}

void LagWitness::Keep(const LagSpell& spell) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spell.due_mono_ns < since_mono_ns_) return;
  ++counts_[static_cast<std::size_t>(spell.cause)];
  if (spells_.size() < kSpells) {
    spells_.push_back(spell);
    return;
  }
  auto shortest = std::min_element(spells_.begin(), spells_.end(), [](const LagSpell& a, const LagSpell& b) { return a.lag < b.lag; });
  if (shortest->lag < spell.lag) *shortest = spell;
}

std::vector<LagSpell> LagWitness::spells() const {
  std::vector<LagSpell> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = spells_;
  }
  std::sort(out.begin(), out.end(), [](const LagSpell& a, const LagSpell& b) { return a.due_mono_ns < b.due_mono_ns; });
  return out;
}

std::array<std::uint64_t, kLagCauses> LagWitness::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

void LagWitness::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  spells_.clear();
  counts_ = {};
  since_mono_ns_ = MonotonicNs();
}

void LagWitness::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  if (options_.interrupts != nullptr) options_.interrupts->Drain();
  Attribute(true);
}

}  // namespace pbxstate::emu
