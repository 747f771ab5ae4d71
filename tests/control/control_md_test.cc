// daemon/CONTROL.md is the protocol's reference for people; this library is its definition for
// code. These tests read CONTROL.md and fail when the two name different ops, error codes or
// statistics, so neither can change alone.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "pbxstate/control/protocol.h"
#include "pbxstate/control/replies.h"

namespace pbxstate::control {
namespace {

std::string ControlMd() {
  std::ifstream f(PBXSTATE_CONTROL_MD);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << "cannot read " << PBXSTATE_CONTROL_MD;
  return ss.str();
}

// The text from the heading line `heading` to the next "## " heading.
std::string Section(const std::string& md, const std::string& heading) {
  const auto a = md.find("\n" + heading + "\n");
  EXPECT_NE(a, std::string::npos) << "no section '" << heading << "' in CONTROL.md";
  if (a == std::string::npos) return "";
  const auto b = md.find("\n## ", a + 1);
  return md.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

// Every `name` in backquotes of `text` matching `pattern`.
std::set<std::string> Quoted(const std::string& text, const std::string& pattern = "`([a-z_]+)`") {
  std::set<std::string> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

// The first column of every table row of `text`: "| `op` | ...".
std::set<std::string> TableOps(const std::string& text) { return Quoted(text, "\\n\\| `([a-z_]+)` \\|"); }

TEST(ControlMd, ListsEveryOpOfTheLibraryAndNoOther) {
  const std::string md = ControlMd();
  const std::set<std::string> requests = TableOps(Section(md, "## Requests"));
  const std::set<std::string> instruments = TableOps(Section(md, "## Benchmark instruments"));
  std::set<std::string> lib_requests, lib_instruments;
  for (const OpInfo& o : Ops()) (o.instrument ? lib_instruments : lib_requests).insert(std::string(o.name));
  EXPECT_EQ(requests, lib_requests) << "CONTROL.md's request table differs from control::Ops()";
  EXPECT_EQ(instruments, lib_instruments) << "CONTROL.md's instrument table differs from control::Ops()";
}

TEST(ControlMd, ListsEveryErrorCode) {
  const std::string md = ControlMd();
  // The first paragraph: `"code"` (`invalid_argument`, `resource_exhausted`, ...)
  const auto a = md.find("`\"code\"` (");
  ASSERT_NE(a, std::string::npos);
  const auto b = md.find(')', a);
  std::set<std::string> lib;
  for (ErrorCode c : ErrorCodes()) lib.insert(std::string(ErrorCodeName(c)));
  EXPECT_EQ(Quoted(md.substr(a, b - a)), lib);
}

TEST(ControlMd, ListsEveryTransportAndDaemonStatistic) {
  const std::string md = ControlMd();
  std::string section = Section(md, "## `stats.transport` fields");
  section = section.substr(0, section.find("Meanings"));
  std::set<std::string> lib = {"group", "connected", "view_id", "view_members", "ring_id"};
  for (const TransportStatField& f : TransportStatFields()) lib.insert(std::string(f.name));
  EXPECT_EQ(Quoted(section), lib);

  // In the `stats` row: `daemon`: the control server's counters (`control_connections`, ...)
  const auto a = md.find("`daemon`: the control server's counters (");
  ASSERT_NE(a, std::string::npos);
  const auto b = md.find(')', a);
  std::set<std::string> daemon;
  for (const DaemonStatField& f : DaemonStatFields()) daemon.insert(std::string(f.name));
  std::set<std::string> listed = Quoted(md.substr(a, b - a));
  listed.erase("daemon");
  EXPECT_EQ(listed, daemon);
}

// The fields cell of op `op`'s row ("| `op` | fields | response |"), or "" with a failure.
std::string FieldsCell(const std::string& md, std::string_view op) {
  const std::string head = "\n| `" + std::string(op) + "` |";
  const auto a = md.find(head);
  EXPECT_NE(a, std::string::npos) << "no row for '" << op << "' in CONTROL.md";
  if (a == std::string::npos) return "";
  const auto from = a + head.size();
  return md.substr(from, md.find('|', from) - from);
}

TEST(ControlMd, ListsTheRequestFieldsOfEveryOp) {
  const std::string md = ControlMd();
  for (const OpInfo& o : Ops()) {
    // A request of the op with every optional field set, so that its line carries them all.
    Request r;
    r.op = o.op;
    r.device = "d";
    r.mailbox = "m@c";
    r.aor = "a";
    r.contact = "sip:c";
    r.path = "p";
    r.user_agent = "u";
    r.key_file = "k";
    r.previous_key_file = "pk";
    r.load.prefix = "p";
    std::set<std::string> lib = Quoted(RequestLine(r), "\"([a-z_]+)\":");
    lib.erase("op");
    // The cell names each field in backquotes first; values in backquotes (`box@context`) do not match.
    EXPECT_EQ(Quoted(FieldsCell(md, o.name)), lib) << "CONTROL.md's fields of '" << o.name << "' differ from RequestLine";
  }
}

}  // namespace
}  // namespace pbxstate::control
