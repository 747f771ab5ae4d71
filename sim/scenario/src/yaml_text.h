// The text of a scenario file before the loader reads it: UTF-8, and exactly one YAML document.
#pragma once

#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "reader.h"

namespace pbxstate::scenario::detail {

// True when all of `text` is UTF-8. Otherwise records one error at the line and column of the
// first byte that is not, naming the field whose text holds it (none when it stands in a
// comment or the text is not YAML), and returns false.
bool CheckUtf8(const std::string& text, Diagnostics& diag);

// The single document of `text`; nullopt after recording why there is none: a syntax error
// (which stops the YAML reader at once), no document or an empty one, or a second document.
std::optional<YAML::Node> ParseOneDocument(const std::string& text, Diagnostics& diag);

}  // namespace pbxstate::scenario::detail
