#include "pbxstate/emu/tracefs_instance.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pbxstate::emu {

Status WriteTracefs(const std::string& path, std::string_view value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Status::FailedPrecondition(path + ": " + std::strerror(errno));
  const ssize_t n = write(fd, value.data(), value.size());
  const int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) return Status::FailedPrecondition(path + ": " + std::strerror(err));
  return Status::Ok();
}

Status MountTracefs(const std::string& tracefs) {
  struct stat st{};
  const std::string instances = tracefs + "/instances";
  if (::stat(instances.c_str(), &st) == 0) return Status::Ok();
  if (errno != ENOENT) return Status::FailedPrecondition(instances + ": " + std::strerror(errno));
  if (::mount("tracefs", tracefs.c_str(), "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return Status::FailedPrecondition(tracefs + ": not mounted, and mounting tracefs there failed: " + std::strerror(errno));
  }
  return Status::Ok();
}

Status TracefsInstance::Create(const std::string& tracefs, const std::string& name, int buffer_kb_per_cpu) {
  if (exists()) return Status::FailedPrecondition(dir_ + ": created already");
  if (name.empty() || buffer_kb_per_cpu <= 0) return Status::InvalidArgument("tracer instance: name and buffer must be given");
  if (Status st = MountTracefs(tracefs); !st.ok()) return st;
  const std::string dir = tracefs + "/instances/" + name;
  if (mkdir(dir.c_str(), 0700) != 0) return Status::FailedPrecondition(dir + ": " + std::strerror(errno));
  dir_ = dir;
  Status st = Write("trace_clock", "mono");
  if (st.ok()) st = Write("buffer_size_kb", std::to_string(buffer_kb_per_cpu));
  if (!st.ok()) Remove();
  return st;
}

Status TracefsInstance::Write(std::string_view file, std::string_view value) const {
  return WriteTracefs(dir_ + "/" + std::string(file), value);
}

Status TracefsInstance::Enable(std::string_view event) {
  const std::string file = std::string(event) + "/enable";
  Status st = Write(file, "1");
  if (st.ok()) enabled_.push_back(file);
  return st;
}

void TracefsInstance::Remove() {
  if (!exists()) return;
  for (const std::string& file : enabled_) (void)Write(file, "0");
  enabled_.clear();
  (void)Write("tracing_on", "0");
  rmdir(dir_.c_str());  // best effort: the kernel refuses while a reader holds a file of it
  dir_.clear();
}

}  // namespace pbxstate::emu
