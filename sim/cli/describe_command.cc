// pbxstate describe-cli: the command line's own description (every subcommand and option, as
// CLI11 holds them) as JSON, for the generators of the man page and the shell completion
// (packaging/man/, packaging/completion/). Hidden from --help: it is for the build, not for users.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"

namespace pbxstate::cli {
namespace {

// CLI11 hides options and subcommands whose group is empty.
bool Hidden(const CLI::Option* opt) { return opt->get_group().empty(); }
bool Hidden(const CLI::App* app) { return app->get_group().empty(); }

// One option: the same pieces --help prints (name, value text, description, from CLI11's
// formatter, so the man page cannot word an option differently), plus what completion needs.
nlohmann::json DescribeOption(const CLI::Formatter& fmt, const CLI::Option* opt) {
  const bool positional = !opt->nonpositional();
  nlohmann::json o;
  o["positional"] = positional;
  o["name"] = fmt.make_option_name(opt, positional);
  o["value_text"] = fmt.make_option_opts(opt);
  o["description"] = fmt.make_option_desc(opt);
  o["long_names"] = opt->get_lnames();
  o["short_names"] = opt->get_snames();
  o["takes_value"] = opt->get_expected_max() > 0;  // a flag expects no value
  o["required"] = opt->get_required();
  o["repeatable"] = opt->get_expected_max() > 1;
  return o;
}

// One (sub)command and everything under it; `path` is how a user types it ("pbxstate report").
nlohmann::json DescribeApp(const CLI::Formatter& fmt, const CLI::App* app, const std::string& path) {
  nlohmann::json a;
  a["name"] = path.substr(path.rfind(' ') + 1);  // the root's own name is argv[0]
  a["path"] = path;
  a["description"] = app->get_description();
  a["footer"] = app->get_footer();
  std::string usage = fmt.make_usage(app, path);
  while (!usage.empty() && usage.back() == '\n') usage.pop_back();
  a["usage"] = usage;
  a["subcommand_required"] = app->get_require_subcommand_min() > 0;
  a["options"] = nlohmann::json::array();
  for (const CLI::Option* opt : app->get_options()) {
    if (!Hidden(opt)) a["options"].push_back(DescribeOption(fmt, opt));
  }
  a["subcommands"] = nlohmann::json::array();
  for (const CLI::App* sub : app->get_subcommands({})) {
    if (!Hidden(sub)) a["subcommands"].push_back(DescribeApp(fmt, sub, path + " " + sub->get_name()));
  }
  return a;
}

}  // namespace

void AddDescribeCommand(CLI::App& app, Action& chosen) {
  CLI::App* cmd = app.add_subcommand("describe-cli", "");
  cmd->group("");  // hidden from --help and from the description itself
  CLI::App* root = &app;
  cmd->callback([root, &chosen]() {
    chosen = [root]() {
      // Every App of this program keeps the default CLI11 formatter; the man page shows what
      // --help shows only as long as that holds.
      const auto fmt = std::dynamic_pointer_cast<CLI::Formatter>(root->get_formatter());
      if (fmt == nullptr) {
        std::fprintf(stderr, "pbxstate describe-cli: the command line has a custom formatter\n");
        return kExitInvalid;
      }
      nlohmann::json d = DescribeApp(*fmt, root, "pbxstate");
      d["version"] = PBXSTATE_VERSION;
      std::printf("%s\n", d.dump(2).c_str());
      return kExitOk;
    };
  });
}

}  // namespace pbxstate::cli
