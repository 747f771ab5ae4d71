// Reading a file a person named on the command line (a scenario, a baseline) into memory, with
// a bound: it must be a regular file (a FIFO would block the reader, a device such as /dev/zero
// would never end) and at most a given size, and no more than that size is ever read.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace pbxstate::scenario {

// Scenario files are at most this large (16 MiB): ten times a scenario with the largest list of
// explicit changes the loader accepts (100,000 changes of about 60 bytes each), and small
// enough that loading stays well under a second and a few hundred MB.
inline constexpr std::size_t kMaxScenarioBytes = 16u << 20;

// Why a file cannot be read as text: what it is instead, for "<file>: <what>; expected ...".
struct FileProblem {
  enum class Kind {
    kUnreadable,  // missing, no permission, or an error while reading
    kDirectory,
    kNotRegular,  // a FIFO, socket or device
    kTooLarge,
  };
  Kind kind;
  // "is a FIFO (named pipe)", "is 20000000 bytes", "cannot be read (Permission denied)", ...
  std::string what;
};

// Reads all of `path` into `*text` and returns nullopt, or returns what is wrong with it. Only a
// regular file is opened (a FIFO or device is refused before anything is read from it, and a
// file swapped for one between the check and the open is noticed), and at most max_bytes + 1
// bytes are read: a file that grows past max_bytes while being read is refused too.
std::optional<FileProblem> ReadBoundedFile(const std::filesystem::path& path,
                                           std::size_t max_bytes, std::string* text);

}  // namespace pbxstate::scenario
