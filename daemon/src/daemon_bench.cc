// Daemon's benchmark instruments: the generate/watch control ops and the load generator's slices
// (load_generator.h has the why). Kept apart from daemon.cc so the daemon's core stays readable.
#include "daemon.h"
#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::daemon {

using corosync::PosixMonoNs;
namespace ctl = pbxstate::control;

Daemon::Outcome Daemon::ExecuteBench(const ctl::Request& r) {
  switch (r.op) {
    case ctl::Op::kGenerate: {
      const std::int64_t now = PosixMonoNs();
      if (Status s = generator_.Start(r.load, now); !s.ok()) return ctl::FromStatus(s);
      generate_timer_.ArmAt(MonoTime(Duration(now)));  // the first slice runs at the next loop turn
      return ctl::TimeReply{now};
    }
    case ctl::Op::kGenerateResult:
      return generator_.Result(r.from, r.limit);
    case ctl::Op::kWatch:
      probe_.Watch(r.load);
      return ctl::TimeReply{PosixMonoNs()};
    case ctl::Op::kWatchResult:
      return probe_.Result(r.from, r.limit);
    default:
      return ctl::Error{ctl::ErrorCode::kBadRequest, "not a benchmark op"};
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
