// Asterisk's aggregation, checked against a table written from main/devicestate.c by hand.
#include "devstate_aggregate.h"

#include <gtest/gtest.h>

#include <array>

namespace pbxstate {
namespace {

using S = DeviceState;
constexpr S U = S::kUnknown, N = S::kNotInUse, I = S::kInUse, B = S::kBusy, V = S::kInvalid, A = S::kUnavailable,
            R = S::kRinging, RI = S::kRingInUse, H = S::kOnHold;

DeviceState Agg(std::initializer_list<DeviceState> states) {
  DeviceStateAggregate a;
  for (DeviceState s : states) a.Add(s);
  return a.Result();
}

TEST(DeviceStateAggregate, EmptyIsInvalid) { EXPECT_EQ(DeviceStateAggregate().Result(), V); }

TEST(DeviceStateAggregate, EveryPairMatchesTable) {
  // kPair[a][b] = aggregate of {a, b}, indices in Asterisk's enum order
  // (UNKNOWN, NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD).
  // Rank: INVALID < UNKNOWN < UNAVAILABLE < NOT_INUSE < ONHOLD < RINGING < INUSE < BUSY < RINGINUSE;
  // RINGING with INUSE, BUSY or ONHOLD is RINGINUSE.
  const std::array<std::array<DeviceState, 9>, 9> kPair = {{
      /* UNKNOWN     */ {U, N, I, B, U, A, R, RI, H},
      /* NOT_INUSE   */ {N, N, I, B, N, N, R, RI, H},
      /* INUSE       */ {I, I, I, B, I, I, RI, RI, I},
      /* BUSY        */ {B, B, B, B, B, B, RI, RI, B},
      /* INVALID     */ {U, N, I, B, V, A, R, RI, H},
      /* UNAVAILABLE */ {A, N, I, B, A, A, R, RI, H},
      /* RINGING     */ {R, R, RI, RI, R, R, R, RI, RI},
      /* RINGINUSE   */ {RI, RI, RI, RI, RI, RI, RI, RI, RI},
      /* ONHOLD      */ {H, H, I, B, H, H, RI, RI, H},
  }};
  for (int a = 0; a < 9; ++a) {
    for (int b = 0; b < 9; ++b) {
      const auto sa = static_cast<DeviceState>(a), sb = static_cast<DeviceState>(b);
      EXPECT_EQ(Agg({sa, sb}), kPair[a][b]) << DeviceStateName(sa) << " + " << DeviceStateName(sb);
    }
  }
}

TEST(DeviceStateAggregate, SingleStateIsItself) {
  for (int a = 0; a < 9; ++a) EXPECT_EQ(Agg({static_cast<DeviceState>(a)}), static_cast<DeviceState>(a));
}

TEST(DeviceStateAggregate, Triples) {
  EXPECT_EQ(Agg({N, N, I}), I);
  EXPECT_EQ(Agg({N, R, N}), R);
  EXPECT_EQ(Agg({R, N, H}), RI);       // ringing and on hold
  EXPECT_EQ(Agg({H, N, R}), RI);
  EXPECT_EQ(Agg({U, A, V}), A);
  EXPECT_EQ(Agg({V, V, V}), V);
  EXPECT_EQ(Agg({A, A, N}), N);
  EXPECT_EQ(Agg({B, H, N}), B);
  EXPECT_EQ(Agg({R, R, B}), RI);
}

TEST(DeviceStateAggregate, OrderDoesNotMatterForAnyTriple) {
  for (int a = 0; a < 9; ++a) {
    for (int b = 0; b < 9; ++b) {
      for (int c = 0; c < 9; ++c) {
        const auto sa = static_cast<S>(a), sb = static_cast<S>(b), sc = static_cast<S>(c);
        const S ref = Agg({sa, sb, sc});
        EXPECT_EQ(Agg({sc, sb, sa}), ref);
        EXPECT_EQ(Agg({sb, sa, sc}), ref);
        EXPECT_EQ(Agg({sa, sc, sb}), ref);
      }
    }
  }
}

TEST(DeviceStateNames, RoundTrip) {
  for (int a = 0; a < 9; ++a) {
    const auto s = static_cast<S>(a);
    EXPECT_EQ(ParseDeviceState(DeviceStateName(s)), s);
  }
  EXPECT_EQ(ParseDeviceState("inuse"), I);
  EXPECT_EQ(ParseDeviceState("IN_USE"), std::nullopt);
}

}  // namespace
}  // namespace pbxstate
