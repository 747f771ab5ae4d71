#include "pbxstate/scenario/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pbxstate::scenario {
namespace {

std::optional<FileProblem> KindProblem(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return std::nullopt;
  if (S_ISDIR(st.st_mode)) return FileProblem{FileProblem::Kind::kDirectory, "is a directory"};
  const char* what = S_ISFIFO(st.st_mode)   ? "is a FIFO (named pipe)"
                     : S_ISSOCK(st.st_mode) ? "is a socket"
                     : S_ISCHR(st.st_mode)  ? "is a character device"
                     : S_ISBLK(st.st_mode)  ? "is a block device"
                                            : "is not a regular file";
  return FileProblem{FileProblem::Kind::kNotRegular, what};
}

FileProblem TooLarge(std::string what) { return {FileProblem::Kind::kTooLarge, std::move(what)}; }

FileProblem Unreadable(int error) {
  return {FileProblem::Kind::kUnreadable,
          std::string("cannot be read (") + std::strerror(error) + ")"};
}

}  // namespace

std::optional<FileProblem> ReadBoundedFile(const std::filesystem::path& path,
                                           std::size_t max_bytes, std::string* text) {
  struct stat st {};
  // stat, not open, first: opening a FIFO blocks, opening some devices has effects.
  if (::stat(path.c_str(), &st) != 0) return Unreadable(errno);
  if (auto p = KindProblem(st)) return p;
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes) {
    return TooLarge("is " + std::to_string(st.st_size) + " bytes");
  }
  // O_NONBLOCK: should the path have become a FIFO since the stat, the open does not block.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Unreadable(errno);
  std::optional<FileProblem> problem;
  if (::fstat(fd, &st) != 0) {
    problem = Unreadable(errno);
  } else {
    problem = KindProblem(st);
  }
  std::string out;
  while (!problem) {
    char buf[64 * 1024];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      problem = Unreadable(errno);
    } else if (n == 0) {
      break;
    } else if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      problem = TooLarge("grew past " + std::to_string(max_bytes) + " bytes while it was read");
    } else {
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (problem) return problem;
  *text = std::move(out);
  return std::nullopt;
}

}  // namespace pbxstate::scenario
