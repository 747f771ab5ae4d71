// The running kernel's scheduler tick (1/CONFIG_HZ), read from the kernel rather than assumed
// (sim/emu/README.md, "What ran in the stalls"). A CPU that executes takes its tick's timer
// interrupt at least this often (timer_interrupts.h builds on it). /proc/timer_list (root) gives
// the monotonic time ("now at N nsecs") and the kernel's jiffies ("jiffies: N"); two readings
// apart give jiffies per second, which is CONFIG_HZ, one of Kconfig's choices.
//
// Linux. Pure parsing (ParseTimerList, TickFromJiffies) plus one reading function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::emu {

// CONFIG_HZ's choices (kernel/Kconfig.hz): a measured rate is taken as the nearest within 5 %.
inline constexpr int kKernelHzChoices[] = {100, 250, 300, 1000};

// One reading of /proc/timer_list's text: its first "now at N nsecs" and first "jiffies: N".
// Fails naming `source`, the line and the field when either is missing or not a number.
Status ParseTimerList(std::string_view text, std::string_view source, std::int64_t* now_ns, std::uint64_t* jiffies);

// The tick from two readings (the second later): 1 s / HZ, HZ the choice nearest the measured
// jiffies per second. Fails naming `source` when the readings are less than 100 ms apart, go
// back, or give a rate not within 5 % of a choice.
Status TickFromJiffies(std::int64_t now0_ns, std::uint64_t jiffies0, std::int64_t now1_ns, std::uint64_t jiffies1,
                       std::string_view source, Duration* tick);

// Reads `timer_list` twice, `apart` apart (sleeping), and gives the tick; fails naming the file.
Status ReadKernelTick(const std::string& timer_list, Duration apart, Duration* tick);

}  // namespace pbxstate::emu
