// A scenario's network as an Ns3World, defined once for the two backends whose network is a
// world: ns-3 (simulated, with its engines) and emulation (the same world in real time, with real
// processes in its nodes' place). Private to the runners.
#pragma once

#include <string>

#include "pbxstate/ns3/world.h"
#include "pbxstate/scenario/scenario.h"
#include "pbxstate/status.h"

namespace pbxstate::runner {

// Site i's name in the world: its name, or "lan" in the one-LAN form.
std::string SiteName(const scenario::Scenario& s, std::size_t i);

// The world of `s`: sites, LANs, links, the engines' broadcast mode and settings, ns-3's seed.
// The caller adds its collector.
ns3sim::WorldConfig WorldConfigFor(const scenario::Scenario& s);

// Makes a partition, heal, isolate, degrade or restore of `s` in the world, now: a partition or
// an isolation replaces the one in force; a degrade sets the given parameters, a restore the
// configured ones. Crash and restart are the backend's own (InvalidArgument here).
Status ApplyNetworkFault(const scenario::Scenario& s, const scenario::Fault& f, ns3sim::Ns3World& world);

// What a world cannot degrade during a run, refused naming the fault's position: a bandwidth
// (ns-3's links keep the rate they were built with) and jitter on a LAN (it applies to the links
// between sites). `network` names the backend's network in the message ("the ns-3 backend").
Status CheckWorldDegrades(const scenario::Scenario& s, const std::string& network);

}  // namespace pbxstate::runner
