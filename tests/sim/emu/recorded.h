// The kernel's text recorded on this VM for the emu unit tests (tests/sim/emu/data).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace pbxstate::emu::testing {

// The whole file data/NAME; a test fails when it is missing or empty.
inline std::string Recorded(const std::string& name) {
  std::ifstream in(std::string(PBXSTATE_EMU_TEST_DATA) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << name;
  return text.str();
}

}  // namespace pbxstate::emu::testing
