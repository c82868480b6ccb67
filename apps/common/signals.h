// Ctrl-C handling for long runs: the first SIGINT only sets a flag that the training loop polls
// between steps (it then writes a checkpoint and exits cleanly); a second SIGINT kills the
// process as usual, for a loop that does not get to poll.
#pragma once

namespace apps {

// Installs the SIGINT handler (idempotent).
void install_stop_handler();
// True once SIGINT arrived or request_stop() was called.
bool stop_requested();
// Sets the flag from code (tests, other triggers).
void request_stop();
// Clears the flag (the next run in the same process starts fresh).
void clear_stop();

}  // namespace apps
