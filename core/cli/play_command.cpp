// `kabel play PATCH`: runs a patch live on the audio device, without the editor.
//
// Exit codes: 0 played and stopped (after --seconds, or on SIGINT/SIGTERM); 1 the patch could
// not be loaded (or a bad option); 2 no usable audio device at the start.
//
// Device loss (LiveAudio, core/io/live_audio.hpp): when the device or the JACK server goes away
// mid-way, `kabel play` says so on stderr, keeps the engine and every module's state, retries
// twice a second and resumes when the device is back ("audio is back on ..."), reopening the
// MIDI inputs. It only ends on --seconds or a signal.
// stdout: "playing PATCH on DEVICE (RATE Hz, buffer N frames)", then a status line a second
// (unless --quiet) and a summary; stderr: load warnings, notes and errors.
//
// The main thread is the UI thread here: it polls the session (~every 20 ms: frees retired
// plans, finishes fades) and watches the stream. The signal handler only sets a flag.
//
// MIDI (docs/midi.md, "Devices"): engine MIDI port 0 is the virtual input (JACK:
// kabel-midi:midi_in, alias kabel:midi_in; ALSA: "Kabel"), ports 1..n the --midi sources. On
// JACK the stream's render hook publishes the JACK/engine frame pair (JackClockBridge) and our
// JACK MIDI client stamps every event at its exact frame; it is created only after the stream
// has started and called back (recipes, trap 1). `--midi list` prints the sources and exits.
//
// OSC (docs/osc.md): with --osc PORT an OscServer (its own receive thread, bound to --osc-bind,
// 127.0.0.1 by default) sets params through its lookup table; the poll loop calls
// OscServer::poll before Session::poll so OSC values reach the document. /kabel/learn arms MIDI
// learn; with --save-map the map as it is at exit is written back into the patch file (re-read,
// only its midi_map replaced, atomically; on any error the file is left as it was).
//
// Link (docs/midi.md, "Ableton Link"): with --link the UI thread enables a LinkSession (declared
// before the engine, so it outlives the stream) and attaches it to the engine; the poll loop
// prints the peer count and tempo whenever the peer count changes.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "core/cli/commands.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/session.hpp"
#include "core/io/audio_device.hpp"
#include "core/io/live_audio.hpp"
#include "core/io/midi_input.hpp"
#include "core/io/osc_server.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "core/sync/link_session.hpp"
#include "core/util/error.hpp"

namespace kabel::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(20);

std::atomic<bool> gStopRequested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

extern "C" void requestStop(int) {
    gStopRequested.store(true);
}

// Installs the stop handlers (no SA_RESTART: a blocking call returns early) and ignores SIGPIPE
// (a JACK server that dies under us must not kill the process before it can stop cleanly).
// Restores the previous dispositions when destroyed.
class StopSignals {
public:
    StopSignals() {
        gStopRequested.store(false);
        struct sigaction sa {};
        sa.sa_handler = &requestStop;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &oldInt_);
        sigaction(SIGTERM, &sa, &oldTerm_);
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        sigaction(SIGPIPE, &ignore, &oldPipe_);
    }
    ~StopSignals() {
        sigaction(SIGINT, &oldInt_, nullptr);
        sigaction(SIGTERM, &oldTerm_, nullptr);
        sigaction(SIGPIPE, &oldPipe_, nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

private:
    struct sigaction oldInt_ {};
    struct sigaction oldTerm_ {};
    struct sigaction oldPipe_ {};
};

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// `--midi list`: the sources of the MIDI system `kabel play` would use (JACK when a server runs).
int listMidi(const PlayCommand& options) {
    std::optional<MidiInput::Backend> backend;
    try {
        AudioSystem audio;
        backend = audio.chooseOutput(AudioRequest{options.device, options.hostApi}).isJack() ? MidiInput::Backend::Jack
                                                                                             : MidiInput::Backend::RtMidiAlsa;
    } catch (const AudioDeviceError&) {
        backend = MidiInput::Backend::RtMidiAlsa;
    }
    try {
        const std::vector<std::string> sources = listMidiSources(*backend);
        std::printf("MIDI sources (%s)%s\n", *backend == MidiInput::Backend::Jack ? "JACK" : "ALSA sequencer",
                    sources.empty() ? ": none" : ":");
        for (std::size_t i = 0; i < sources.size(); ++i) std::printf("  %zu  %s\n", i, sources[i].c_str());
    } catch (const MidiDeviceError& e) {
        std::fprintf(stderr, "kabel play: %s\n", e.what());
        return 2;
    }
    return 0;
}

// --save-map: 0 when the map was saved (or was unchanged), 1 when it could not be.
int saveMidiMap(const std::string& patch, const std::vector<MidiMapping>& map) {
    try {
        if (saveMidiMapInto(patch, map, Registry::global()))
            std::printf("midi map: %zu mapping(s) saved to %s\n", map.size(), patch.c_str());
        else
            std::printf("midi map: unchanged, %s not written\n", patch.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kabel play: --save-map: %s (the patch file was not changed)\n", e.what());
        return 1;
    }
}

}  // namespace

int playCommand(const PlayCommand& options) {
    if (options.seconds < 0.0 || options.bufferFrames < 0 || options.blockFrames < 1 || options.blockFrames > 8192) {
        std::fprintf(stderr, "kabel play: invalid option (seconds >= 0, buffer >= 0, block 1..8192)\n");
        return 1;
    }
    if (std::find(options.midiPorts.begin(), options.midiPorts.end(), "list") != options.midiPorts.end()) return listMidi(options);
    if (options.patch.empty()) {
        std::fprintf(stderr, "kabel play: give a patch file (or --midi list)\n");
        return 1;
    }
    LoadedPatch loaded;
    try {
        loaded = loadPatchFile(options.patch, Registry::global());
    } catch (const InputError& e) {
        std::fprintf(stderr, "kabel play: %s\n", e.what());
        return 1;
    }
    for (const std::string& w : loaded.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());

    StopSignals signals;
    int rc = 0;
    try {
        // On JACK the render hook publishes the frame pair our JACK MIDI client maps events with.
        JackClockBridge bridge;
        LiveAudioOptions liveOptions;
        liveOptions.request = AudioRequest{options.device, options.hostApi, options.sampleRate, options.outputChannels,
                                           options.inputChannels >= 0 ? options.inputChannels : audioInputsUsedBy(loaded.patch)};
        liveOptions.stream.bufferFrames = options.bufferFrames;
        liveOptions.stream.renderHook = &JackClockBridge::renderHook;  // plain engine.process() until a JACK MIDI client attaches
        liveOptions.stream.renderUser = &bridge;
        LiveAudio live(liveOptions);  // fails fast (exit 2) when there is no device at all
        const AudioDeviceChoice device = live.device();
        const bool jack = device.isJack();
        std::unique_ptr<LinkSession> link;  // --link only; declared before the engine: it outlives the stream's use of it
        EngineConfig config{device.sampleRate, options.blockFrames, device.channels};
        config.inputChannels = live.inputChannels();
        config.threads = options.threads;
        config.workerPriority = kLiveWorkerPriority;
        config.midiInputs = static_cast<int>(options.midiPorts.size()) + 1;
        Engine engine(config);
        Session session(engine, Registry::global());
        session.load(std::move(loaded.patch), std::filesystem::path(options.patch).parent_path());
        session.finishLoading();  // samples and tables ready before the first callback
        for (const std::string& note : session.messages()) std::fprintf(stderr, "note: %s\n", note.c_str());

        std::unique_ptr<OscServer> osc;  // declared before the stream: closed after it
        if (options.oscPort > 0) {
            try {
                osc = std::make_unique<OscServer>(options.oscPort, options.oscBind);
            } catch (const OscError& e) {
                std::fprintf(stderr, "kabel play: %s\n", e.what());
                return 1;
            }
            osc->poll(session);
            if (osc->boundAddress() != "127.0.0.1" && osc->boundAddress() != "::1")
                std::fprintf(stderr, "warning: OSC listens on %s: anyone who can reach this machine can change the patch\n",
                             osc->boundAddress().c_str());
        }

        if (options.link) {
            link = std::make_unique<LinkSession>();
            link->enable(true);
            engine.setLink(link.get());
        }
        std::size_t linkPeers = 0;

        std::unique_ptr<MidiInput> midi;  // opened after the stream plays; closed before it stops
        live.start(engine);
        const Clock::time_point started = Clock::now();

        // The buffer size is known once the device has called back (JACK decides it).
        while (live.stats().callbacks == 0 && secondsSince(started) < 1.0 && !gStopRequested.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            session.poll();
        }
        const int buffer = live.stats().bufferFrames;
        // MIDI follows the audio device: JACK MIDI needs the stream playing first (recipes, trap 1).
        const auto openMidi = [&] {
            const bool onJack = live.device().isJack();
            midi = std::make_unique<MidiInput>(engine, onJack ? MidiInput::Backend::Jack : MidiInput::Backend::RtMidiAlsa,
                                               options.midiPorts, onJack ? &bridge : nullptr, live.stats().bufferFrames);
        };
        try {
            openMidi();
        } catch (const MidiDeviceError& e) {
            // A named source that cannot be opened is an error; no MIDI system at all only a note.
            if (!options.midiPorts.empty()) {
                live.stop();
                std::fprintf(stderr, "kabel play: %s\n", e.what());
                return 1;
            }
            std::fprintf(stderr, "note: no MIDI input: %s\n", e.what());
        }
        std::printf("playing %s on %s (%.0f Hz, buffer %s frames, %d output channels)\n", options.patch.c_str(), device.label().c_str(),
                    device.sampleRate, buffer > 0 ? std::to_string(buffer).c_str() : "unknown", device.channels);
        if (session.report().threads > 1)
            std::printf("engine: %d threads (%zu waves; docs/ARCHITECTURE.md, Multi-core)\n", session.report().threads,
                        session.report().waves);
        if (config.inputChannels > 0)
            std::printf("audio input: %d channels (reaching the patch %d frames after the device delivers them)\n", config.inputChannels,
                        options.blockFrames);
        if (liveOptions.request.inputChannels > config.inputChannels)
            std::fprintf(stderr, "warning: the patch reads %d audio inputs, %s has %d\n", liveOptions.request.inputChannels,
                         device.label().c_str(), device.maxInputChannels);
        if (midi) {
            for (const MidiPortDescription& port : midi->ports()) std::printf("midi input %d: %s\n", port.enginePort, port.name.c_str());
            if (!midi->outputPort().empty())
                std::printf("midi output: %s, latency %d frames\n", midi->outputPort().c_str(), midi->outputLatencyFrames());
            std::printf("midi stamping: %s, latency %d frames%s\n",
                        midi->backend() == MidiInput::Backend::Jack ? "JACK frame time (sample-accurate)" : "arrival time (stampNow)",
                        midi->latencyFrames(),
                        jack && options.bufferFrames > 0 && options.bufferFrames != buffer
                            ? " (warning: --buffer differs from the JACK period, frames are not exact)"
                            : "");
        }
        if (osc) std::printf("osc: listening on udp %s:%d (/kabel/<module>/<param>)\n", osc->boundAddress().c_str(), osc->port());
        if (link) std::printf("link: enabled (UDP on every network interface), %.2f BPM, 0 peers\n", link->tempo());
        std::fflush(stdout);

        const bool tty = isatty(STDOUT_FILENO) == 1;
        bool statusShown = false;
        double nextStatus = 1.0;
        std::string lastWaitingNote;
        MidiInputStats midiBefore{};  // counts of MIDI inputs closed by a device loss
        while (!gStopRequested.load()) {
            std::this_thread::sleep_for(kPollInterval);
            if (osc) osc->poll(session);  // before session.poll(): see osc_server.hpp
            session.poll();
            const double elapsed = secondsSince(started);
            switch (live.poll()) {
                case LiveAudioEvent::Lost:
                    if (midi) {
                        midiBefore.received += midi->stats().received;
                        midi.reset();  // its JACK client died with the server
                    }
                    if (statusShown && tty) std::printf("\n");
                    std::fprintf(stderr,
                                 "kabel play: audio lost at engine frame %llu: %s. The patch keeps its state; waiting for the device to "
                                 "return (Ctrl-C to quit)\n",
                                 static_cast<unsigned long long>(engine.stats().blocks * static_cast<std::uint64_t>(options.blockFrames)),
                                 live.message().c_str());
                    lastWaitingNote.clear();
                    break;
                case LiveAudioEvent::Restored:
                    std::printf("%s%s, resuming at engine frame %llu (buffer %d frames)\n", statusShown && tty ? "\n" : "",
                                live.message().c_str(),
                                static_cast<unsigned long long>(engine.stats().blocks * static_cast<std::uint64_t>(options.blockFrames)),
                                live.stats().bufferFrames);
                    if (midi == nullptr && (live.device().isJack() || !options.midiPorts.empty())) {
                        try {
                            openMidi();
                            std::printf("midi input reopened (%zu ports)\n", midi->ports().size());
                        } catch (const MidiDeviceError& e) {
                            std::fprintf(stderr, "kabel play: MIDI input not reopened: %s\n", e.what());
                        }
                    }
                    std::fflush(stdout);
                    break;
                case LiveAudioEvent::None:
                    break;
            }
            if (!live.connected() && live.waitingFor() != lastWaitingNote) {
                lastWaitingNote = live.waitingFor();
                if (!lastWaitingNote.empty()) std::fprintf(stderr, "kabel play: still waiting: %s\n", lastWaitingNote.c_str());
            }
            if (link && link->numPeers() != linkPeers) {
                linkPeers = link->numPeers();
                std::printf("%slink: %zu peer%s, %.2f BPM\n", statusShown && tty ? "\n" : "", linkPeers, linkPeers == 1 ? "" : "s",
                            link->tempo());
                std::fflush(stdout);
            }
            if (options.seconds > 0.0 && elapsed >= options.seconds) break;
            if (!options.quiet && elapsed >= nextStatus) {
                const AudioOutputStats s = live.stats();
                const EngineStats e = engine.stats();
                const MidiStats m = engine.midiStats();
                const std::uint64_t received = midiBefore.received + (midi ? midi->stats().received : 0);
                const std::uint64_t oscMessages = osc ? osc->stats().received : 0;
                std::printf(
                    "%s%6.1f s  cpu %5.1f %%  xruns %llu  buffer %d  callbacks %llu  plan swaps %llu  midi %llu late %llu dropped %llu  "
                    "osc "
                    "%llu%s%s",
                    tty ? "\r" : "", elapsed, 100.0 * s.cpuLoad, static_cast<unsigned long long>(s.xruns), s.bufferFrames,
                    static_cast<unsigned long long>(s.callbacks), static_cast<unsigned long long>(e.planSwaps),
                    static_cast<unsigned long long>(received), static_cast<unsigned long long>(m.late),
                    static_cast<unsigned long long>(m.dropped + m.overflowed), static_cast<unsigned long long>(oscMessages),
                    live.connected() ? "" : "  (no audio device)", tty ? "\033[K" : "\n");
                std::fflush(stdout);
                statusShown = true;
                nextStatus += 1.0;
            }
        }
        // Stop the stream before anything it uses is torn down (MIDI, the session, the engine).
        live.stop();
        if (statusShown && tty) std::printf("\n");
        const AudioOutputStats s = live.stats();
        const EngineStats e = engine.stats();
        std::printf(
            "stopped after %.1f s: %llu callbacks, %llu xruns (%llu overruns: renders longer than the buffer, longest %.3f ms), "
            "%llu engine blocks, device lost %d and restored %d times%s\n",
            secondsSince(started), static_cast<unsigned long long>(s.callbacks), static_cast<unsigned long long>(s.xruns),
            static_cast<unsigned long long>(s.overruns), s.maxRenderMs, static_cast<unsigned long long>(e.blocks), live.losses(),
            live.restores(), live.abandoned() ? " (stream abandoned: the device had gone)" : "");
        if (engine.threads() > 1 && engine.workerJoins() + engine.soloBlocks() > 0)
            std::printf("threads: workers joined %llu blocks; %llu blocks run alone (backing off)\n",
                        static_cast<unsigned long long>(engine.workerJoins()), static_cast<unsigned long long>(engine.soloBlocks()));
        if (midi) {
            const MidiStats m = engine.midiStats();
            const MidiInputStats in = midi->stats();
            std::printf("midi: %llu received, %llu delivered, %llu late, %llu dropped, %llu overflowed",
                        static_cast<unsigned long long>(in.received), static_cast<unsigned long long>(m.delivered),
                        static_cast<unsigned long long>(m.late), static_cast<unsigned long long>(m.dropped),
                        static_cast<unsigned long long>(m.overflowed));
            if (in.haveFirst)
                std::printf("; first event at JACK frame %u, stamped engine frame %llu", in.firstJackFrame,
                            static_cast<unsigned long long>(in.firstStamp));
            std::printf("\n");
            if (!midi->outputPort().empty())
                std::printf("midi out: %llu sent, %llu late, %llu lost\n", static_cast<unsigned long long>(in.sent),
                            static_cast<unsigned long long>(in.sentLate), static_cast<unsigned long long>(in.sendLost + m.sendDropped));
        }
        if (osc) {
            const OscStats o = osc->stats();
            std::printf("osc: %llu received, %llu applied, %llu queries, %llu unknown, %llu bad type, %llu malformed\n",
                        static_cast<unsigned long long>(o.received), static_cast<unsigned long long>(o.applied),
                        static_cast<unsigned long long>(o.queries), static_cast<unsigned long long>(o.unknown),
                        static_cast<unsigned long long>(o.badType), static_cast<unsigned long long>(o.malformed));
        }
        if (options.saveMap && saveMidiMap(options.patch, session.patch().midiMap) != 0 && rc == 0) rc = 1;
        if (e.nonFiniteSamples)
            std::printf("warning: %llu NaN/Inf samples were replaced by silence\n", static_cast<unsigned long long>(e.nonFiniteSamples));
        for (const Session::MutedModule& muted : session.mutedModules())
            std::printf("warning: module '%s' (%s): %s\n", muted.id.c_str(), muted.type.c_str(), Session::describe(muted).c_str());
        std::fflush(stdout);
    } catch (const AudioDeviceError& e) {
        std::fprintf(stderr, "kabel play: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kabel play: %s\n", e.what());
        return 1;
    }
    return rc;
}

}  // namespace kabel::cli
