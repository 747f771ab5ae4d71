// Always-on checks of cheap invariants, TigerBeetle-style.
//
// assert() is compiled out with NDEBUG, and every ns-3, gate and 1,000-node run is a
// RelWithDebInfo build with NDEBUG: an invariant written as assert() is never checked where the
// runs are. PBXSTATE_CHECK stays in every build. Use it for invariants whose check costs a few
// instructions (window bounds, watermarks, session states, queue bounds, sizes against their
// limits); keep assert() only for checks too costly for production (none today).
//
// A failed check means the process's state is not what the code believes, so the only safe thing
// is to stop before that state spreads to other nodes: it prints one line to stderr,
//   "<file>:<line>: pbxstate check failed: <expression> (<a> vs <b>)"
// (the two values for the comparing forms) and aborts (SIGABRT: a core dump where enabled). It is
// never an error path: bad input from the network, a user or a file gets a Status; an
// operating-system failure gets a Status. engine/README.md, "Checks", has the rule.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <type_traits>

namespace pbxstate::check_internal {

// Prints the failure line and aborts. `values` may be empty.
[[noreturn, gnu::cold, gnu::noinline]] void Fail(const char* file, int line, const char* expression,
                                                 const std::string& values);

// A value in a failure line: numbers, booleans, enums (as their number), durations and time points
// (in nanoseconds); "?" for anything else.
template <typename T>
std::string Text(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(static_cast<std::underlying_type_t<T>>(v)));
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    return std::to_string(static_cast<long long>(v));
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(static_cast<unsigned long long>(v));
  } else if constexpr (requires { v.count(); }) {
    return Text(std::chrono::duration_cast<std::chrono::nanoseconds>(v).count()) + "ns";
  } else if constexpr (requires { v.time_since_epoch(); }) {
    return "@" + Text(v.time_since_epoch());
  } else {
    return "?";
  }
}

template <typename A, typename B>
[[noreturn, gnu::cold, gnu::noinline]] void FailCompare(const char* file, int line, const char* expression, const A& a,
                                                        const B& b) {
  Fail(file, line, expression, Text(a) + " vs " + Text(b));
}

}  // namespace pbxstate::check_internal

// Aborts with file:line and the expression unless `cond` holds.
#define PBXSTATE_CHECK(cond)                                                       \
  do {                                                                             \
    if (!(cond)) [[unlikely]]                                                      \
      ::pbxstate::check_internal::Fail(__FILE__, __LINE__, #cond, std::string()); \
  } while (0)

// Aborts with file:line, the expression and both values unless `a op b` holds. Each operand is
// evaluated once and copied (operands are scalars: sizes, counters, durations, time points; a copy
// never dangles, as a reference to std::max's result would).
#define PBXSTATE_CHECK_OP(a, op, b)                                                                       \
  do {                                                                                                    \
    const auto pbxstate_check_a_ = (a);                                                                   \
    const auto pbxstate_check_b_ = (b);                                                                   \
    if (!(pbxstate_check_a_ op pbxstate_check_b_)) [[unlikely]]                                           \
      ::pbxstate::check_internal::FailCompare(__FILE__, __LINE__, #a " " #op " " #b, pbxstate_check_a_,   \
                                              pbxstate_check_b_);                                         \
  } while (0)
#define PBXSTATE_CHECK_EQ(a, b) PBXSTATE_CHECK_OP(a, ==, b)
#define PBXSTATE_CHECK_NE(a, b) PBXSTATE_CHECK_OP(a, !=, b)
#define PBXSTATE_CHECK_LT(a, b) PBXSTATE_CHECK_OP(a, <, b)
#define PBXSTATE_CHECK_LE(a, b) PBXSTATE_CHECK_OP(a, <=, b)
#define PBXSTATE_CHECK_GT(a, b) PBXSTATE_CHECK_OP(a, >, b)
#define PBXSTATE_CHECK_GE(a, b) PBXSTATE_CHECK_OP(a, >=, b)
