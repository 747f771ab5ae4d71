// The text form of a site map (pbxstate/site_map.h).
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "codec.h"
#include "pbxstate/site_map.h"

namespace pbxstate {
namespace {

// The most nodes a map may hold: the largest value max_nodes may take (the codec's bound).
constexpr std::size_t kMaxSiteMapNodes = codec::kMaxNodes;
static_assert(kMaxSiteMapNodes == 4096, "site_map.h says 4096");

std::string_view Trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A decimal number within [lo, hi], the whole of `s` (no sign, no space inside).
bool Number(std::string_view s, std::uint64_t lo, std::uint64_t hi, std::uint64_t* out) {
  s = Trimmed(s);
  if (s.empty() || s.front() < '0' || s.front() > '9') return false;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

Status BadItem(std::size_t index, std::string_view item, const std::string& why) {
  return Status::InvalidArgument("item " + std::to_string(index) + " ('" + std::string(item) + "'): " + why);
}

}  // namespace

Status ParseSiteMap(std::string_view text, std::map<NodeId, std::uint32_t>* out) {
  if (text.size() > kMaxSiteMapTextBytes) {
    return Status::InvalidArgument("longer than " + std::to_string(kMaxSiteMapTextBytes) + " bytes");
  }
  std::map<NodeId, std::uint32_t> sites;
  if (Trimmed(text).empty()) {
    *out = std::move(sites);
    return Status::Ok();
  }
  constexpr std::uint64_t kLastNode = codec::kMailboxOrigin - 1;  // 0xFFFFFFFF is the mailbox origin
  std::size_t index = 0;
  while (true) {
    ++index;
    const std::size_t comma = text.find(',');
    const std::string_view item = Trimmed(text.substr(0, comma));
    const std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) return BadItem(index, item, "expected NODE:SITE or FIRST-LAST:SITE");
    const std::string_view nodes = item.substr(0, colon);
    const std::size_t dash = nodes.find('-');
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t site = 0;
    if (!Number(nodes.substr(0, dash), 1, kLastNode, &first)) {
      return BadItem(index, item, "a node id is a number from 1 to " + std::to_string(kLastNode));
    }
    last = first;
    if (dash != std::string_view::npos && !Number(nodes.substr(dash + 1), 1, kLastNode, &last)) {
      return BadItem(index, item, "a range's last node id is a number from 1 to " + std::to_string(kLastNode));
    }
    if (last < first) return BadItem(index, item, "the range's last node is below its first");
    if (!Number(item.substr(colon + 1), 0, UINT32_MAX, &site)) {
      return BadItem(index, item, "a site is a number from 0 to " + std::to_string(UINT32_MAX));
    }
    if (last - first + 1 > kMaxSiteMapNodes - sites.size()) {
      return BadItem(index, item, "more than " + std::to_string(kMaxSiteMapNodes) + " nodes in all");
    }
    for (std::uint64_t n = first; n <= last; ++n) {
      if (!sites.emplace(static_cast<NodeId>(n), static_cast<std::uint32_t>(site)).second) {
        return BadItem(index, item, "node " + std::to_string(n) + " is given a site twice");
      }
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  *out = std::move(sites);
  return Status::Ok();
}

std::string SiteMapText(const std::map<NodeId, std::uint32_t>& sites) {
  std::string t;
  for (auto it = sites.begin(); it != sites.end();) {
    const NodeId first = it->first;
    const std::uint32_t site = it->second;
    NodeId last = first;
    for (++it; it != sites.end() && it->first == last + 1 && it->second == site; ++it) last = it->first;
    if (!t.empty()) t += ",";
    t += std::to_string(first);
    if (last != first) t += "-" + std::to_string(last);
    t += ":" + std::to_string(site);
  }
  return t;
}

}  // namespace pbxstate
