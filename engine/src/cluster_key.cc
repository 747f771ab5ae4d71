#include "pbxstate/cluster_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "frame_auth.h"

namespace pbxstate {
namespace {

// A key file is at most 64 hex digits and a newline; reading one byte more tells a longer file.
constexpr std::size_t kMaxKeyFileBytes = 2 * kClusterKeyBytes + 1;

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777u);
  return buf;
}

Status Refuse(const std::filesystem::path& path, const std::string& why) {
  return Status::InvalidArgument(path.string() + ": " + why);
}

int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Closes a descriptor on every way out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Wipes a buffer that held key material on every way out.
template <std::size_t N>
struct Wiped {
  std::array<unsigned char, N> bytes{};
  ~Wiped() { sodium_memzero(bytes.data(), bytes.size()); }
};

}  // namespace

Status LoadClusterKey(const std::filesystem::path& path, std::string* key) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return Refuse(path, std::string("cannot open the cluster key file: ") + std::strerror(errno));
  struct stat st{};
  // fstat on the open descriptor: the file checked is the file read.
  if (::fstat(fd.get(), &st) != 0) return Refuse(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Refuse(path, "not a regular file; expected a cluster key file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Refuse(path, "mode " + Octal(st.st_mode) +
                            " lets group or others read or write the cluster key; expected 0600 or 0400 (chmod 600 " +
                            path.string() + ")");
  }
  Wiped<kMaxKeyFileBytes + 1> buf;
  std::size_t n = 0;
  while (n < buf.bytes.size()) {
    const ssize_t got = ::read(fd.get(), buf.bytes.data() + n, buf.bytes.size() - n);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Refuse(path, std::string("cannot read: ") + std::strerror(errno));
    }
    if (got == 0) break;
    n += static_cast<std::size_t>(got);
  }
  Wiped<kClusterKeyBytes> out;
  if (n == kClusterKeyBytes) {
    std::memcpy(out.bytes.data(), buf.bytes.data(), kClusterKeyBytes);
  } else if (n == 2 * kClusterKeyBytes || (n == 2 * kClusterKeyBytes + 1 && buf.bytes[n - 1] == '\n')) {
    for (std::size_t i = 0; i < kClusterKeyBytes; ++i) {
      const int hi = HexValue(buf.bytes[2 * i]), lo = HexValue(buf.bytes[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        return Refuse(path, "byte " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1) +
                                " is not a hexadecimal digit; expected 32 raw bytes or 64 hexadecimal digits");
      }
      out.bytes[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
  } else {
    return Refuse(path, (n > kMaxKeyFileBytes ? std::string("more than ") + std::to_string(kMaxKeyFileBytes)
                                              : std::to_string(n)) +
                            " bytes; expected a cluster key of 32 raw bytes or 64 hexadecimal digits (and a newline)");
  }
  key->assign(reinterpret_cast<const char*>(out.bytes.data()), kClusterKeyBytes);
  return Status::Ok();
}

Status WriteNewClusterKeyFile(const std::filesystem::path& path) {
  if (!CryptoReady()) return Status::FailedPrecondition("libsodium cannot be initialised (sodium_init failed)");
  // O_EXCL: never overwrite a key a cluster may be using; mode 0600 from the start, so the key
  // is never readable by others, not even for an instant.
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return Status::FailedPrecondition(path.string() + ": already exists; a key file is never overwritten");
    }
    return Refuse(path, std::string("cannot create: ") + std::strerror(errno));
  }
  Wiped<kClusterKeyBytes> key;
  randombytes_buf(key.bytes.data(), key.bytes.size());
  std::size_t written = 0;
  while (written < key.bytes.size()) {
    const ssize_t n = ::write(fd.get(), key.bytes.data() + written, key.bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::unlink(path.c_str());
      return Refuse(path, "cannot write: " + why);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::close(fd.Release()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(path.c_str());
    return Refuse(path, "cannot write: " + why);
  }
  return Status::Ok();
}

}  // namespace pbxstate
