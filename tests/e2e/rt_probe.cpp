// rt_probe: proves the real PortAudio callback neither allocates nor locks while the patch is
// edited live. Plays a patch through AudioOutput on the default device (tests/e2e/rt_callback.sh
// runs it on a JACK dummy server); the render hook arms an RtGuard around engine.process() in
// the real callback, while this (UI) thread applies random edits through the Session — add and
// remove modules, connect and disconnect cables, parameter jumps, undo — a few ms apart, and
// polls. Then it stops the stream and prints one line:
//   RESULT callbacks=N hook_calls=N swaps=N allocations=N locks=N edits=N compiles=N xruns=N seconds=S
//
// Usage: rt_probe PATCH [--edits N] [--interval-ms MS] [--seed N] [--types a,b,c] [--negative-control]
// (--negative-control: the hook also mallocs once per callback, so allocations must come out > 0.)
// Exit codes: 0 ran (the script judges the numbers), 1 bad usage or patch, 2 no audio device,
// 77 skipped (a sanitizer build: the allocation counter is compiled out).
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/io/audio_device.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "tests/support/probe_main.hpp"
#include "tests/support/random_editor.hpp"
#include "tests/support/rt_guard.hpp"

using namespace kabel;
using kabel::test::RandomEditor;

namespace {

struct GuardTotals {
    std::atomic<long> allocations{0};
    std::atomic<long> locks{0};
    std::atomic<long> calls{0};
};

// The render hook (audio thread): the engine call, counted.
void guardedProcess(void* user, Engine& engine, const DeviceBlock& block) noexcept {
    auto& totals = *static_cast<GuardTotals*>(user);
    kabel::test::RtGuard guard;
    renderDeviceBlock(engine, block);
    const kabel::test::RtCounts c = guard.counts();
    if (c.allocations) totals.allocations.fetch_add(c.allocations, std::memory_order_relaxed);
    if (c.locks) totals.locks.fetch_add(c.locks, std::memory_order_relaxed);
    totals.calls.fetch_add(1, std::memory_order_relaxed);
}

// The negative control (audio thread): the same, plus one deliberate malloc/free (through a
// volatile pointer, so the compiler cannot elide the pair) and one mutex lock per callback.
// Proves the counters work inside the real PortAudio callback thread.
void* (*volatile gAllocate)(std::size_t) = &std::malloc;
pthread_mutex_t gControlMutex = PTHREAD_MUTEX_INITIALIZER;
void guardedProcessThatAllocates(void* user, Engine& engine, const DeviceBlock& block) noexcept {
    auto& totals = *static_cast<GuardTotals*>(user);
    kabel::test::RtGuard guard;
    renderDeviceBlock(engine, block);
    std::free(gAllocate(64));
    pthread_mutex_lock(&gControlMutex);
    pthread_mutex_unlock(&gControlMutex);
    const kabel::test::RtCounts c = guard.counts();
    if (c.allocations) totals.allocations.fetch_add(c.allocations, std::memory_order_relaxed);
    if (c.locks) totals.locks.fetch_add(c.locks, std::memory_order_relaxed);
    totals.calls.fetch_add(1, std::memory_order_relaxed);
}

struct Options {
    std::string patch;
    int edits = 300;
    int intervalMs = 3;
    unsigned seed = 1;
    std::vector<std::string> types;  // empty: every registered type
    bool negativeControl = false;    // allocate in the callback on purpose
};

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> items;
    std::string item;
    for (char c : text + ",") {
        if (c != ',') {
            item += c;
        } else if (!item.empty()) {
            items.push_back(item);
            item.clear();
        }
    }
    return items;
}

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool hasValue = i + 1 < argc;
        if (a == "--edits" && hasValue)
            o.edits = std::atoi(argv[++i]);
        else if (a == "--interval-ms" && hasValue)
            o.intervalMs = std::atoi(argv[++i]);
        else if (a == "--seed" && hasValue)
            o.seed = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        else if (a == "--types" && hasValue)
            o.types = splitList(argv[++i]);
        else if (a == "--negative-control")
            o.negativeControl = true;
        else if (!a.starts_with("-") && o.patch.empty())
            o.patch = a;
        else
            return false;
    }
    return !o.patch.empty() && o.edits > 0 && o.intervalMs >= 0;
}

int run(const Options& o) {
    const LoadedPatch loaded = loadPatchFile(o.patch, Registry::global());  // throws InputError

    AudioSystem audio("kabel-rt-probe");
    const AudioDeviceChoice device = audio.chooseOutput();
    Engine engine(EngineConfig{device.sampleRate, 64, device.channels});
    Session session(engine, Registry::global());
    session.load(loaded.patch);
    RandomEditor editor(session, Registry::global(), o.types, o.seed);
    if (!editor.usable()) {
        std::fprintf(stderr, "rt_probe: no registered module type matches --types\n");
        return 1;
    }

    GuardTotals totals;
    AudioOutputOptions streamOptions;
    streamOptions.renderHook = o.negativeControl ? &guardedProcessThatAllocates : &guardedProcess;
    streamOptions.renderUser = &totals;
    AudioOutput output(audio, engine, device, streamOptions);
    output.start();
    const auto started = std::chrono::steady_clock::now();
    std::printf("AUDIO started on %s at %.0f Hz\n", device.label().c_str(), device.sampleRate);
    std::fflush(stdout);

    int edits = 0;
    for (int attempt = 0; edits < o.edits && attempt < o.edits * 20 && !kabel::test::probeStopRequested().load(); ++attempt) {
        if (!editor.step()) continue;
        ++edits;
        // Let the callback take this plan before the next edit replaces it (bounded: a stalled
        // device must not hang the probe).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (engine.activeGeneration() < session.compileCount() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        session.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(o.intervalMs));
    }
    // Let the fades end and the ghosts go, as a user pausing would.
    for (int i = 0; i < 100 && session.transitioning(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        session.poll();
    }
    output.stop();
    session.poll();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const AudioOutputStats s = output.stats();
    const EngineStats e = engine.stats();
    std::printf(
        "RESULT callbacks=%llu hook_calls=%ld swaps=%llu allocations=%ld locks=%ld edits=%d compiles=%llu xruns=%llu seconds=%.2f%s\n",
        static_cast<unsigned long long>(s.callbacks), totals.calls.load(), static_cast<unsigned long long>(e.planSwaps),
        totals.allocations.load(), totals.locks.load(), edits, static_cast<unsigned long long>(session.compileCount()),
        static_cast<unsigned long long>(s.xruns), seconds, output.abandoned() ? " abandoned=1" : "");
    std::fflush(stdout);
    return output.abandoned() ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    const bool parsed = parse(argc, argv, options);
    return kabel::test::probeMain("rt_probe", parsed,
                                  "rt_probe PATCH [--edits N] [--interval-ms MS] [--seed N] [--types a,b,c] [--negative-control]",
                                  [&] { return run(options); });
}
