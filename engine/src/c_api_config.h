// The configuration half of the C API (c_api.h): pbxstate_config and pbxstate_cluster_keys to
// the engine's types. The public functions (pbxstate_config_init, pbxstate_setting_at, ...) are
// in c_api_config.cc too; these are what c_api.cc needs from it.
#pragma once

#include <string>
#include <vector>

#include "pbxstate/c_api.h"
#include "pbxstate/config.h"

namespace pbxstate::capi {

// The cluster keys of the C API (key, previous key; each NULL with length 0 for none) as the
// engine's list; the message names the offending argument (`key_name`, `previous_name`). Lengths
// are checked by the engine. PBXSTATE_OK or PBXSTATE_E_INVALID_ARGUMENT.
int KeysFromC(const pbxstate_cluster_keys& keys, const char* key_name, const char* previous_name,
              std::vector<std::string>* out, std::string* error);

// A C config as an EngineConfig: every setting through the table, each checked against its range
// first (the message names the pbxstate_config field). PBXSTATE_OK or
// PBXSTATE_E_INVALID_ARGUMENT; *out is set only on success. EngineConfig::Validate is the
// engine's, at create.
int ConfigFromC(const pbxstate_config& c, EngineConfig* out, std::string* error);

}  // namespace pbxstate::capi
