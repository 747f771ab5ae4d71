#include "pbxstate/emu/host_steal.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace pbxstate::emu {

namespace {

// /proc/stat's columns after the cpu name: user nice system idle iowait irq softirq steal ...
constexpr int kStealColumn = 8;

std::string Ms(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(d.count()) / 1e6);
  return buf;
}

}  // namespace

Status ParseStealNs(std::string_view text, long ticks_per_second, std::string_view source,
                    std::vector<std::int64_t>* steal_ns) {
  assert(ticks_per_second > 0);
  steal_ns->clear();
  int line_no = 0;
  for (std::size_t from = 0; from < text.size();) {
    const std::size_t end = std::min(text.find('\n', from), text.size());
    const std::string_view line = text.substr(from, end - from);
    from = end + 1;
    ++line_no;
    // "cpu0 ..": a per-CPU line; "cpu ..", the summary, and every other line are not.
    if (line.size() < 4 || line.substr(0, 3) != "cpu" || line[3] < '0' || line[3] > '9') continue;
    std::size_t at = line.find(' ');
    const std::string_view name = line.substr(0, at);
    int cpu = -1;
    const auto [end_n, ec_n] = std::from_chars(name.data() + 3, name.data() + name.size(), cpu);
    if (ec_n != std::errc() || end_n != name.data() + name.size() || cpu >= kStealCpus) {
      return Status::InvalidArgument(std::string(source) + ":" + std::to_string(line_no) + ": " + std::string(name) +
                                     ": not a CPU number below " + std::to_string(kStealCpus));
    }
    if (static_cast<std::size_t>(cpu) < steal_ns->size() && (*steal_ns)[static_cast<std::size_t>(cpu)] != kNoCpu) {
      return Status::InvalidArgument(std::string(source) + ":" + std::to_string(line_no) + ": " + std::string(name) + ": a second time");
    }
    std::uint64_t ticks = 0;
    for (int column = 1; column <= kStealColumn; ++column) {
      while (at < line.size() && line[at] == ' ') ++at;
      const char* first = line.data() + std::min(at, line.size());
      const char* last = line.data() + line.size();
      const auto [ptr, ec] = std::from_chars(first, last, ticks);
      if (at >= line.size() || ec != std::errc() || (ptr != last && *ptr != ' ')) {
        return Status::InvalidArgument(std::string(source) + ":" + std::to_string(line_no) + ": " +
                                       std::string(line.substr(0, line.find(' '))) + " field " +
                                       std::to_string(column) + (column == kStealColumn ? " (steal)" : "") +
                                       ": missing or not a number");
      }
      at = static_cast<std::size_t>(ptr - line.data());
    }
    if (static_cast<std::size_t>(cpu) >= steal_ns->size()) steal_ns->resize(static_cast<std::size_t>(cpu) + 1, kNoCpu);
    (*steal_ns)[static_cast<std::size_t>(cpu)] = static_cast<std::int64_t>(ticks) * (1'000'000'000 / ticks_per_second);
  }
  if (steal_ns->empty()) return Status::InvalidArgument(std::string(source) + ": no cpuN line");
  return Status::Ok();
}

LagCause AttributeLag(Duration lag, const HostWitness& w) {
  if (w.sampled && 2 * w.steal_every_cpu >= lag) return LagCause::kHypervisor;
  if (w.interrupts_read && w.lifeguard && w.every_cpu_read && 2 * w.not_executed_every_cpu >= lag) {
    return LagCause::kMachineStopped;
  }
  if (!w.sampled) return LagCause::kUnknown;
  if (w.lifeguard && 2 * w.lifeguard_gap >= lag) {
    const bool idle = !w.interrupts_read && w.simulation_read && 2 * w.simulation_ran < lag;
    return idle ? LagCause::kMachineStopped : LagCause::kEveryCpuHeld;
  }
  return LagCause::kCpuHeld;
}

void TakeCpuTasks(std::vector<CpuTasks> cpus, std::size_t online, HostWitness* w) {
  w->cpus = std::move(cpus);
  const bool all = !w->cpus.empty() && w->cpus.size() >= online &&
                   std::all_of(w->cpus.begin(), w->cpus.end(), [](const CpuTasks& c) { return c.known; });
  if (!all) return;
  w->every_cpu_read = true;
  w->not_executed_every_cpu = std::min_element(w->cpus.begin(), w->cpus.end(), [](const CpuTasks& a, const CpuTasks& b) {
                                return a.not_executed < b.not_executed;
                              })->not_executed;
}

bool StoppedTheWholeMachine(LagCause cause) { return cause == LagCause::kHypervisor || cause == LagCause::kMachineStopped; }

std::string_view LagCauseName(LagCause cause) {
  switch (cause) {
    case LagCause::kHypervisor:
      return "hypervisor";
    case LagCause::kEveryCpuHeld:
      return "every-cpu-held";
    case LagCause::kCpuHeld:
      return "cpu-held";
    case LagCause::kMachineStopped:
      return "machine-stopped";
    case LagCause::kUnknown:
      break;
  }
  return "unknown";
}

namespace {

std::string DescribeTasks(const HostWitness& w) {
  std::string out;
  for (const CpuTasks& c : w.cpus) {
    out += "; CPU " + std::to_string(c.cpu) + (c.known ? "" : " (in part)") + ": not executing " + Ms(c.not_executed);
    if (c.followed_woken > 0) out += ", the simulation woken here " + std::to_string(c.followed_woken) + " times";
    for (const TaskTime& t : c.top) out += ", " + t.comm + " (" + std::to_string(t.pid) + ", prio " + std::to_string(t.prio) + ") " + Ms(t.ran);
    out += ", idle " + Ms(c.idle);
  }
  return out;
}

std::string DescribeCause(LagCause cause, const HostWitness& w) {
  switch (cause) {
    case LagCause::kHypervisor:
      return "the hypervisor stole " + Ms(w.steal_every_cpu) + " of every CPU";
    case LagCause::kEveryCpuHeld:
      return "no CPU ran a lifeguard for " + Ms(w.lifeguard_gap) + " (every CPU held, no steal" +
             (w.simulation_read ? "; the simulation ran " + Ms(w.simulation_ran) + " of it" : "") +
             (w.interrupts_read ? "; every CPU without a timer interrupt for " + Ms(w.not_executed_every_cpu) + ")" : ")");
    case LagCause::kMachineStopped:
      if (w.interrupts_read) {
        return "every CPU went without a timer interrupt for " + Ms(w.not_executed_every_cpu) +
               " of it or more, all at once for " + Ms(w.no_interrupt) + " (the whole machine stopped, no steal)";
      }
      return "no CPU ran a lifeguard for " + Ms(w.lifeguard_gap) + " nor the simulation for more than " +
             Ms(w.simulation_ran) + " (the whole machine stopped, no steal)";
    case LagCause::kCpuHeld:
      return std::string("a CPU was held (") + (w.lifeguard ? "a lifeguard ran on another" : "no lifeguard") +
             "; steal " + Ms(w.steal_every_cpu) + ")";
    case LagCause::kUnknown:
      break;
  }
  return "no reading of the host around it";
}

}  // namespace

std::string DescribeLagCause(LagCause cause, const HostWitness& w) { return DescribeCause(cause, w) + DescribeTasks(w); }

std::string StallRecordHeader(std::int64_t due_mono_ns, Duration lag, LagCause cause, const HostWitness& w,
                              Duration allowance, Duration lifeguard_allowance) {
  std::string out = "# stall due at " + std::to_string(due_mono_ns / 1'000'000) + " ms (CLOCK_MONOTONIC), lag " + Ms(lag) +
                    ", " + std::string(LagCauseName(cause)) + "\n";
  out += "# steal read over " + (w.sampled ? Ms(w.window) : std::string("no readings")) + "; allowance " + Ms(allowance) +
         " a gap" + (lifeguard_allowance > Duration::zero() ? ", " + Ms(lifeguard_allowance) + " where the lifeguard's timer was armed" : "") +
         "\n";
  for (const CpuTasks& c : w.cpus) {
    const auto cpu = static_cast<std::size_t>(c.cpu);
    const bool read = cpu < w.steal_per_cpu.size() && w.steal_per_cpu[cpu] >= Duration::zero();
    const std::string steal = read ? Ms(w.steal_per_cpu[cpu]) : std::string("unread");
    const std::string armed = c.silences_lifeguard_armed > 0
                                  ? " (the lifeguard's timer armed through " + std::to_string(c.silences_lifeguard_armed) +
                                        (c.silences_lifeguard_armed == 1 ? " silence)" : " silences)")
                                  : "";
    out += "# cpu " + std::to_string(c.cpu) + (c.known ? "" : " (in part)") + ": longest silence " + Ms(c.longest_silence) +
           ", not executing " + Ms(c.not_executed) + armed + ", steal " + steal + "\n";
  }
  return out;
}

Status WriteStallRecord(const std::string& path, std::string_view header, std::string_view lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::FailedPrecondition(path + ": " + std::strerror(errno));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(lines.data(), static_cast<std::streamsize>(lines.size()));
  out.close();
  if (!out) return Status::FailedPrecondition(path + ": not written whole");
  return Status::Ok();
}

}  // namespace pbxstate::emu
