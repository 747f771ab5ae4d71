#include "daemon_config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include "logger.h"
#include "pbxstate/cluster_key.h"
#include "pbxstate/site_map.h"

namespace pbxstate::daemon {

namespace {

using Setter = std::function<std::string(const YAML::Node& value)>;  // returns "" or what is wrong

// What a scalar is, for error messages.
std::string Shown(const YAML::Node& v) {
  if (v.IsScalar()) return "'" + v.Scalar() + "'";
  if (v.IsMap()) return "a mapping";
  if (v.IsSequence()) return "a list";
  return "nothing";
}

std::string ReadUint(const YAML::Node& v, std::uint64_t lo, std::uint64_t hi, std::uint64_t* out) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.IsScalar()) return "must be an integer in " + range + " (got " + Shown(v) + ")";
  const std::string& s = v.Scalar();
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return "must be an integer in " + range + " (got " + Shown(v) + ")";
  }
  if (n < lo || n > hi) return "must be within " + range + " (got " + s + ")";
  *out = n;
  return "";
}

Setter Size(std::size_t* field, std::uint64_t lo, std::uint64_t hi) {
  return [=](const YAML::Node& v) {
    std::uint64_t n = 0;
    std::string err = ReadUint(v, lo, hi, &n);
    if (err.empty()) *field = static_cast<std::size_t>(n);
    return err;
  };
}

// Durations in whole milliseconds; at most a day for every key (no pbxstated timer is longer).
Setter Millis(Duration* field, std::uint64_t lo, std::uint64_t hi = 86'400'000) {
  return [=](const YAML::Node& v) {
    std::uint64_t n = 0;
    std::string err = ReadUint(v, lo, hi, &n);
    if (err.empty()) *field = std::chrono::milliseconds(static_cast<std::int64_t>(n));
    return err;
  };
}

// An engine setting (a row of engine_settings.h) under its key: name, or name_ms for durations
// (whole milliseconds), with the table's range.
Setter Setting(EngineConfig* e, const EngineSetting& s) {
  return [e, &s](const YAML::Node& v) {
    std::uint64_t n = 0;
    std::string err = ReadUint(v, s.min, s.max, &n);
    if (err.empty()) s.Set(e, n);
    return err;
  };
}

Setter Text(std::string* field, std::size_t max_bytes, bool allow_empty) {
  return [=](const YAML::Node& v) -> std::string {
    if (!v.IsScalar()) return "must be a string (got " + Shown(v) + ")";
    if (!allow_empty && v.Scalar().empty()) return "must not be empty";
    if (v.Scalar().size() > max_bytes) return "must be at most " + std::to_string(max_bytes) + " bytes";
    *field = v.Scalar();
    return "";
  };
}

// The site map in its text form (pbxstate/site_map.h); empty or null: none.
Setter SiteMap(std::map<NodeId, std::uint32_t>* field) {
  return [=](const YAML::Node& v) -> std::string {
    if (v.IsNull()) {
      field->clear();
      return "";
    }
    if (!v.IsScalar()) return "must be a string such as \"1-5:0, 6-10:1\" (got " + Shown(v) + ")";
    if (Status st = ParseSiteMap(v.Scalar(), field); !st.ok()) return st.message();
    return "";
  };
}

// The engine section: the label, every row of the table of engine settings and the site map.
std::map<std::string, Setter> EngineKeys(EngineConfig* e) {
  std::map<std::string, Setter> keys = {{"label", Text(&e->label, 64, true)},
                                        {std::string(kSiteMapKey), SiteMap(&e->node_sites)}};
  for (const EngineSetting& s : EngineSettings()) keys.emplace(std::string(s.key), Setting(e, s));
  return keys;
}

class Parser {
 public:
  explicit Parser(const std::string& file) : file_(file) {}

  Status Section(const YAML::Node& node, const std::string& name, const std::map<std::string, Setter>& keys) {
    if (!node.IsMap()) return Error(node, name, "must be a mapping of keys (got " + Shown(node) + ")");
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string field = name + "." + key;
      auto k = keys.find(key);
      if (k == keys.end()) {
        std::string known;
        for (const auto& [n, s] : keys) known += (known.empty() ? "" : ", ") + n;
        return Error(it->first, field, "unknown key (known: " + known + ")");
      }
      lines_[key] = it->first.Mark().line + 1;
      if (std::string err = k->second(it->second); !err.empty()) return Error(it->second, field, err);
    }
    return Status::Ok();
  }

  Status Error(const YAML::Node& at, const std::string& field, const std::string& why) const {
    const int line = at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
    return Status::InvalidArgument(file_ + ":" + (line > 0 ? std::to_string(line) : std::string("?")) + ": " +
                                   field + ": " + why);
  }
  Status ErrorAtKey(const std::string& key, const std::string& field, const std::string& why) const {
    auto it = lines_.find(key);
    const std::string where = it != lines_.end() ? std::to_string(it->second) : std::string("-");
    return Status::InvalidArgument(file_ + ":" + where + ": " + field + ": " + why);
  }

 private:
  const std::string& file_;
  std::map<std::string, int> lines_;  // last-seen line of each key name (engine keys are unique)
};

// The engine's own checks of a parsed engine section (engine_keys: its keys), with placeholders
// for what start-up fills in (a node of the site map when there is one: with relays the map must
// hold this node, which start-up checks with the corosync node id).
Status CheckEngine(const Parser& p, const EngineConfig& e, const std::map<std::string, Setter>& engine_keys,
                   const std::string& file_name) {
  EngineConfig probe = e;
  probe.node_id = e.node_sites.empty() ? 1 : e.node_sites.begin()->first;
  probe.incarnation = 1;
  if (Status st = probe.Validate(); !st.ok()) {
    // "EngineConfig.<field>: why" -> engine.<field>[_ms] at its line
    const std::string& m = st.message();
    const std::string field = m.substr(m.find('.') + 1, m.find(':') - m.find('.') - 1);
    const std::string why = m.substr(m.find(':') + 2);
    if (field == "cluster_keys") {  // two keys the engine refuses together (equal, same key id)
      return p.ErrorAtKey("previous_key_file", "auth.previous_key_file", why);
    }
    const EngineSetting* setting = FindEngineSettingByName(field);
    const std::string key = setting != nullptr ? std::string(setting->key) : field;
    if (engine_keys.count(key) != 0) return p.ErrorAtKey(key, "engine." + key, why);
    return Status::InvalidArgument(file_name + ":-: engine: " + m);
  }
  return Status::Ok();
}

}  // namespace

DaemonConfig DefaultDaemonConfig() {
  DaemonConfig c;
  c.engine.membership = MembershipSource::kTransport;
  // CPG is reliable and ordered within a view; anti-entropy stays on, slowly, only to repair what a
  // full send queue made the engine drop (engine.send_queue_overflow).
  c.engine.anti_entropy_interval = std::chrono::milliseconds(5000);
  c.engine.max_frame_bytes = 64 * 1024;
  return c;
}

Status ParseDaemonConfig(const std::string& text, const std::string& file_name, DaemonConfig* out) {
  DaemonConfig cfg = DefaultDaemonConfig();
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(file_name + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax: " + e.msg);
  }
  if (!root.IsMap()) {
    return Status::InvalidArgument(file_name + ":1: (top level): must be a mapping with at least control.socket");
  }
  Parser p(file_name);
  std::string log_level = "info";
  EngineConfig& e = cfg.engine;
  corosync::CpgTransportConfig& t = cfg.cpg.transport;
  const std::map<std::string, std::map<std::string, Setter>> sections = {
      {"control", {{"socket", Text(&cfg.control_socket, 107, false)}}},  // sun_path holds 108 bytes
      {"log", {{"file", Text(&cfg.log_file, 4096, true)}, {"level", Text(&log_level, 16, false)}}},
      {"corosync",
       {{"group", Text(&t.group, 128, false)},
        {"max_queue_frames", Size(&t.max_queue_frames, 1, 1u << 20)},
        {"max_queue_bytes", Size(&t.max_queue_bytes, 1, 1ull << 30)},
        {"max_message_bytes", Size(&t.max_message_bytes, 256 + 8, (1u << 20) + 8)},
        {"retry_interval_ms", Millis(&t.retry_interval, 1, 10'000)},
        {"reconnect_min_ms", Millis(&t.reconnect_min, 1, 60'000)},
        {"reconnect_max_ms", Millis(&t.reconnect_max, 1, 600'000)},
        {"connect_timeout_ms", Millis(&cfg.connect_timeout, 0)}}},
      {"shutdown", {{"flush_timeout_ms", Millis(&cfg.flush_timeout, 0, 60'000)}}},
      {"auth",
       {{"key_file", Text(&cfg.key_file, 4096, true)}, {"previous_key_file", Text(&cfg.previous_key_file, 4096, true)}}},
      {"engine", EngineKeys(&e)},
  };
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (key == "random_seed") {
      if (std::string err = ReadUint(it->second, 0, std::numeric_limits<std::uint64_t>::max(), &cfg.cpg.random_seed);
          !err.empty()) {
        return p.Error(it->second, key, err);
      }
      continue;
    }
    auto s = sections.find(key);
    if (s == sections.end()) {
      return p.Error(it->first, key, "unknown section (known: auth, control, corosync, engine, log, shutdown, random_seed)");
    }
    if (Status st = p.Section(it->second, key, s->second); !st.ok()) return st;
  }
  if (cfg.control_socket.empty()) {
    return Status::InvalidArgument(file_name + ":-: control.socket: required (path of the control socket)");
  }
  if (const auto level = ParseLogLevel(log_level)) {
    cfg.log_level = *level;
  } else {
    return p.ErrorAtKey("level", "log.level", "must be debug, info, warning or error (got '" + log_level + "')");
  }
  if (Status st = t.Validate(); !st.ok()) {
    // "CpgTransportConfig.<key>: why" -> the line of corosync.<key>
    const std::string& m = st.message();
    const std::string field = m.substr(m.find('.') + 1, m.find(':') - m.find('.') - 1);
    const std::string key = sections.at("corosync").count(field) != 0 ? field : field + "_ms";
    return p.ErrorAtKey(key, "corosync." + key, m.substr(m.find(':') + 2));
  }
  if (e.max_frame_bytes + 8 > t.max_message_bytes) {
    return p.ErrorAtKey("max_frame_bytes", "engine.max_frame_bytes",
                        "must leave 8 bytes of envelope within corosync.max_message_bytes (" +
                            std::to_string(t.max_message_bytes) + ")");
  }
  // Cluster keys: read now, so that a key file the daemon would refuse fails --check too, with the
  // file's name and why (LoadClusterKey's message starts with the key file's path).
  if (cfg.key_file.empty() && !cfg.previous_key_file.empty()) {
    return p.ErrorAtKey("previous_key_file", "auth.previous_key_file",
                        "needs auth.key_file (the key frames are sent under)");
  }
  for (const auto& [key, path] : {std::pair<std::string, const std::string*>{"key_file", &cfg.key_file},
                                  {"previous_key_file", &cfg.previous_key_file}}) {
    if (path->empty()) continue;
    std::string bytes;
    if (Status st = LoadClusterKey(*path, &bytes); !st.ok()) return p.ErrorAtKey(key, "auth." + key, st.message());
    e.cluster_keys.push_back(std::move(bytes));
  }
  if (Status st = CheckEngine(p, e, sections.at("engine"), file_name); !st.ok()) return st;
  *out = std::move(cfg);
  return Status::Ok();
}

Status LoadDaemonConfig(const std::string& path, DaemonConfig* out) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot read the configuration file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseDaemonConfig(buffer.str(), path, out);
}

}  // namespace pbxstate::daemon
