// The main() of the end-to-end probes (tests/e2e: rt_probe, kabel_soak), which play through a real
// audio callback with an RtGuard in it: the usage line, the skip in sanitizer builds (the counter is
// compiled out), SIGINT/SIGTERM asking the run to stop (probeStopRequested), and exceptions as exit
// codes. Exit codes: the run's own, 1 bad usage or error, 2 no audio device, 77 skipped.
#pragma once

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>

#include "core/io/audio_device.hpp"
#include "tests/support/rt_guard.hpp"

namespace kabel::test {

/// True once SIGINT or SIGTERM arrived (any thread).
inline std::atomic<bool>& probeStopRequested() {
    static std::atomic<bool> stop{false};
    return stop;
}

extern "C" inline void kabelProbeStopSignal(int) {
    probeStopRequested().store(true);
}

/// `parsed`: the command line was understood (else `usage` is printed). `run()` returns the exit code.
template <typename Run>
int probeMain(const char* name, bool parsed, const char* usage, Run&& run) {
    if (!parsed) {
        std::fprintf(stderr, "usage: %s\n", usage);
        return 1;
    }
    if (!kRtGuardActive) {
        std::printf("SKIP: the allocation/lock counter is compiled out in sanitizer builds\n");
        return 77;
    }
    struct sigaction sa {};
    sa.sa_handler = &kabelProbeStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    try {
        return run();
    } catch (const AudioDeviceError& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return 1;
    }
}

}  // namespace kabel::test
