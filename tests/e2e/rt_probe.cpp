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
#include "tests/support/rt_guard.hpp"

using namespace kabel;

namespace {

std::atomic<bool> gStop{false};
extern "C" void onStopSignal(int) { gStop.store(true); }

struct GuardTotals {
    std::atomic<long> allocations{0};
    std::atomic<long> locks{0};
    std::atomic<long> calls{0};
};

// The render hook (audio thread): the engine call, counted.
void guardedProcess(void* user, Engine& engine, float* const* out, int channels, int frames) noexcept {
    auto& totals = *static_cast<GuardTotals*>(user);
    kabel::test::RtGuard guard;
    engine.process(out, channels, frames);
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
void guardedProcessThatAllocates(void* user, Engine& engine, float* const* out, int channels, int frames) noexcept {
    auto& totals = *static_cast<GuardTotals*>(user);
    kabel::test::RtGuard guard;
    engine.process(out, channels, frames);
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
        if (a == "--edits" && hasValue) o.edits = std::atoi(argv[++i]);
        else if (a == "--interval-ms" && hasValue) o.intervalMs = std::atoi(argv[++i]);
        else if (a == "--seed" && hasValue) o.seed = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        else if (a == "--types" && hasValue) o.types = splitList(argv[++i]);
        else if (a == "--negative-control") o.negativeControl = true;
        else if (!a.starts_with("-") && o.patch.empty()) o.patch = a;
        else return false;
    }
    return !o.patch.empty() && o.edits > 0 && o.intervalMs >= 0;
}

// Random edits through the session, the way a performer patches: mostly structural.
class Editor {
public:
    Editor(Session& session, const Registry& registry, const std::vector<std::string>& types, unsigned seed)
        : session_(session), registry_(registry), rng_(seed) {
        for (const ModuleDescriptor* d : registry.all())
            if (types.empty() || std::find(types.begin(), types.end(), d->id) != types.end()) types_.push_back(d);
    }
    bool usable() const { return !types_.empty(); }

    // One edit; false when the random choice was a no-op (e.g. a cable that exists already).
    bool step() {
        const Patch& doc = session_.patch();
        const int action = static_cast<int>(pick(7));
        if (action == 0 || doc.modules.size() < 3) {
            if (doc.modules.size() >= kMaxModules) return false;
            const ModuleDescriptor* d = types_[pick(types_.size())];
            remember(doc);
            std::string base(1, 'e');  // (not "e" + to_string: g++ 12 warns falsely, -Wrestrict)
            base += std::to_string(nextId_++);
            const std::string id = doc.uniqueModuleId(base);
            session_.edit([&](Patch& p) {
                ModuleSpec m;
                m.id = id;
                m.type = d->id;
                p.modules.push_back(std::move(m));
            });
            return true;
        }
        if (action == 1) {
            remember(doc);
            const std::string id = doc.modules[pick(doc.modules.size())].id;
            session_.edit([&](Patch& p) {
                std::erase_if(p.modules, [&](const ModuleSpec& m) { return m.id == id; });
                std::erase_if(p.cables, [&](const CableSpec& c) { return c.from.module == id || c.to.module == id; });
            });
            return true;
        }
        if (action == 2 || action == 3) {
            const ModuleSpec& a = doc.modules[pick(doc.modules.size())];
            const ModuleSpec& b = doc.modules[pick(doc.modules.size())];
            const ModuleDescriptor* da = registry_.find(a.type);
            const ModuleDescriptor* db = registry_.find(b.type);
            if (!da || !db || da->outputs.empty() || db->inputs.empty()) return false;
            CableSpec c{{a.id, da->outputs[pick(da->outputs.size())].id}, {b.id, db->inputs[pick(db->inputs.size())].id}, {}};
            if (std::any_of(doc.cables.begin(), doc.cables.end(), [&](const CableSpec& x) { return x.sameEnds(c); })) return false;
            remember(doc);
            session_.edit([&](Patch& p) { p.cables.push_back(c); });
            return true;
        }
        if (action == 4) {
            if (doc.cables.empty()) return false;
            remember(doc);
            const auto k = static_cast<long>(pick(doc.cables.size()));
            session_.edit([&](Patch& p) { p.cables.erase(p.cables.begin() + k); });
            return true;
        }
        if (action == 5) {  // a knob jump, to an extreme or the middle
            const ModuleSpec& m = doc.modules[pick(doc.modules.size())];
            const ModuleDescriptor* d = registry_.find(m.type);
            if (!d || d->params.empty()) return false;
            const ParamDescriptor& p = d->params[pick(d->params.size())];
            const float x = std::array<float, 4>{0.0f, 0.3f, 0.7f, 1.0f}[pick(4)];
            return session_.setParam(m.id, p.id, p.fromNormalized(x));
        }
        if (history_.empty()) return false;  // undo
        session_.setPatch(history_.back());
        history_.pop_back();
        return true;
    }

private:
    static constexpr std::size_t kMaxModules = 24;

    std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    void remember(const Patch& doc) {
        history_.push_back(doc);
        if (history_.size() > 32) history_.erase(history_.begin());
    }

    Session& session_;
    const Registry& registry_;
    std::mt19937 rng_;
    std::vector<const ModuleDescriptor*> types_;
    std::vector<Patch> history_;
    int nextId_ = 0;
};

int run(const Options& o) {
    const LoadedPatch loaded = loadPatchFile(o.patch, Registry::global());  // throws InputError

    AudioSystem audio("kabel-rt-probe");
    const AudioDeviceChoice device = audio.chooseOutput();
    Engine engine(EngineConfig{device.sampleRate, 64, device.channels});
    Session session(engine, Registry::global());
    session.load(loaded.patch);
    Editor editor(session, Registry::global(), o.types, o.seed);
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
    for (int attempt = 0; edits < o.edits && attempt < o.edits * 20 && !gStop.load(); ++attempt) {
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
    std::printf("RESULT callbacks=%llu hook_calls=%ld swaps=%llu allocations=%ld locks=%ld edits=%d compiles=%llu xruns=%llu seconds=%.2f%s\n",
                static_cast<unsigned long long>(s.callbacks), totals.calls.load(), static_cast<unsigned long long>(e.planSwaps),
                totals.allocations.load(), totals.locks.load(), edits, static_cast<unsigned long long>(session.compileCount()),
                static_cast<unsigned long long>(s.xruns), seconds, output.abandoned() ? " abandoned=1" : "");
    std::fflush(stdout);
    return output.abandoned() ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse(argc, argv, options)) {
        std::fprintf(stderr, "usage: rt_probe PATCH [--edits N] [--interval-ms MS] [--seed N] [--types a,b,c] [--negative-control]\n");
        return 1;
    }
    if (!kabel::test::kRtGuardActive) {
        std::printf("SKIP: the allocation/lock counter is compiled out in sanitizer builds\n");
        return 77;
    }
    struct sigaction sa {};
    sa.sa_handler = &onStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    try {
        return run(options);
    } catch (const AudioDeviceError& e) {
        std::fprintf(stderr, "rt_probe: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rt_probe: %s\n", e.what());
        return 1;
    }
}
