// Daemon's benchmark instruments: the generate/watch control ops and the load generator's slices
// (load_generator.h has the why). Kept apart from daemon.cc so the daemon's core stays readable.
#include "daemon.h"
#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::daemon {

using nlohmann::json;
using corosync::PosixMonoNs;

json Daemon::ExecuteBench(const Request& r) {
  switch (r.op) {
    case Op::kGenerate: {
      const std::int64_t now = PosixMonoNs();
      if (Status s = generator_.Start(r.load, now); !s.ok()) {
        const ControlError e = FromStatus(s);
        return {{"ok", false}, {"code", std::string(ControlCodeName(e.code))}, {"error", e.message}};
      }
      generate_timer_.ArmAt(MonoTime(Duration(now)));  // the first slice runs at the next loop turn
      return {{"ok", true}, {"t_mono_ns", now}};
    }
    case Op::kGenerateResult:
      return generator_.Result(r.from, r.limit);
    case Op::kWatch:
      probe_.Watch(r.load);
      return {{"ok", true}, {"t_mono_ns", PosixMonoNs()}};
    case Op::kWatchResult:
      return probe_.Result(r.from, r.limit);
    default:
      return {{"ok", false}, {"code", "bad_request"}, {"error", "not a benchmark op"}};
  }
}

void Daemon::RunGenerator() {
  generate_timer_.Drain();
  if (!generator_.running()) return;
  const bool backlogged = env_->transport().queue().frames() > 0;
  auto set = [this](std::string_view device, DeviceState state) { return engine_->SetDeviceState(device, state); };
  const auto next = generator_.Step(PosixMonoNs(), backlogged, set, [] { return PosixMonoNs(); });
  if (next) {
    generate_timer_.ArmAt(MonoTime(Duration(*next)));
  } else {
    generate_timer_.Disarm();
    Log(LogLevel::kInfo, "load generator: run over after " + std::to_string(generator_.generated()) + " changes");
  }
}

}  // namespace pbxstate::daemon
