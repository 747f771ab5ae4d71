#include "pbxstate/netns/names.h"

#include <cassert>
#include <charconv>
#include <string_view>

namespace pbxstate::netns {

RunNames::RunNames(pid_t pid) : pid_(pid) { assert(pid > 0 && pid <= 99'999'999); }

std::string RunNames::Namespace(NodeId node) const {
  assert(node >= 1 && node <= kMaxAttachedNodes);
  return Tag() + "-" + std::to_string(node);
}
std::string RunNames::Bridge() const { return "pbxbr" + std::to_string(pid_); }
std::string RunNames::HostVeth(NodeId node) const {
  assert(node >= 1 && node <= kMaxNodes);
  std::string n = "pbxv" + std::to_string(pid_) + "n" + std::to_string(node);
  assert(n.size() <= 15);
  return n;
}
std::string RunNames::PeerVethTemp(NodeId node) const {
  std::string n = "pbxp" + std::to_string(pid_) + "n" + std::to_string(node);
  assert(n.size() <= 15);
  return n;
}
std::string RunNames::Address(NodeId node) const {
  assert(node >= 1 && node <= kMaxNodes);
  return "198.18.0." + std::to_string(node);
}
std::string RunNames::Tag() const { return "pbxst-" + std::to_string(pid_); }

namespace {
std::optional<pid_t> PidAfter(std::string_view name, std::string_view prefix, char stop) {
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  name.remove_prefix(prefix.size());
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
  if (ec != std::errc() || pid <= 0) return std::nullopt;
  if (stop != '\0' && (end == name.data() + name.size() || *end != stop)) return std::nullopt;
  if (stop == '\0' && end != name.data() + name.size()) return std::nullopt;
  return pid;
}
}  // namespace

std::optional<pid_t> OwnerOfNamespace(const std::string& namespace_name) {
  return PidAfter(namespace_name, "pbxst-", '-');
}

std::optional<pid_t> OwnerOfLink(const std::string& link_name) {
  if (auto p = PidAfter(link_name, "pbxbr", '\0')) return p;
  return PidAfter(link_name, "pbxv", 'n');
}

}  // namespace pbxstate::netns
