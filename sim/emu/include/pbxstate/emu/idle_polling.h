// Keeps this machine's idle CPUs polling instead of halting while the emulator runs.
//
// Why (sim/emu/README.md, "Idle CPUs that poll"): this machine is a KVM guest whose cpuidle driver
// is haltpoll with the guest's own halt polling turned off (haltpoll.guest_halt_poll_ns=0 on the
// kernel's command line), so an idle CPU halts its virtual CPU at once, and a wake-up queued there
// (the simulation's timer, a frame reader's signal) waits until the hypervisor runs that virtual
// CPU again: 7.5 ms traced (soak-short at 838 s, 2026-12-07 02:06 UTC), with the other CPU
// running the daemons, a stall that stays invalidating (the network stood still for them). The
// kernel's CPU latency QoS request (/dev/cpu_dma_latency, the kernel's pm_qos_interface.rst):
// while a process holds that file open with 0 written to it, the cpuidle governors choose only
// idle states without exit latency, the polling loop ("POLL"), so an idle CPU keeps executing and
// takes a wake-up at once. The loop is the idle task's and ends at the first task to run: it costs
// the machine's tasks no CPU time; it costs the host both virtual CPUs' idle time while it is held.
// Closing the file (Release, or the process's end) withdraws the request.
//
// Whether it took is read back, not assumed: each CPU's cpuidle states
// (/sys/devices/system/cpu/cpuN/cpuidle/stateK/{latency,usage}) count entries into polling states
// (latency 0) and into halting ones (latency over 0); two readings give the halts in between.
//
// Linux; holding the request needs root (the file is 0600).
#pragma once

#include <cstdint>
#include <string>

#include "pbxstate/status.h"

namespace pbxstate::emu {

// The kernel's CPU latency QoS request file.
inline constexpr char kCpuLatencyFile[] = "/dev/cpu_dma_latency";
// Where the CPUs' cpuidle states are.
inline constexpr char kCpuSysfsRoot[] = "/sys/devices/system/cpu";
// Bounds on what ReadIdleEntries walks: CPUs (cpu0, cpu1, ... until one is missing) and states a CPU.
inline constexpr int kMaxIdleCpus = 1024;
inline constexpr int kMaxIdleStates = 16;

// Entries into idle states, summed over every CPU, since boot.
struct IdleEntries {
  std::uint64_t polls = 0;  // into states of exit latency 0 (the polling loop)
  std::uint64_t halts = 0;  // into states of exit latency over 0 (the CPU halts)
  int cpus = 0;             // CPUs with a cpuidle directory
};

// Reads `root`/cpuN/cpuidle/stateK/latency and usage for N from 0 until cpuN is missing, K from 0
// until stateK is missing (both bounded above). Fails naming the file when one of a state's two
// files cannot be read or is not a number; a machine without cpuidle gives cpus == 0.
Status ReadIdleEntries(const std::string& root, IdleEntries* out);

// Entries between two readings (`later` minus `earlier`, field by field; zero where a counter went back).
IdleEntries IdleEntriesSince(const IdleEntries& earlier, const IdleEntries& later);

// The request: Hold writes 0 to the file and keeps it open; Release closes it. Not copyable.
class IdlePolling {
 public:
  IdlePolling() = default;
  ~IdlePolling();
  IdlePolling(const IdlePolling&) = delete;
  IdlePolling& operator=(const IdlePolling&) = delete;

  // Opens `file` (kCpuLatencyFile) and asks for a latency of 0. Fails naming the file (not root,
  // no such file, a short write); fails when held already.
  Status Hold(const std::string& file);
  void Release();
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace pbxstate::emu
