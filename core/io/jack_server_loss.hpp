// Surviving a JACK server that quits under a running PortAudio stream.
//
// Design note. Debian's PortAudio 19.6 is built with assertions on, and its JACK host API
// asserts that every JACK call succeeds while it tears a stream down: once the server is gone,
// Pa_CloseStream aborts the process in jack_port_unregister ("pa_jack.c:988 CleanUpStream:
// Assertion 'err == 0'"), and Pa_Terminate in jack_deactivate/jack_client_close. Before that,
// Pa_CloseStream first aborts the still-"running" stream and waits on a condition that only the
// (now dead) JACK process thread would signal (a 10-minute timed wait).
//
// So Kabel interposes four libjack functions (jack_server_loss.cpp defines them in the program;
// the dynamic linker binds PortAudio's calls to them first) and forwards each to libjack:
//   - jack_on_shutdown records which clients registered a shutdown handler (PortAudio's does)
//     and chains its own trampoline, which marks the client dead when the server goes away;
//   - jack_port_unregister, jack_deactivate and jack_client_close report success for a client
//     marked dead (libjack still frees its side of it);
//   - releaseDeadJackStream() runs a close (Pa_CloseStream) while re-running the dead clients'
//     shutdown handlers every few milliseconds, so PortAudio's wait is signalled at once.
// With that, a dead stream closes in milliseconds, Pa_Terminate succeeds, and a new
// Pa_Initialize connects to the server once it is back. Clients that registered no shutdown
// handler (our JACK MIDI client) are not affected: their calls return what libjack returns.
#pragma once

#include <functional>

namespace kabel {

/// Any thread: true once the JACK server went away under a client that registered a shutdown
/// handler (PortAudio's), and that client has not been closed since.
bool jackClientLost() noexcept;

/// UI thread: runs `close` (e.g. Pa_CloseStream on a stream whose JACK client is dead) while a
/// helper thread re-signals the dead clients' shutdown handlers. Returns when `close` returns.
void releaseDeadJackStream(const std::function<void()>& close);

/// True when the program's jack_* interposers are the ones libjack callers (PortAudio) reach.
/// A test checks it: without it a lost server still aborts the process.
bool jackServerLossGuardActive();

}  // namespace kabel
