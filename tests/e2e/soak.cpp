// kabel_soak: the soak test of issue 8. Plays a patch through the real PortAudio callback (on the
// JACK dummy server tests/e2e/soak.sh starts) for --seconds, and every --interval-ms applies one
// random edit through the Session, recorded first in an editor::History exactly as the editor
// does (tests/support/soak_editor.hpp: modules, cables, parameter jumps, samples, scales, undo,
// redo). Every 30..70 edits an episode ends: redo what is pending (the episode's end document),
// undo all the way back, the document must be the start patch byte for byte (serializePatch);
// redo all the way, it must be the episode's end document again; undo all again, the start
// patch again; then the History is cleared, the Session settles (fades, ghosts, background
// loads) and heap and RSS are measured at this equivalent state, so a leak shows as a slope
// across episodes.
//
// What is checked, and how (the script judges the numbers):
// - The audio thread: an RtGuard around the engine in the render hook counts allocations and
//   mutex locks (must be 0). The hook also copies each callback's output into a preallocated
//   lock-free SPSC ring (no allocation, no lock, no wait: a full ring drops and counts).
// - The pilot: a sine (--pilot-hz, amplitude --pilot-amp) on out.right that the soak never
//   touches. An analysis thread drains the ring and checks every sample against the sine's
//   three-term recurrence x[n+1] + x[n-1] = 2 cos(w) x[n] and its quadrature amplitude
//   x[n]^2 + ((x[n+1] - x[n-1]) / (2 sin w))^2 = A^2: a dropped, repeated, zeroed or
//   late-swapped block breaks one or the other by far more than the tolerance (1e-4).
// - The edited channel (out.left): never NaN/Inf, never at or above the output guard's ceiling
//   (1.0), and no click at an edit beyond the signal's own: for each edit, the largest second
//   difference |x[n] - 2x[n-1] + x[n-2]| in the edit's window (the blocks from just before the
//   edit until the audio thread has taken it, plus 128 frames) is compared with the largest in
//   the 500 ms before and the 500 ms after, outside every edit's window. A click is an edit-window peak above 0.02 and more
//   than 2x both neighbourhoods: the signal's own edges (saw wraps, kick onsets every beat at
//   132 BPM = 455 ms) appear in the neighbourhoods too; a step the edit adds does not. Judged
//   only for smooth edits (SoakStep::smooth: audio-to-audio cables, modules coming and
//   going, undo/redo of those), whose changes the engine must fade; jumps of continuous knobs
//   (which each module smooths itself; a resonant filter whose Q jumps may ring) are judged the
//   same way but counted apart (knob_clicks); edits that legitimately change a signal at once
//   (gates, pitches, choices, new samples) are counted apart too.
// - Xruns: JACK's (PortAudio's underflow flags) and Kabel's overruns (renders longer than the
//   buffer lasts), as `kabel play` reports them.
//
// Output: "EPISODE ..." lines, then one "RESULT key=value ..." line.
// Usage: kabel_soak PATCH --corpus DIR [--seconds S] [--interval-ms MS] [--seed N]
//        [--pilot-hz HZ] [--pilot-amp A] [--negative-control]
//        [--kinds add,remove,connect,disconnect,param,load_sample,unload_sample,load_scale,
//                 unload_scale,undo,redo]   (a diagnostic: only these kinds of edit)
// (--negative-control: the hook injects a click at every smooth edit, a pilot dropout every 64
// callbacks, and an allocation and a lock per callback; every one of those checks must fire.)
// Exit codes: 0 ran, 1 bad usage/patch/files, 2 no audio device, 77 skipped (sanitizer build).
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/io/audio_device.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/spsc_queue.hpp"
#include "gui/model/history.hpp"
#include "tests/support/probe_main.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/soak_editor.hpp"

using namespace kabel;
using Clock = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------------------------
// The audio thread's side: render, count, copy out.

constexpr int kChunk = 256;  // frames per ring element (a longer callback pushes several)

struct CaptureBlock {
    std::uint64_t frame = 0;  // device frame of left[0]
    int frames = 0;
    float left[kChunk];
    float right[kChunk];
};

struct HookState {
    explicit HookState(std::size_t capacity) : ring(capacity) {}
    SpscQueue<CaptureBlock> ring;
    std::uint64_t frame = 0;  // audio thread only
    std::atomic<long> allocations{0};
    std::atomic<long> locks{0};
    std::atomic<long> calls{0};
    std::atomic<long> dropped{0};  // ring full: blocks the analysis could not see
    // The negative control (--negative-control): faults the checks must catch.
    bool control = false;                   // set before the stream starts
    std::atomic<unsigned> controlEdits{0};  // UI thread: bumped after each smooth edit
    unsigned controlSeen = 0;               // audio thread
    float controlOffset = 0.0f;             // audio thread
};

// The negative control (audio thread, inside the RtGuard): a DC step of 0.8 on the edited channel
// (scaled by 0.1 first) at every smooth edit (a click), one zeroed pilot block every 64 callbacks (a dropout), and one
// malloc/free and one mutex lock per callback. Proves each check can fail on PortAudio's thread.
void* (*volatile gAllocate)(std::size_t) = &std::malloc;
pthread_mutex_t gControlMutex = PTHREAD_MUTEX_INITIALIZER;
void injectFaults(HookState& s, const DeviceBlock& block) noexcept {
    const unsigned edits = s.controlEdits.load(std::memory_order_relaxed);
    if (edits != s.controlSeen) {
        s.controlSeen = edits;
        s.controlOffset = s.controlOffset > 0.0f ? -0.4f : 0.4f;
    }
    // Scaled by 0.1 first, so the signal's own edges stay well below the injected step.
    for (int n = 0; n < block.frames; ++n) block.out[0][n] = 0.1f * block.out[0][n] + s.controlOffset;
    if (s.calls.load(std::memory_order_relaxed) % 64 == 63) std::fill(block.out[1], block.out[1] + block.frames, 0.0f);
    std::free(gAllocate(64));
    pthread_mutex_lock(&gControlMutex);
    pthread_mutex_unlock(&gControlMutex);
}

void soakHook(void* user, Engine& engine, const DeviceBlock& block) noexcept {
    auto& s = *static_cast<HookState*>(user);
    kabel::test::RtGuard guard;
    renderDeviceBlock(engine, block);
    if (s.control) injectFaults(s, block);
    for (int done = 0; done < block.frames; done += kChunk) {
        CaptureBlock c;
        c.frame = s.frame + static_cast<std::uint64_t>(done);
        c.frames = std::min(kChunk, block.frames - done);
        const float* left = block.out[0] + done;
        const float* right = block.out[1] + done;
        std::copy(left, left + c.frames, c.left);
        std::copy(right, right + c.frames, c.right);
        if (!s.ring.push(std::move(c))) s.dropped.fetch_add(1, std::memory_order_relaxed);
    }
    s.frame += static_cast<std::uint64_t>(block.frames);
    const kabel::test::RtCounts counts = guard.counts();
    if (counts.allocations) s.allocations.fetch_add(counts.allocations, std::memory_order_relaxed);
    if (counts.locks) s.locks.fetch_add(counts.locks, std::memory_order_relaxed);
    s.calls.fetch_add(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// The analysis thread: pilot continuity, the edited channel's limits, second differences.

constexpr int kD2Chunk = 64;  // frames per stored second-difference peak
constexpr double kPilotTolerance = 1e-4;

struct Analysis {
    // Set before the thread starts.
    double omega = 0.0;
    double amplitude = 0.5;
    std::vector<float> d2Peaks;  // per kD2Chunk frames of the edited channel; reserved up front
    // Results (read after join).
    std::uint64_t frames = 0;
    std::uint64_t gaps = 0;  // blocks whose frame did not follow the previous one
    std::uint64_t pilotBadSamples = 0;
    std::uint64_t pilotEvents = 0;  // discontinuities (bad samples more than 64 frames apart)
    double pilotMaxResidual = 0.0;  // the largest recurrence/amplitude error seen
    std::uint64_t nonFinite = 0;
    std::uint64_t overCeiling = 0;
    double leftPeak = 0.0;
    bool d2Overflow = false;

    // Running state.
    double x1 = 0.0, x2 = 0.0;  // pilot: previous two samples
    int have = 0;
    std::uint64_t lastBad = 0;
    bool anyBad = false;
    double l1 = 0.0, l2 = 0.0;  // edited channel: previous two samples
    float chunkPeak = 0.0f;
    int chunkFill = 0;
    std::uint64_t expectFrame = 0;

    void feed(const CaptureBlock& b) {
        if (b.frame != expectFrame) {  // a gap: the ring dropped blocks; restart the pilot fit
            ++gaps;
            have = 0;
        }
        expectFrame = b.frame + static_cast<std::uint64_t>(b.frames);
        const double c2 = 2.0 * std::cos(omega), s2 = 2.0 * std::sin(omega);
        for (int n = 0; n < b.frames; ++n) {
            const std::uint64_t frame = b.frame + static_cast<std::uint64_t>(n);
            // Pilot (right): checked at the middle sample of each triple.
            const double x = b.right[n];
            if (have >= 2) {
                const double residual = std::fabs(x + x2 - c2 * x1);
                const double q = (x - x2) / s2;
                const double amp = std::sqrt(x1 * x1 + q * q);
                const double err = std::max(residual, std::fabs(amp - amplitude));
                pilotMaxResidual = std::max(pilotMaxResidual, err);
                if (!(err <= kPilotTolerance)) {
                    ++pilotBadSamples;
                    if (!anyBad || frame - lastBad > 64) ++pilotEvents;
                    anyBad = true;
                    lastBad = frame;
                }
            } else {
                ++have;
            }
            x2 = x1;
            x1 = x;
            // Edited channel (left).
            const float l = b.left[n];
            if (!std::isfinite(l) || !std::isfinite(b.right[n])) ++nonFinite;
            if (std::fabs(l) > 1.0f || std::fabs(b.right[n]) > 1.0f) ++overCeiling;
            leftPeak = std::max(leftPeak, static_cast<double>(std::fabs(l)));
            const float d2 = std::fabs(static_cast<float>(l - 2.0 * l1 + l2));
            if (frame >= 2) chunkPeak = std::max(chunkPeak, d2);
            l2 = l1;
            l1 = l;
            if (++chunkFill == kD2Chunk) {
                if (d2Peaks.size() < d2Peaks.capacity())
                    d2Peaks.push_back(chunkPeak);
                else
                    d2Overflow = true;
                chunkPeak = 0.0f;
                chunkFill = 0;
            }
        }
        frames = expectFrame;
    }
};

// ---------------------------------------------------------------------------------------------
// Memory at equivalent states.

struct MemorySample {
    long long heap = 0;  // bytes in use: malloc'd chunks (all arenas) + mmapped chunks
    long long rss = 0;
};

MemorySample measureMemory() {
    MemorySample m;
    const struct mallinfo2 mi = mallinfo2();
    m.heap = static_cast<long long>(mi.uordblks + mi.hblkhd);
    std::ifstream statm("/proc/self/statm");
    long long size = 0, resident = 0;
    statm >> size >> resident;
    m.rss = resident * sysconf(_SC_PAGESIZE);
    return m;
}

// Theil-Sen slope of y over x, from index `skip` on: the median of the slopes between every pair
// of episodes, so one episode caught mid-load or one late one-time allocation (a step) does not
// tilt it the way it tilts a least-squares line. With x = edits so far: bytes per edit.
double slope(const std::vector<long long>& x, const std::vector<long long>& y, std::size_t skip) {
    if (y.size() < skip + 2) return 0.0;
    std::vector<double> slopes;
    for (std::size_t i = skip; i < y.size(); ++i)
        for (std::size_t j = i + 1; j < y.size(); ++j)
            if (x[j] != x[i]) slopes.push_back(static_cast<double>(y[j] - y[i]) / static_cast<double>(x[j] - x[i]));
    if (slopes.empty()) return 0.0;
    std::nth_element(slopes.begin(), slopes.begin() + static_cast<long>(slopes.size() / 2), slopes.end());
    return slopes[slopes.size() / 2];
}

// ---------------------------------------------------------------------------------------------

struct Options {
    std::string patch;
    std::filesystem::path corpus;
    double seconds = 60.0;
    int intervalMs = 100;
    unsigned seed = 1;
    double pilotHz = 997.0;
    double pilotAmp = 0.5;
    bool negativeControl = false;
    std::vector<kabel::test::SoakEdit> kinds;  // empty: all
};

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool v = i + 1 < argc;
        if (a == "--corpus" && v)
            o.corpus = argv[++i];
        else if (a == "--seconds" && v)
            o.seconds = std::atof(argv[++i]);
        else if (a == "--interval-ms" && v)
            o.intervalMs = std::atoi(argv[++i]);
        else if (a == "--seed" && v)
            o.seed = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        else if (a == "--pilot-hz" && v)
            o.pilotHz = std::atof(argv[++i]);
        else if (a == "--pilot-amp" && v)
            o.pilotAmp = std::atof(argv[++i]);
        else if (a == "--kinds" && v) {
            std::string list = std::string(argv[++i]) + ",", item;
            for (char c : list) {
                if (c != ',') {
                    item += c;
                    continue;
                }
                kabel::test::SoakEdit kind{};
                if (!kabel::test::soakEditFromString(item, kind)) return false;
                o.kinds.push_back(kind);
                item.clear();
            }
        } else if (a == "--negative-control")
            o.negativeControl = true;
        else if (!a.starts_with("-") && o.patch.empty())
            o.patch = a;
        else
            return false;
    }
    return !o.patch.empty() && !o.corpus.empty() && o.seconds > 0 && o.intervalMs > 0;
}

// The files the soak loads, relative to the corpus folder (read in place, never copied).
kabel::test::SoakFiles soakFiles() {
    kabel::test::SoakFiles f;
    f.samples = {"audio/go-audio-wav/kick.wav", "audio/go-audio-wav/kick-16b441k.wav", "audio/go-audio-aiff/kick.aif",
                 "audio/go-audio-wav/padded24b.wav", "audio/hound/waveformatextensible-24bit-192kHz-mono.wav"};
    f.badSamples = {"audio/soak-missing.wav",                                               // missing
                    "audio/hound/fuzz/crash-e5471f5b58397287b509db7d026e95f1724454f5.wav",  // truncated RIFF
                    "audio/go-audio-wav/sample.avi"};                                       // RIFF, not WAVE
    f.scales = {"scala/huygens-fokker-archive/scl/pelog20.scl", "scala/misc/scale-workshop/shang_pentatonic.scl",
                "tuning-library-data/31edo.scl", "tuning-library-data/rast.ascl", "tuning-library-data/zeus22.scl"};
    f.kbms = {"tuning-library-data/31edo_meantone.kbm", "scala/misc/surge/mapping-note48-to-100.kbm"};
    f.badScales = {"scala/soak-missing.scl", "tuning-library-data/bad/badnote.scl", "tuning-library-data/bad/missingnote.scl"};
    f.badKbms = {"tuning-library-data/bad/garbage-key.kbm"};
    return f;
}

struct EditMark {
    std::uint64_t from = 0, to = 0;  // engine frames: before the edit, after the audio thread took it
    bool smooth = false;
    bool judged = true;   // false: an episode's undo/redo burst
    bool knob = false;    // only parameter values changed
    char label[96] = {};  // what the edit was (fixed size: marks never allocate once reserved)
};

struct ClickStats {
    long judged = 0, clicks = 0, nonSmooth = 0, nonSmoothClicks = 0;
    long knobJudged = 0, knobClicks = 0;  // smooth knob jumps (and their undo/redo), apart
    double maxRatio = 0.0;                // smooth edits: the largest edit-window / neighbourhood ratio
};

constexpr float kClickFloor = 0.02f;
constexpr double kClickRatio = 2.0;

// The chunks of an edit's window: from just before the edit until 128 frames after the audio
// thread took it.
std::pair<std::int64_t, std::int64_t> editWindow(const EditMark& m) {
    return {static_cast<std::int64_t>(m.from / kD2Chunk) - 1, static_cast<std::int64_t>(m.to / kD2Chunk) + 2};
}

ClickStats judgeClicks(const std::vector<EditMark>& marks, const std::vector<float>& peaks, double sampleRate) {
    ClickStats s;
    const auto reach = static_cast<std::int64_t>(0.5 * sampleRate / kD2Chunk);
    const auto size = static_cast<std::int64_t>(peaks.size());
    // The neighbourhoods leave out every edit's window (edits are 100 ms apart: a click at each
    // would otherwise hide in its neighbours' clicks).
    std::vector<std::uint8_t> inEdit(peaks.size(), 0);
    for (const EditMark& m : marks) {
        const auto [c0, c1] = editWindow(m);
        for (std::int64_t c = std::max<std::int64_t>(c0, 0); c <= std::min(c1, size - 1); ++c) inEdit[static_cast<std::size_t>(c)] = 1;
    }
    for (const EditMark& m : marks) {
        if (!m.judged) continue;
        const auto [c0, c1] = editWindow(m);
        if (c0 - reach < 0 || c1 + reach >= size) continue;
        float edit = 0.0f, around = 0.0f;
        for (std::int64_t c = c0; c <= c1; ++c) edit = std::max(edit, peaks[static_cast<std::size_t>(c)]);
        for (std::int64_t c = c0 - reach; c <= c1 + reach; ++c)
            if (!inEdit[static_cast<std::size_t>(c)]) around = std::max(around, peaks[static_cast<std::size_t>(c)]);
        const double ratio = edit / std::max(around, 1e-9f);
        const bool click = edit > kClickFloor && ratio > kClickRatio;
        if (m.smooth) {
            ++(m.knob ? s.knobJudged : s.judged);
            if (click) ++(m.knob ? s.knobClicks : s.clicks);
            if (click || ratio > 1.5)
                std::printf("%s at %.3f s: edit-window peak %.4f, neighbourhood %.4f (x%.2f): %s\n", click ? "CLICK" : "NEAR",
                            m.from / sampleRate, edit, around, ratio, m.label);
            if (edit > kClickFloor) s.maxRatio = std::max(s.maxRatio, ratio);
        } else {
            ++s.nonSmooth;
            if (click) ++s.nonSmoothClicks;
        }
    }
    return s;
}

// Warms the process-wide caches a module type builds the first time one is created or loads a
// file (band-limited step and sinc tables, the tuning catalogue, FFT plans): one module of every
// type the soak adds, in a scratch Session on a scratch Engine that is never played, each file
// loaded once. Without it each type's first appearance mid-run is a step in the heap that reads
// as a leak. UI thread.
void warmCaches(const EngineConfig& config, const std::filesystem::path& corpus, const kabel::test::SoakFiles& files,
                const std::vector<std::string>& excluded) {
    Patch patch;
    int n = 0;
    auto add = [&](const std::string& type, std::string state) {
        ModuleSpec m;
        m.id = "w" + std::to_string(n++);
        m.type = type;
        m.stateJson = std::move(state);
        patch.modules.push_back(std::move(m));
    };
    for (const ModuleDescriptor* d : Registry::global().all())
        if (std::find(excluded.begin(), excluded.end(), d->id) == excluded.end()) add(d->id, "");
    for (const char* type : {"sampler", "wavetable", "convolver"})
        for (const std::string& f : files.samples) add(type, nlohmann::json{{"file", f}}.dump());
    for (const char* type : {"tuner", "quantizer"}) {
        for (const std::string& f : files.scales) add(type, nlohmann::json{{"file", f}}.dump());
        for (const std::string& f : files.kbms) add(type, nlohmann::json{{"file", files.scales.front()}, {"kbm", f}}.dump());
        add(type, nlohmann::json{{"scale", "maqam-rast-24edo"}}.dump());
    }
    Engine engine(config);
    Session session(engine, Registry::global());
    session.load(patch, corpus);
    session.finishLoading();
    session.poll();
}

int run(const Options& o) {
    namespace fs = std::filesystem;
    const kabel::test::SoakFiles files = soakFiles();
    for (const auto* list : {&files.samples, &files.scales, &files.kbms})
        for (const std::string& f : *list)
            if (!fs::is_regular_file(o.corpus / f)) {
                std::fprintf(stderr, "kabel_soak: %s: no such file (is --corpus the shared corpus folder?)\n", (o.corpus / f).c_str());
                return 1;
            }
    const LoadedPatch loaded = loadPatchFile(o.patch, Registry::global());  // throws InputError
    if (!std::any_of(loaded.patch.modules.begin(), loaded.patch.modules.end(), [](const ModuleSpec& m) { return m.id == "pilot"; }) ||
        !std::any_of(loaded.patch.modules.begin(), loaded.patch.modules.end(), [](const ModuleSpec& m) { return m.id == "out"; })) {
        std::fprintf(stderr, "kabel_soak: %s: the patch needs a module 'pilot' (the sine on out.right) and 'out'\n", o.patch.c_str());
        return 1;
    }

    // PortAudio first (it opens the JACK client); nothing here creates a JACK MIDI client.
    AudioSystem audio("kabel-soak");
    const AudioDeviceChoice device = audio.chooseOutput();
    if (device.channels < 2) {
        std::fprintf(stderr, "kabel_soak: %s has %d output channel(s); the pilot needs 2\n", device.label().c_str(), device.channels);
        return 1;
    }
    const EngineConfig engineConfig{device.sampleRate, 64, device.channels};
    // Device modules would fight the test: a second `out` adds into the pilot's channel, `in`
    // reads the device input, `midi`/`midiclockout` talk to MIDI ports, `recorder` writes files.
    const std::vector<std::string> excludedTypes{"out", "in", "midi", "midiclockout", "recorder"};
    warmCaches(engineConfig, o.corpus, files, excludedTypes);
    Engine engine(engineConfig);
    Session session(engine, Registry::global());
    session.load(loaded.patch, o.corpus);  // state paths are relative to the corpus
    session.finishLoading();
    session.poll();
    const std::string original = serializePatch(session.patch());

    editor::History history;
    kabel::test::SoakEditorOptions editorOptions;
    editorOptions.protectedModules = {"pilot", "out"};
    editorOptions.openInputs = {"out.left"};
    editorOptions.excludedTypes = excludedTypes;
    editorOptions.files = files;
    editorOptions.seed = o.seed;
    editorOptions.kinds = o.kinds;
    kabel::test::SoakEditor editor(session, Registry::global(), history, editorOptions);

    // Analysis: reserve everything now so nothing it stores grows the heap between episodes.
    const double totalFrames = (o.seconds + 30.0) * device.sampleRate;
    Analysis analysis;
    analysis.omega = 2.0 * std::numbers::pi * o.pilotHz / device.sampleRate;
    analysis.amplitude = o.pilotAmp;
    analysis.d2Peaks.reserve(static_cast<std::size_t>(totalFrames / kD2Chunk) + 16);
    std::vector<EditMark> marks;
    marks.reserve(static_cast<std::size_t>((o.seconds + 30.0) * 1000.0 / o.intervalMs) + 4096);
    std::vector<long long> heaps, rsss, editsAt;  // per episode
    heaps.reserve(4096);
    rsss.reserve(4096);
    editsAt.reserve(4096);

    HookState hook(static_cast<std::size_t>(8.0 * device.sampleRate / kChunk));  // 8 s of slack
    hook.control = o.negativeControl;
    std::atomic<bool> analysing{true};
    std::jthread analyst([&](std::stop_token stop) {
        CaptureBlock b;
        for (;;) {
            bool any = false;
            while (hook.ring.pop(b)) {
                analysis.feed(b);
                any = true;
            }
            if (!any) {
                if (!analysing.load() || stop.stop_requested()) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
    });

    AudioOutputOptions streamOptions;
    streamOptions.renderHook = &soakHook;
    streamOptions.renderUser = &hook;
    AudioOutput output(audio, engine, device, streamOptions);
    output.start();
    std::printf("AUDIO started on %s at %.0f Hz, %d channels\n", device.label().c_str(), device.sampleRate, device.channels);
    std::fflush(stdout);

    const auto started = Clock::now();
    const auto deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    const auto interval = std::chrono::milliseconds(o.intervalMs);
    std::mt19937 rng(o.seed * 7919u + 1u);
    auto episodeLength = [&] { return std::uniform_int_distribution<int>(30, 70)(rng); };

    long edits = 0, stuck = 0, latePlans = 0, inexactSteps = 0;
    long episodes = 0, restorations = 0, restoreFailures = 0, redoFailures = 0, undone = 0, redone = 0;
    long badStates = 0, badStatesReported = 0;
    int target = episodeLength(), inEpisode = 0;
    auto next = Clock::now() + interval;

    auto blocksNow = [&] { return engine.stats().blocks; };
    // Waits (bounded, polling) until the audio thread runs the latest plan, or for one more block
    // when nothing was compiled; returns the engine frame reached.
    auto waitTaken = [&](std::uint64_t compilesBefore, std::uint64_t blocksBefore) {
        const auto limit = Clock::now() + std::chrono::milliseconds(500);
        const bool compiled = session.compileCount() != compilesBefore;
        while (Clock::now() < limit) {
            if (compiled ? engine.activeGeneration() >= session.compileCount() : blocksNow() > blocksBefore + 1) break;
            std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
        if (compiled && engine.activeGeneration() < session.compileCount()) ++latePlans;
        return blocksNow() * 64;
    };
    auto settle = [&] {
        for (int i = 0; i < 400 && session.transitioning(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            session.poll();
        }
        session.finishLoading();
        session.poll();
    };
    // A bad file in a module's state must be reported naming the file (checked at episode ends).
    auto checkBadStates = [&] {
        session.finishLoading();
        session.poll();
        const std::vector<std::string> messages = session.messages();
        for (const ModuleSpec& m : session.patch().modules) {
            if (m.stateJson.empty()) continue;
            // A state may name two bad files (a missing .scl with a malformed .kbm): the message
            // must name one of them (the first the loader met).
            std::vector<std::string> named;
            for (const auto* list : {&files.badSamples, &files.badScales, &files.badKbms})
                for (const std::string& bad : *list)
                    if (m.stateJson.find("\"" + bad + "\"") != std::string::npos) named.push_back(fs::path(bad).filename().string());
            if (named.empty()) continue;
            ++badStates;
            const bool reported = std::any_of(messages.begin(), messages.end(), [&](const std::string& text) {
                return text.find(m.id) != std::string::npos &&
                       std::any_of(named.begin(), named.end(), [&](const std::string& n) { return text.find(n) != std::string::npos; });
            });
            if (reported)
                ++badStatesReported;
            else {
                std::printf("UNREPORTED module '%s' state %s; messages:", m.id.c_str(), m.stateJson.c_str());
                for (const std::string& text : messages) std::printf(" [%s]", text.c_str());
                std::printf("\n");
            }
        }
    };

    while (!kabel::test::probeStopRequested().load() && Clock::now() < deadline) {
        // Wait for the tick, polling like a UI frame loop.
        while (Clock::now() < next && !kabel::test::probeStopRequested().load()) {
            session.poll();
            std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(10), next - Clock::now()));
        }
        next += interval;
        if (next < Clock::now()) next = Clock::now() + interval;  // fell behind (an episode): no catching up

        if (inEpisode >= target) {  // episode end
            checkBadStates();
            EditMark burst;
            burst.judged = false;
            burst.from = blocksNow() * 64;
            bool exact = true;
            // Redo what is pending first (the episode may end just after an undo): the furthest
            // document redo can reach is the episode's end.
            redone += editor.redoAll(exact);
            const std::string last = serializePatch(session.patch());
            undone += editor.undoAll(exact);
            const bool back1 = serializePatch(session.patch()) == original;
            redone += editor.redoAll(exact);
            const bool forward = serializePatch(session.patch()) == last;
            if (!forward) {  // show where the redone document differs from the episode's end
                const std::string now = serializePatch(session.patch());
                std::size_t at = 0;
                while (at < now.size() && at < last.size() && now[at] == last[at]) ++at;
                const std::size_t from = at > 160 ? at - 160 : 0;
                std::printf("REDO differs at byte %zu:\n  expected ...%s\n  redone   ...%s\n", at, last.substr(from, 320).c_str(),
                            now.substr(from, 320).c_str());
            }
            undone += editor.undoAll(exact);
            const bool back2 = serializePatch(session.patch()) == original;
            burst.to = waitTaken(0, 0);
            marks.push_back(burst);
            restorations += static_cast<long>(back1) + static_cast<long>(back2);
            restoreFailures += static_cast<long>(!back1) + static_cast<long>(!back2);
            redoFailures += static_cast<long>(!forward);
            if (!exact) ++inexactSteps;
            history.clear();
            settle();
            // The least of three looks 20 ms apart (a completion or a retired plan in flight
            // is not a leak), with free memory handed back first so RSS means pages in use.
            malloc_trim(0);
            MemorySample mem = measureMemory();
            for (int i = 0; i < 2; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                session.poll();
                const MemorySample again = measureMemory();
                mem.heap = std::min(mem.heap, again.heap);
                mem.rss = std::min(mem.rss, again.rss);
            }
            heaps.push_back(mem.heap);
            rsss.push_back(mem.rss);
            editsAt.push_back(edits);
            ++episodes;
            std::printf("EPISODE %ld edits=%d t=%.1fs start_restored=%d/%d redo_exact=%d heap=%lld rss=%lld modules=%zu\n", episodes,
                        inEpisode, std::chrono::duration<double>(Clock::now() - started).count(), back1 ? 1 : 0, back2 ? 1 : 0,
                        forward ? 1 : 0, mem.heap, mem.rss, session.patch().modules.size());
            std::fflush(stdout);
            inEpisode = 0;
            target = episodeLength();
            next = Clock::now() + interval;
            continue;
        }

        const std::uint64_t compilesBefore = session.compileCount();
        const std::uint64_t blocksBefore = blocksNow();
        EditMark mark;
        mark.from = blocksBefore * 64;
        kabel::test::SoakStep step;
        if (!editor.step(step)) {
            ++stuck;
            continue;
        }
        ++edits;
        ++inEpisode;
        if (!step.exact) ++inexactSteps;
        mark.smooth = step.smooth;
        mark.knob = step.knob;
        std::snprintf(mark.label, sizeof mark.label, "%s", step.label.c_str());
        if (hook.control && step.smooth) hook.controlEdits.fetch_add(1, std::memory_order_relaxed);
        mark.to = waitTaken(compilesBefore, blocksBefore);
        marks.push_back(mark);
        session.poll();
    }

    // Let the last fades end, then stop the stream before reading its counters.
    settle();
    output.stop();
    analysing.store(false);
    analyst.join();
    session.poll();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

    const AudioOutputStats s = output.stats();
    const EngineStats e = engine.stats();
    const ClickStats clicks = judgeClicks(marks, analysis.d2Peaks, device.sampleRate);
    // The first quarter of the episodes (at least 2) warm caches: module types created for the
    // first time build their shared tables (see soak.sh).
    const std::size_t skip = std::max<std::size_t>(2, heaps.size() / 4);
    const auto& counts = editor.counts();

    std::printf("EDITS");
    for (std::size_t k = 0; k < kabel::test::kSoakEditKinds; ++k)
        std::printf(" %s=%ld", kabel::test::toString(static_cast<kabel::test::SoakEdit>(k)), counts[k]);
    std::printf("\n");
    std::printf(
        "RESULT seconds=%.1f callbacks=%llu hook_calls=%ld captured_frames=%llu rendered_frames=%llu capture_drops=%ld capture_gaps=%llu "
        "edits=%ld stuck=%ld late_plans=%ld inexact_steps=%ld episodes=%ld restorations=%ld restore_failures=%ld redo_failures=%ld "
        "undone=%ld redone=%ld allocations=%ld locks=%ld pilot_discontinuities=%llu pilot_bad_samples=%llu pilot_max_error=%.3g "
        "nonfinite=%llu over_ceiling=%llu left_peak=%.4f guarded=%llu engine_nonfinite=%llu judged=%ld clicks=%ld max_ratio=%.2f "
        "knob_judged=%ld knob_clicks=%ld nonsmooth=%ld nonsmooth_clicks=%ld bad_states=%ld bad_states_reported=%ld xruns=%llu "
        "overruns=%llu max_render_ms=%.3f "
        "period_ms=%.3f heap_first=%lld heap_warm=%lld heap_last=%lld heap_slope=%.1f rss_first=%lld rss_last=%lld rss_slope=%.1f "
        "d2_overflow=%d%s\n",
        seconds, static_cast<unsigned long long>(s.callbacks), hook.calls.load(), static_cast<unsigned long long>(analysis.frames),
        static_cast<unsigned long long>(hook.frame), hook.dropped.load(), static_cast<unsigned long long>(analysis.gaps), edits, stuck,
        latePlans, inexactSteps, episodes, restorations, restoreFailures, redoFailures, undone, redone, hook.allocations.load(),
        hook.locks.load(), static_cast<unsigned long long>(analysis.pilotEvents), static_cast<unsigned long long>(analysis.pilotBadSamples),
        analysis.pilotMaxResidual, static_cast<unsigned long long>(analysis.nonFinite),
        static_cast<unsigned long long>(analysis.overCeiling), analysis.leftPeak, static_cast<unsigned long long>(e.guardedSamples),
        static_cast<unsigned long long>(e.nonFiniteSamples), clicks.judged, clicks.clicks, clicks.maxRatio, clicks.knobJudged,
        clicks.knobClicks, clicks.nonSmooth, clicks.nonSmoothClicks, badStates, badStatesReported, static_cast<unsigned long long>(s.xruns),
        static_cast<unsigned long long>(s.overruns), s.maxRenderMs,
        1000.0 * static_cast<double>(hook.frame) / std::max<double>(1.0, static_cast<double>(s.callbacks)) / device.sampleRate,
        heaps.empty() ? 0LL : heaps.front(), heaps.size() > skip ? heaps[skip] : 0LL, heaps.empty() ? 0LL : heaps.back(),
        slope(editsAt, heaps, skip), rsss.empty() ? 0LL : rsss.front(), rsss.empty() ? 0LL : rsss.back(), slope(editsAt, rsss, skip),
        analysis.d2Overflow ? 1 : 0, output.abandoned() ? " abandoned=1" : "");
    std::fflush(stdout);
    return output.abandoned() ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    const bool parsed = parse(argc, argv, options);
    return kabel::test::probeMain(
        "kabel_soak", parsed,
        "kabel_soak PATCH --corpus DIR [--seconds S] [--interval-ms MS] [--seed N] [--pilot-hz HZ] [--pilot-amp A] [--negative-control]",
        [&] { return run(options); });
}
