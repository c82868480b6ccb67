#include "apps/common/signals.h"

#include <atomic>
#include <csignal>

namespace apps {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  g_stop.store(true);
  // A second Ctrl-C terminates immediately.
  std::signal(SIGINT, SIG_DFL);
}

}  // namespace

void install_stop_handler() {
  std::signal(SIGINT, on_sigint);
}
bool stop_requested() {
  return g_stop.load();
}
void request_stop() {
  g_stop.store(true);
}
void clear_stop() {
  g_stop.store(false);
}

}  // namespace apps
