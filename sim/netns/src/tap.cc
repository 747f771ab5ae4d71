#include "pbxstate/netns/tap.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

namespace pbxstate::netns {

namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes "1" to a sysctl file of the calling thread's network namespace.
bool TurnOn(const char* path) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, "1", 1) == 1;
  close(fd);
  return ok;
}

// Runs in a thread of its own: that thread enters the namespace and ends with it; the rest of the
// process never changes namespace.
Status OpenInNamespace(const std::string& namespace_name, const std::string& interface, int* out) {
  const std::string path = "/run/netns/" + namespace_name;
  const int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) return Status::FailedPrecondition(Errno(path));
  const int entered = setns(ns, CLONE_NEWNET);
  close(ns);
  if (entered != 0) return Status::FailedPrecondition(Errno("setns " + namespace_name));
  // Before the device exists, so it is made without IPv6 (the default applies to new devices).
  if (!TurnOn("/proc/sys/net/ipv6/conf/default/disable_ipv6") || !TurnOn("/proc/sys/net/ipv6/conf/all/disable_ipv6")) {
    // A kernel without IPv6 has no such files: nothing to turn off.
    if (errno != ENOENT) return Status::FailedPrecondition(Errno("disable IPv6 in " + namespace_name));
  }
  const int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::FailedPrecondition(Errno("/dev/net/tun"));
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const Status st = Status::FailedPrecondition(Errno("TUNSETIFF " + interface + " in " + namespace_name));
    close(fd);
    return st;
  }
  *out = fd;
  return Status::Ok();
}

bool ValidInterface(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

bool ValidIpv4(const std::string& text) {
  in_addr a{};
  return inet_pton(AF_INET, text.c_str(), &a) == 1;
}

bool ValidMac(const std::string& text) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2 ? text[i] != ':' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

}  // namespace

Status OpenTap(const std::string& namespace_name, const std::string& interface, int* fd) {
  if (!ValidInterface(interface)) return Status::InvalidArgument("tap: bad interface name '" + interface + "'");
  Status result;
  int opened = -1;
  std::thread opener([&] { result = OpenInNamespace(namespace_name, interface, &opened); });
  opener.join();
  if (result.ok()) *fd = opened;
  return result;
}

Status TapBatch(const TapConfig& c, std::string* batch) {
  if (!ValidInterface(c.interface)) return Status::InvalidArgument("tap: bad interface name '" + c.interface + "'");
  if (!ValidMac(c.mac)) return Status::InvalidArgument("tap: bad MAC '" + c.mac + "'");
  if (!ValidIpv4(c.address)) return Status::InvalidArgument("tap: bad address '" + c.address + "'");
  if (!c.gateway.empty() && !ValidIpv4(c.gateway)) return Status::InvalidArgument("tap: bad gateway '" + c.gateway + "'");
  if (c.prefix_length < 1 || c.prefix_length > 30) return Status::InvalidArgument("tap: prefix length must be 1..30");
  if (c.mtu < 576 || c.mtu > 9000) return Status::InvalidArgument("tap: MTU must be 576..9000");
  const std::string& i = c.interface;
  std::string b;
  b += "link set dev lo up\n";
  b += "link set dev " + i + " address " + c.mac + " mtu " + std::to_string(c.mtu) + " up\n";
  b += "addr add " + c.address + "/" + std::to_string(c.prefix_length) + " dev " + i + "\n";
  // corosync's udp transport sends to a multicast group: route it out of the TAP.
  b += "route add 224.0.0.0/4 dev " + i + "\n";
  if (!c.gateway.empty()) b += "route add default via " + c.gateway + " dev " + i + "\n";
  *batch = std::move(b);
  return Status::Ok();
}

}  // namespace pbxstate::netns
