// pbxstate: load, check and (with the ns-3 world) run scenarios.
#include <iostream>

#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  using namespace pbxstate::cli;
  CLI::App app{
      "pbxstate: shared PBX state (device state, MWI, registrations) across a cluster.\n"
      "Scenarios are YAML files; scenarios/README.md describes them.\n"
      "Exit status: 0 ok, 1 a check failed, 2 an invalid scenario or a usage error."};
  app.set_version_flag("--version", PBXSTATE_VERSION);
  app.require_subcommand(1);

  Action chosen;
  AddDescribeCommand(app, chosen);  // hidden; for the man page and completion (packaging/)
  AddValidateCommand(app, chosen);
  AddReportCommand(app, chosen);
  AddKeygenCommand(app, chosen);
#ifdef PBXSTATE_WITH_NS3
  AddRunCommand(app, chosen);
  AddCheckCommand(app, chosen);
  AddBaselineCommand(app, chosen);
  AddSwarmCommand(app, chosen);
  AddDescribeMetricsCommand(app, chosen);  // hidden; for reports/ (the gate's bounds need the gate)
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 has its own exit codes per parse error; pbxstate promises 2 for every usage error.
    app.exit(e);
    return kExitInvalid;
  }
  return chosen ? chosen() : kExitInvalid;
}
