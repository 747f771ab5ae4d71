// pbxstate report index DIR | report compare RUN_A RUN_B: pages over run records already
// written (by `run` or `check`), drawn by reports/*.py.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "report_scripts.h"

namespace pbxstate::cli {
namespace {

struct ReportOptions {
  std::string dir;
  std::string run_a;
  std::vector<std::string> run_b;  // one, or several real runs of a simulation's scenario
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
                 "convergence of both. With a simulated RUN_A and real RUN_Bs (e.g. ns3 and several\n"
                 "netns runs from run --repeat), it opens with the calibration table: simulated value,\n"
                 "real median and spread, ratio, target. Default output: the first RUN_B/compare.html.");
  compare->add_option("RUN_A", options->run_a, "first run folder (the reference, or the simulation)")->required();
  compare->add_option("RUN_B", options->run_b, "second run folder, or several real runs")->required();
  compare->add_option("--out", options->out, "where to write the page");
  compare->callback([options, &chosen] {
    chosen = [options] {
      std::vector<std::string> args = {options->run_a};
      args.insert(args.end(), options->run_b.begin(), options->run_b.end());
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
