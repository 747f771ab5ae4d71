#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/status.h"

namespace pbxstate::emu {

// A tracer instance of the run's own (tracefs/instances/<name>): its own buffers, events and
// options, so the run neither reads nor disturbs the machine's main trace or another tracer's.
// TimerInterrupts and TaskSwitches each keep one. Not thread-safe.
class TracefsInstance {
 public:
  TracefsInstance() = default;
  ~TracefsInstance() { Remove(); }
  TracefsInstance(const TracefsInstance&) = delete;
  TracefsInstance& operator=(const TracefsInstance&) = delete;

  // Creates tracefs/instances/`name` (which must not exist) on the mono clock with
  // `buffer_kb_per_cpu` of buffer a CPU (the bound on what it holds), mounting tracefs first where
  // it is not (MountTracefs); fails naming the directory or file, leaving no instance behind
  // (a mount it made stays).
  Status Create(const std::string& tracefs, const std::string& name, int buffer_kb_per_cpu);
  // Writes `value` whole to the instance's `file` ("options/overwrite"); fails naming it.
  Status Write(std::string_view file, std::string_view value) const;
  // Enables `event` ("events/sched/sched_switch"), which Remove disables again; fails naming it.
  Status Enable(std::string_view event);
  // Disables what was enabled, stops tracing and removes the directory (best effort: the kernel
  // refuses while a reader holds a file of it). Idempotent.
  void Remove();

  bool exists() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }  // empty unless it exists

 private:
  std::string dir_;
  std::vector<std::string> enabled_;
};

// Mounts tracefs at `tracefs` (/sys/kernel/tracing) unless it is mounted there already (its
// `instances` directory exists), and leaves it mounted, as systemd does at boot: a machine booted
// without it (this machine kind after a restart, a CI container) would otherwise run every emu run
// untraced, and no stall could be shown to be a pause of the whole machine. Needs root, as the
// emulation does; fails naming the path and the reason.
Status MountTracefs(const std::string& tracefs);

// Writes `value` whole to tracefs file `path`; fails naming it.
Status WriteTracefs(const std::string& path, std::string_view value);

}  // namespace pbxstate::emu
