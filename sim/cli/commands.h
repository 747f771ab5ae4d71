// The pbxstate subcommands. Each lives in its own <name>_command.cc and exposes one Add*Command
// function; main.cc calls them all, then runs the one the user chose.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "pbxstate/exit_status.h"

namespace pbxstate::cli {

// Exit statuses shared by every subcommand: pbxstate/exit_status.h's, shared with pbxstated
// (documented in scenarios/README.md; exported by `describe-metrics`, which the Python tests read
// instead of writing the numbers again). A run of real processes (netns, emu) interrupted by
// signal N exits kExitInterruptedBase + N, after tearing its cluster down.
using pbxstate::kExitInterruptedBase;
using pbxstate::kExitInvalid;
using pbxstate::kExitOk;
// What kExitFailed means for `pbxstate`: a scenario ran and at least one check failed.
inline constexpr int kExitCheckFailed = pbxstate::kExitFailed;

// What the chosen subcommand does once the command line is parsed; returns the exit status.
using Action = std::function<int()>;

// Registers `validate FILE...` on `app`. When the user picks it, `chosen` is set to its action.
void AddValidateCommand(CLI::App& app, Action& chosen);

// Registers `keygen FILE` (a new cluster key file) on `app`.
void AddKeygenCommand(CLI::App& app, Action& chosen);

// Registers `run SCENARIO` (the ns-3 backend) on `app`.
void AddRunCommand(CLI::App& app, Action& chosen);

// Registers `check SCENARIO... --baseline DIR`, the regression gate.
void AddCheckCommand(CLI::App& app, Action& chosen);

// Registers `baseline update SCENARIO... --baseline DIR`.
void AddBaselineCommand(CLI::App& app, Action& chosen);

// Registers `swarm`: random scenarios from seeds, failures written and shrunk (sim/swarm).
void AddSwarmCommand(CLI::App& app, Action& chosen);

// Registers `report index DIR` and `report compare RUN_A RUN_B`.
void AddReportCommand(CLI::App& app, Action& chosen);

// Registers the hidden `describe-cli`: every other command's options as JSON, from which the
// man page and the shell completion are generated (packaging/). It describes what `app` holds
// when it runs (after parsing), so every command registered in main.cc appears, in any order.
void AddDescribeCommand(CLI::App& app, Action& chosen);

// Registers the hidden `describe-metrics`: every metric a check may name with its kind, the
// duration units, a baseline file's bounds and the exit statuses above as JSON, the C++
// definitions the report scripts read (reports/tolerances.py), the Python tests read
// (tests/lib/cli_contract.py) or are tested against (tests/reports/contract_test.py).
void AddDescribeMetricsCommand(CLI::App& app, Action& chosen);

}  // namespace pbxstate::cli
