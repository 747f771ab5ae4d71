// Cluster key files: how a host (the daemon, the Asterisk module, `pbxstate keygen`) reads the
// key it passes in EngineConfig::cluster_keys, and how a new one is made.
//
// Format of a key file: exactly kClusterKeyBytes (32) bytes of key, raw (what
// `head -c 32 /dev/urandom` writes), or the same 32 bytes as 64 hexadecimal digits (either case)
// followed by at most one newline (what a configuration-management template writes). Nothing
// else: no comments, no other whitespace.
//
// The file must be a regular file that neither its group nor others can read or write (mode
// 0600 or 0400): the key lets whoever holds it change every device state of the cluster.
//
// These are the only functions of the engine library that touch the file system; the Engine
// itself never does.
#pragma once

#include <filesystem>
#include <string>

#include "pbxstate/config.h"
#include "pbxstate/status.h"

namespace pbxstate {

// Reads the key file `path` into *key (exactly kClusterKeyBytes raw bytes; *key is untouched on
// failure). Fails with InvalidArgument and a message that starts with the file's name when the
// file cannot be opened or read, is not a regular file, is readable or writable by group or
// others (the message gives its mode and the chmod that fixes it), or does not hold a key in the
// format above (the message says what it found). Intermediate copies of the key are wiped.
Status LoadClusterKey(const std::filesystem::path& path, std::string* key);

// Creates `path` with mode 0600 holding a new key of kClusterKeyBytes raw bytes from libsodium's
// randombytes_buf (the kernel's random source). Refuses to overwrite: fails with
// FailedPrecondition when `path` exists, InvalidArgument when it cannot be created or written
// (nothing is left behind then).
Status WriteNewClusterKeyFile(const std::filesystem::path& path);

}  // namespace pbxstate
