#include "pbxstate/netns/interrupt.h"

#include <signal.h>

#include <cassert>

namespace pbxstate::netns {
namespace {

volatile sig_atomic_t g_signal = 0;
bool g_installed = false;
struct sigaction g_old_int, g_old_term;

void OnSignal(int sig) { g_signal = sig; }

}  // namespace

InterruptGuard::InterruptGuard() {
  assert(!g_installed && "one InterruptGuard at a time");
  g_installed = true;
  g_signal = 0;
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll and sleeps return EINTR
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_installed = false;
}

bool InterruptRequested() { return g_signal != 0; }
int InterruptSignal() { return g_signal; }

}  // namespace pbxstate::netns
