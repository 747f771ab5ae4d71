// What the malformed-frame corpus (tests/engine/frames/) is fed to: the receiver configurations named
// in EXPECTED and the keys of the corpus. Shared by the corpus test, its generator and the
// fuzz targets (fuzz/), so the three agree on keys and node ids.
#pragma once

#include <string>
#include <vector>

#include "pbxstate/config.h"

namespace pbxstate::frames {

// Key A signs the corpus's good frames; key B is another cluster's (or the next) key.
inline std::string KeyA() { return std::string(kClusterKeyBytes, 'A'); }
inline std::string KeyB() { return std::string(kClusterKeyBytes, 'B'); }

inline constexpr NodeId kReceiver = 1;  // every corpus frame is fed to node 1, incarnation 1
inline constexpr NodeId kSender = 2;    // and comes from node 2 (from = the header's sender)

// "plain": no keys; "keyed": {A}; "rotating": {A, B} (send A, accept both). Empty for another
// name.
inline bool ReceiverKeys(const std::string& receiver, std::vector<std::string>* keys) {
  if (receiver == "plain") {
    keys->clear();
  } else if (receiver == "keyed") {
    *keys = {KeyA()};
  } else if (receiver == "rotating") {
    *keys = {KeyA(), KeyB()};
  } else {
    return false;
  }
  return true;
}

}  // namespace pbxstate::frames
