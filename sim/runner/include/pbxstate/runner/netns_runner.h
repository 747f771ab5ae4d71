// Runs a scenario on a real cluster on this host (sim/netns): one network namespace per node on
// a bridge, a corosync and a pbxstated in each, the workload driven through the daemons' control
// sockets, faults made with tc netem, nftables and SIGKILL. Every time is the host's
// CLOCK_MONOTONIC (scenario time t is run start + t; daemons stamp events with it), so
// latencies compare across processes. The same RunRecorder, oracle, metrics and run record as
// the ns-3 backend; not deterministic (real scheduling), so run.json differs run to run.
//
// Everything the run creates is torn down on every way out: success, error, exception, and
// SIGINT/SIGTERM (the run stops within a poll interval and returns an error saying so).
#pragma once

#include <filesystem>

#include "pbxstate/netns/corosync_conf.h"
#include "pbxstate/runner/run.h"

namespace pbxstate::runner {

struct NetnsOptions {
  // The daemon. Empty: $PBXSTATED, else daemon/pbxstated next to this build's pbxstate, else
  // pbxstated in PATH.
  std::filesystem::path pbxstated;
  netns::CorosyncTransport corosync_transport = netns::CorosyncTransport::kKnet;
  // A crash also SIGKILLs the node's corosync (its restart starts corosync again): failure
  // detection is then totem's token timeout instead of CPG seeing the process go.
  bool crash_corosync = false;
  // Where configs and logs go (a pbxst-<pid> folder is made in it). Empty: <out>/netns when the
  // run has an output folder, else the system's temporary folder.
  std::filesystem::path work_dir;
};

// Refuses, before anything starts, what the namespace backend cannot honour; the message names
// the file, line and field. (The host's own support is checked by RunNetns: root, tools.)
Status CheckNetnsSupport(const scenario::Scenario& s);

// Runs `s`; fails (nothing started) when the scenario or the host is not supported or the
// daemon is not found, and fails after teardown when the run could not go on (a daemon died,
// an interrupt). The record is written only for a completed run.
Status RunNetns(const scenario::Scenario& s, const RunOptions& options, RunOutcome* outcome,
                const NetnsOptions& netns_options = {});

// The pbxstated binary RunNetns would use (see NetnsOptions::pbxstated), or an error saying
// where it looked.
Status FindPbxstated(const NetnsOptions& options, std::filesystem::path* out);

}  // namespace pbxstate::runner
