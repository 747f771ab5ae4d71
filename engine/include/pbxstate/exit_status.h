// The exit statuses of this project's programs: `pbxstate` (sim/cli) and `pbxstated` (daemon/).
// One definition: both include this header, the CLI exports it as JSON (`describe-metrics`, read by
// the Python tests) and tests/CMakeLists.txt reads the `= N;` lines below for the CMake tests, so
// keep each one `inline constexpr int kExit... = N;` on a line of its own. It sits in the engine's include
// directory because that is the one every program links; the engine itself never exits.
#pragma once

namespace pbxstate {

// Everything valid; it ran and did what it was for.
inline constexpr int kExitOk = 0;
// It ran and failed at what it was for: a scenario's check (pbxstate), the service after start-up
// (pbxstated: corosync unreachable, the control socket cannot listen, ...).
inline constexpr int kExitFailed = 1;
// Refused before doing anything: an invalid scenario, configuration or key file, or a usage error.
inline constexpr int kExitInvalid = 2;
// Stopped by signal N: kExitInterruptedBase + N (the shell's convention: 130 for Ctrl-C).
inline constexpr int kExitInterruptedBase = 128;

}  // namespace pbxstate
