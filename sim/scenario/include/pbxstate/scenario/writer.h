// Writing a Scenario back as a scenario file: what `pbxstate swarm` leaves for every failing
// seed, so that `pbxstate run FILE` replays exactly the run that failed.
//
// The file loads back (LoadScenarioString) into a scenario equal to the one written, field for
// field, except `Scenario::file` and the source positions (SourcePos, Check::line/column), which
// say where a loaded value was written and are not part of the scenario. Keys at their default
// are left out, so a small scenario gives a small file.
#pragma once

#include <string>

#include "pbxstate/scenario/scenario.h"
#include "pbxstate/status.h"

namespace pbxstate::scenario {

// Writes `s` as YAML into *out. Fails (InvalidArgument, naming the field; *out untouched) when
// `s` holds what no scenario file can say: an engine setting the schema has no key for away from
// its default, or a number (share, rate) whose shortest decimal spelling does not read back to
// the same double. A scenario the loader produced never fails. What the file says is not checked
// against the schema's rules here: loading it back does that.
Status WriteScenario(const Scenario& s, std::string* out);

// Whether `a` and `b` say the same thing: every field equal but `file` and source positions.
bool SameScenario(const Scenario& a, const Scenario& b);

}  // namespace pbxstate::scenario
