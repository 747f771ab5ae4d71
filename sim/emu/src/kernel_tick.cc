#include "pbxstate/emu/kernel_tick.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <thread>

namespace pbxstate::emu {

namespace {

// /proc/timer_list is about 7 kB on two CPUs (a few hundred bytes a CPU and a timer); the two
// fields are in its first lines and first CPU's block.
constexpr std::size_t kMaxTimerList = 1 << 20;

// The number after `key` on the first line starting with it (leading spaces skipped); false if none.
bool Field(std::string_view text, std::string_view key, std::string_view source, std::uint64_t* value, Status* st) {
  int line_no = 0;
  for (std::size_t from = 0; from < text.size();) {
    const std::size_t end = std::min(text.find('\n', from), text.size());
    std::string_view line = text.substr(from, end - from);
    from = end + 1;
    ++line_no;
    line.remove_prefix(std::min(line.find_first_not_of(' '), line.size()));
    if (line.substr(0, key.size()) != key) continue;
    const std::string_view rest = line.substr(key.size());
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), *value);
    if (ec != std::errc() || (ptr != rest.data() + rest.size() && *ptr != ' ')) {
      *st = Status::InvalidArgument(std::string(source) + ":" + std::to_string(line_no) + ": \"" + std::string(key) +
                                    "\": not a number");
      return false;
    }
    return true;
  }
  *st = Status::InvalidArgument(std::string(source) + ": no \"" + std::string(key) + "\" line");
  return false;
}

Status ReadOnce(const std::string& path, std::string* text, std::int64_t* now_ns, std::uint64_t* jiffies) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FailedPrecondition(path + ": " + std::strerror(errno));
  text->resize(kMaxTimerList);
  std::size_t got = 0;
  while (got < text->size()) {
    const ssize_t n = read(fd, text->data() + got, text->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  if (got == text->size()) return Status::FailedPrecondition(path + ": larger than " + std::to_string(kMaxTimerList) + " bytes");
  return ParseTimerList(std::string_view(*text).substr(0, got), path, now_ns, jiffies);
}

}  // namespace

Status ParseTimerList(std::string_view text, std::string_view source, std::int64_t* now_ns, std::uint64_t* jiffies) {
  Status st = Status::Ok();
  std::uint64_t now = 0;
  if (!Field(text, "now at ", source, &now, &st) || !Field(text, "jiffies: ", source, jiffies, &st)) return st;
  *now_ns = static_cast<std::int64_t>(now);
  return Status::Ok();
}

Status TickFromJiffies(std::int64_t now0_ns, std::uint64_t jiffies0, std::int64_t now1_ns, std::uint64_t jiffies1,
                       std::string_view source, Duration* tick) {
  const std::int64_t apart = now1_ns - now0_ns;
  if (apart < 100'000'000 || jiffies1 < jiffies0) {
    return Status::InvalidArgument(std::string(source) + ": two readings less than 100 ms apart, or going back");
  }
  const double hz = static_cast<double>(jiffies1 - jiffies0) * 1e9 / static_cast<double>(apart);
  for (const int choice : kKernelHzChoices) {
    if (std::abs(hz - choice) <= 0.05 * choice) {
      *tick = Duration(1'000'000'000 / choice);
      return Status::Ok();
    }
  }
  return Status::InvalidArgument(std::string(source) + ": " + std::to_string(static_cast<long>(std::lround(hz))) +
                                 " jiffies a second is none of CONFIG_HZ's choices (100, 250, 300, 1000)");
}

Status ReadKernelTick(const std::string& timer_list, Duration apart, Duration* tick) {
  std::string text;
  std::int64_t now0 = 0, now1 = 0;
  std::uint64_t j0 = 0, j1 = 0;
  if (Status st = ReadOnce(timer_list, &text, &now0, &j0); !st.ok()) return st;
  std::this_thread::sleep_for(apart);
  if (Status st = ReadOnce(timer_list, &text, &now1, &j1); !st.ok()) return st;
  return TickFromJiffies(now0, j0, now1, j1, timer_list, tick);
}

}  // namespace pbxstate::emu
