// pbxstate report index DIR | report compare RUN_A RUN_B: pages over run records already
// written (by `run` or `check`), drawn by reports/*.py.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "report_scripts.h"

namespace pbxstate::cli {
namespace {

struct ReportOptions {
  std::string dir;
  std::string run_a, run_b;
  std::string out;
};

}  // namespace

void AddReportCommand(CLI::App& app, Action& chosen) {
  auto options = std::make_shared<ReportOptions>();
  CLI::App* report = app.add_subcommand("report", "Pages over run records: an index of runs, a comparison of two.");
  report->require_subcommand(1);

  CLI::App* index = report->add_subcommand(
      "index", "Write DIR/index.html: every run record (a folder with run.json) under DIR, with its\n"
               "verdict and main figures, linked to its report.");
  index->add_option("DIR", options->dir, "folder holding run folders")->required();
  index->callback([options, &chosen] {
    chosen = [options] {
      if (!RunReportScript("index_report.py", {options->dir}, false)) return kExitInvalid;
      return kExitOk;
    };
  });

  CLI::App* compare = report->add_subcommand(
      "compare", "Write a page with two runs side by side (the same scenario before and after a change,\n"
                 "or on two backends): every metric with its difference, latency distributions and\n"
                 "convergence of both. Default output: RUN_B/compare.html.");
  compare->add_option("RUN_A", options->run_a, "first run folder (the reference)")->required();
  compare->add_option("RUN_B", options->run_b, "second run folder")->required();
  compare->add_option("--out", options->out, "where to write the page");
  compare->callback([options, &chosen] {
    chosen = [options] {
      std::vector<std::string> args = {options->run_a, options->run_b};
      if (!options->out.empty()) {
        args.push_back("--out");
        args.push_back(options->out);
      }
      if (!RunReportScript("compare_report.py", args, false)) return kExitInvalid;
      return kExitOk;
    };
  });
}

}  // namespace pbxstate::cli
