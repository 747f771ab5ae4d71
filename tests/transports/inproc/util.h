// Small helpers shared by the cluster tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "pbxstate/inproc/cluster.h"
#include "pbxstate/types.h"

namespace pbxstate::testing {

// A node's answer for a device, as the tests spell it: "BUSY", or "none" when it knows none.
inline std::string ToString(const std::optional<DeviceState>& state) {
  return state ? std::string(DeviceStateName(*state)) : "none";
}

inline std::string ModeName(MembershipSource m) {
  return m == MembershipSource::kHeartbeat ? "Heartbeat" : "Transport";
}

// PBXSTATE_TRACE=<ms>: prints every traced event of `c` from that virtual instant on, for
// debugging a replayed seed. Does nothing when the variable is unset.
inline void PrintTraceIfAsked(inproc::Cluster& c) {
  const char* t = std::getenv("PBXSTATE_TRACE");
  if (t == nullptr || *t == '\0') return;
  const MonoTime from = MonoTime(std::chrono::milliseconds(std::strtoll(t, nullptr, 10)));
  c.SetTraceHook([from](const inproc::TraceEvent& te) {
    if (te.at < from) return;
    std::ostringstream os;
    os << "    " << std::chrono::duration_cast<std::chrono::microseconds>(te.at.time_since_epoch()).count() << "us "
       << inproc::TraceKindName(te.kind) << " node=" << te.node;
    if (te.kind == inproc::TraceKind::kDelivered || te.kind == inproc::TraceKind::kDropped) {
      os << " from=" << te.peer << " bytes=" << te.bytes;
      if (te.kind == inproc::TraceKind::kDropped) os << " cause=" << inproc::DropCauseName(te.drop_cause);
      // The type byte of the engine's frame header (magic "PX", version, type): debugging only.
      if (te.frame.size() > 3) os << " type=" << static_cast<int>(te.frame[3]);
    }
    if (te.change) {
      os << " " << EntryKindName(te.change->kind) << " " << te.change->key << " origin=" << te.change->origin
         << " cause=" << ChangeCauseName(te.change->cause) << " v=" << te.change->version.incarnation << "/"
         << te.change->version.sequence;
    }
    if (te.members) {
      os << " members={";
      for (NodeId m : *te.members) os << " " << m;
      os << " }";
    }
    std::printf("%s\n", os.str().c_str());
  });
}

// A started cluster (with PrintTraceIfAsked); fails the calling test when it cannot be created.
inline std::unique_ptr<inproc::Cluster> MakeCluster(const inproc::ClusterOptions& options) {
  std::unique_ptr<inproc::Cluster> c;
  Status s = inproc::Cluster::Create(options, &c);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (c) PrintTraceIfAsked(*c);
  return c;
}

#define PBX_ASSERT_OK(expr)                                   \
  do {                                                        \
    ::pbxstate::Status _st = (expr);                          \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (0)

}  // namespace pbxstate::testing
