/*
 * The site map (EngineConfig::node_sites, config.h): the one engine setting that is not a number,
 * so it is not a row of the table of engine settings (engine_settings.h). This header is its one
 * definition for every host that reads it as text: its key, its doc line, its text form and its
 * bound. pbxstate_config's node_sites (c_api.h), pbxstated's engine.node_sites, res_pbxstate's
 * node_sites option and the netns pbxstated writer take it from here; the generated docs
 * (daemon/README.md, daemon/pbxstated.example.yaml) and the Asterisk sample are checked against
 * PBXSTATE_SITE_MAP_DOC.
 *
 * The text: items NODE:SITE or FIRST-LAST:SITE separated by commas, spaces around them ignored; a
 * node id is 1..4294967294, a site any number 0..4294967295; a node at most once, at most 4096
 * nodes in all (max_nodes' largest value). Empty: no map (every node a site of its own).
 *
 * Plain C above the C++ part: c_api.h includes it.
 */
#ifndef PBXSTATE_SITE_MAP_H
#define PBXSTATE_SITE_MAP_H

#define PBXSTATE_SITE_MAP_KEY "node_sites"
#define PBXSTATE_SITE_MAP_DOC \
  "every node's site, for relays_per_site: NODE:SITE or FIRST-LAST:SITE items separated by commas (\"1-5:0, 6-10:1\"), the same on every node; empty: every node a site of its own"
/* The longest text accepted: 4096 items of the largest numbers fit. */
#define PBXSTATE_SITE_MAP_MAX_TEXT_BYTES 131072

#ifdef __cplusplus
/* C++ even when a C++ file includes c_api.h inside extern "C" { } (the module's unit test does). */
extern "C++" {
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate {

inline constexpr std::string_view kSiteMapKey = PBXSTATE_SITE_MAP_KEY;
inline constexpr std::string_view kSiteMapDoc = PBXSTATE_SITE_MAP_DOC;
inline constexpr std::size_t kMaxSiteMapTextBytes = PBXSTATE_SITE_MAP_MAX_TEXT_BYTES;

// Reads the text form of a site map: "1-5:0, 6-10:1"; empty or blank text is the empty map.
// Refused, with a message naming the item (its number and text) and why: text longer than
// kMaxSiteMapTextBytes, an item that is not NODE:SITE or FIRST-LAST:SITE, a number out of its
// range (node ids 1..4294967294, sites 0..4294967295), a range whose last node is below its
// first, a node given twice, more than 4096 nodes in all. *out is set only on success. Whether
// the map suits a configuration (this node in it, at most max_nodes) is EngineConfig::Validate's.
Status ParseSiteMap(std::string_view text, std::map<NodeId, std::uint32_t>* out);
// The map in that text form, consecutive node ids of one site as a range ("1-5:0,6-10:1"), ""
// for the empty map. ParseSiteMap(SiteMapText(m)) gives m back.
std::string SiteMapText(const std::map<NodeId, std::uint32_t>& sites);

}  // namespace pbxstate
}  // extern "C++"
#endif /* __cplusplus */

#endif /* PBXSTATE_SITE_MAP_H */
