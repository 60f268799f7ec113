#include "core/io/midi_input.hpp"

#include <jack/jack.h>
#include <jack/midiport.h>
#include <rtmidi/RtMidi.h>

#include <algorithm>
#include <cstdlib>

#include "core/engine/engine.hpp"
#include "core/io/audio_device.hpp"
#include "core/midi/midi_event.hpp"
#include "core/util/text.hpp"

namespace kabel {

static_assert(std::atomic<void*>::is_always_lock_free && std::atomic<std::uint64_t>::is_always_lock_free &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "the MIDI and audio callbacks rely on lock-free atomics");

namespace {

constexpr const char* kJackClientName = "kabel-midi";
constexpr const char* kVirtualPortName = "midi_in";
constexpr const char* kVirtualPortAlias = "kabel:midi_in";
constexpr const char* kOutputPortName = "midi_out";
constexpr const char* kOutputPortAlias = "kabel:midi_out";
constexpr const char* kRtMidiClientName = "Kabel";

// The source `wanted` names in `sources`: exact name, index, then a case-insensitive part of a
// name. -1 when none.
int findSource(const std::vector<std::string>& sources, const std::string& wanted) {
    for (std::size_t i = 0; i < sources.size(); ++i)
        if (sources[i] == wanted) return static_cast<int>(i);
    if (allDigits(wanted)) {
        const long index = std::strtol(wanted.c_str(), nullptr, 10);
        return index < static_cast<long>(sources.size()) ? static_cast<int>(index) : -1;
    }
    const std::string w = asciiLower(wanted);
    for (std::size_t i = 0; i < sources.size(); ++i)
        if (asciiLower(sources[i]).find(w) != std::string::npos) return static_cast<int>(i);
    return -1;
}

std::string sourceList(const std::vector<std::string>& sources) {
    if (sources.empty()) return "none";
    std::string names;
    for (std::size_t i = 0; i < sources.size(); ++i) names += (i ? ", " : "") + std::to_string(i) + " '" + sources[i] + "'";
    return names;
}

// A message from a producer callback. JACK and RtMidi deliver whole messages (no running status).
bool toMessage(const std::uint8_t* bytes, std::size_t size, MidiMessage& m) noexcept {
    if (size == 0 || bytes[0] < 0x80) return false;
    m.status = bytes[0];
    if (m.status == 0xF0) {
        m.sysex = bytes;
        m.sysexLength = static_cast<std::uint32_t>(size);
        return true;
    }
    m.data1 = size > 1 ? bytes[1] : 0;
    m.data2 = size > 2 ? bytes[2] : 0;
    return true;
}

std::vector<std::string> jackSources(jack_client_t* client) {
    std::vector<std::string> list;
    const char** ports = jack_get_ports(client, nullptr, JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput);
    if (ports) {
        for (const char** p = ports; *p; ++p) list.emplace_back(*p);
        jack_free(ports);
    }
    return list;
}

std::vector<std::string> rtMidiSources(RtMidiIn& in) {
    std::vector<std::string> list;
    const unsigned count = in.getPortCount();
    for (unsigned i = 0; i < count; ++i) list.push_back(in.getPortName(i));
    return list;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// JackClockBridge

void JackClockBridge::renderHook(void* user, Engine& engine, const DeviceBlock& block) noexcept {
    auto& bridge = *static_cast<JackClockBridge*>(user);
    auto* client = static_cast<jack_client_t*>(bridge.client_.load(std::memory_order_acquire));
    // PortAudio calls back inside its own JACK process callback, so the cycle's frame time is
    // the JACK frame of out[..][0]; jack_last_frame_time() reads the server's shared timer
    // (lock-free, no syscall) and is the same for every client in the cycle.
    if (client) bridge.publish(jack_last_frame_time(client), engine.deviceFrame());
    bridge.frames_.store(block.frames, std::memory_order_relaxed);
    renderDeviceBlock(engine, block);
}

void JackClockBridge::publish(std::uint32_t jackFrame, std::uint64_t engineFrame) noexcept {
    const std::uint32_t s = sequence_.load(std::memory_order_relaxed);
    sequence_.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    jackFrame_.store(jackFrame, std::memory_order_relaxed);
    engineFrame_.store(engineFrame, std::memory_order_relaxed);
    sequence_.store(s + 2, std::memory_order_release);
}

bool JackClockBridge::read(std::uint32_t& jackFrame, std::uint64_t& engineFrame) const noexcept {
    for (;;) {
        const std::uint32_t s1 = sequence_.load(std::memory_order_acquire);
        if (s1 & 1u) continue;
        const std::uint32_t j = jackFrame_.load(std::memory_order_relaxed);
        const std::uint64_t e = engineFrame_.load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (sequence_.load(std::memory_order_relaxed) != s1) continue;
        if (s1 == 0) return false;
        jackFrame = j;
        engineFrame = e;
        return true;
    }
}

// ---------------------------------------------------------------------------------------------
// MidiInput

struct RtPort {
    MidiInput::Impl* impl = nullptr;
    int enginePort = 0;
};

struct MidiInput::Impl {
    Engine* engine = nullptr;
    JackClockBridge* bridge = nullptr;
    std::atomic<std::uint64_t> latency{0};  // stamp = event's engine frame + this (JACK: follows the period)

    // JACK
    jack_client_t* client = nullptr;
    std::vector<jack_port_t*> jackPorts;       // engine port order; read-only once active
    jack_port_t* outPort = nullptr;            // midi_out
    std::atomic<std::uint32_t> outLatency{0};  // engine frame -> JACK output frame: + one period
    int blockFrames = 64;

    // The stamping latencies for a JACK period: input one period (plus a block when the period is
    // not a whole number of blocks), output one period.
    void setPeriod(jack_nframes_t period) noexcept {
        const auto p = static_cast<std::uint64_t>(period);
        const auto block = static_cast<std::uint64_t>(blockFrames);
        latency.store(p + (p % block == 0 ? 0 : block), std::memory_order_relaxed);
        outLatency.store(static_cast<std::uint32_t>(period), std::memory_order_relaxed);
    }

    // JACK's notification thread, when the server's period changes (jack_bufsize): events are
    // stamped with the new period's latency from the next cycle on, so none arrives late.
    static int jackBufferSize(jack_nframes_t period, void* arg) noexcept {
        static_cast<Impl*>(arg)->setPeriod(period);
        return 0;
    }

    // RtMidi
    std::vector<std::unique_ptr<RtMidiIn>> inputs;
    std::vector<std::unique_ptr<RtPort>> rtPorts;

    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> unmapped{0};
    std::atomic<bool> haveFirst{false};
    std::atomic<std::uint32_t> firstJackFrame{0};
    std::atomic<std::uint64_t> firstStamp{0};
    std::atomic<std::uint64_t> sent{0}, sentLate{0}, sendLost{0};

    void count(bool first, std::uint32_t jackFrame, std::uint64_t stamp) noexcept {
        received.fetch_add(1, std::memory_order_relaxed);
        if (first && !haveFirst.load(std::memory_order_relaxed)) {
            firstJackFrame.store(jackFrame, std::memory_order_relaxed);
            firstStamp.store(stamp, std::memory_order_relaxed);
            haveFirst.store(true, std::memory_order_release);
        }
    }

    // The JACK process callback (our client's RT thread): map, stamp, push. Nothing else.
    static int jackProcess(jack_nframes_t nframes, void* arg) noexcept {
        Impl& s = *static_cast<Impl*>(arg);
        const jack_nframes_t cycle = jack_last_frame_time(s.client);
        std::uint32_t pairJack = 0;
        std::uint64_t pairEngine = 0;
        const bool mapped = s.bridge && s.bridge->read(pairJack, pairEngine);
        for (std::size_t p = 0; p < s.jackPorts.size(); ++p) {
            void* buffer = jack_port_get_buffer(s.jackPorts[p], nframes);
            const jack_nframes_t n = jack_midi_get_event_count(buffer);
            for (jack_nframes_t i = 0; i < n; ++i) {
                jack_midi_event_t ev;
                if (jack_midi_event_get(&ev, buffer, i) != 0) continue;
                MidiMessage m;
                if (!toMessage(ev.buffer, ev.size, m)) continue;
                const std::uint32_t frame = cycle + ev.time;
                std::uint64_t stamp = 0;
                if (mapped) {
                    // JACK frames wrap at 2^32 (a day at 48 kHz): the signed difference is exact.
                    const std::int64_t engineFrame = static_cast<std::int64_t>(pairEngine) + static_cast<std::int32_t>(frame - pairJack);
                    stamp = static_cast<std::uint64_t>(std::max<std::int64_t>(engineFrame, 0)) + s.latency.load(std::memory_order_relaxed);
                } else {
                    stamp = s.engine->stampNow(s.latency.load(std::memory_order_relaxed) + nframes);
                    s.unmapped.fetch_add(1, std::memory_order_relaxed);
                }
                s.engine->midiInput(static_cast<int>(p)).push(stamp, m);
                s.count(mapped, frame, stamp);
            }
        }
        if (s.outPort) s.writeOutput(nframes, cycle, mapped, pairJack, pairEngine);
        return 0;
    }

    // The engine's MIDI output due in this cycle, each at its frame: engine frame E plays at JACK
    // frame pairJack + (E - pairEngine); it goes out one period (outLatency) after that.
    void writeOutput(jack_nframes_t nframes, jack_nframes_t cycle, bool mapped, std::uint32_t pairJack, std::uint64_t pairEngine) noexcept {
        void* buffer = jack_port_get_buffer(outPort, nframes);
        jack_midi_clear_buffer(buffer);
        MidiOutputQueue& q = engine->midiOutput();
        const std::uint32_t latencyOut = outLatency.load(std::memory_order_relaxed);
        std::uint64_t written = 0, late = 0, lost = 0;
        while (const StampedMidi* e = q.front()) {
            if (!mapped) {  // no frame pair yet (cannot happen once PortAudio has called back)
                ++lost;
                q.pop(nullptr);
                continue;
            }
            const std::uint32_t jackFrame = pairJack + static_cast<std::uint32_t>(e->frame - pairEngine) + latencyOut;
            std::int32_t offset = static_cast<std::int32_t>(jackFrame - cycle);  // wraps exactly, like the input
            if (offset >= static_cast<std::int32_t>(nframes)) break;             // a later cycle's; so is everything behind it
            if (offset < 0) {
                offset = 0;
                ++late;
            }
            const std::uint8_t bytes[3] = {e->status, e->data1, e->data2};
            const int size = 1 + std::max(0, midiDataBytes(e->status));
            if (jack_midi_event_write(buffer, static_cast<jack_nframes_t>(offset), bytes, static_cast<std::size_t>(size)) == 0)
                ++written;
            else
                ++lost;
            q.pop(nullptr);
        }
        if (written) sent.fetch_add(written, std::memory_order_relaxed);
        if (late) sentLate.fetch_add(late, std::memory_order_relaxed);
        if (lost) sendLost.fetch_add(lost, std::memory_order_relaxed);
    }

    // RtMidi's callback (its own thread; RtMidi allocated the message): stamp and push.
    static void rtMidiCallback(double, std::vector<unsigned char>* message, void* user) {
        auto& port = *static_cast<RtPort*>(user);
        MidiMessage m;
        if (!message || !toMessage(message->data(), message->size(), m)) return;
        const std::uint64_t stamp = port.impl->engine->stampNow(port.impl->latency.load(std::memory_order_relaxed));
        port.impl->engine->midiInput(port.enginePort).push(stamp, m);
        port.impl->count(false, 0, stamp);
    }

    void closeJack() noexcept {
        if (!client) return;
        if (outPort) engine->setMidiOutputAttached(false);
        jack_deactivate(client);
        jack_client_close(client);
        client = nullptr;
    }
};

MidiInput::MidiInput(Engine& engine, Backend backend, const std::vector<std::string>& ports, JackClockBridge* bridge,
                     int deviceBufferFrames)
    : backend_(backend), impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.engine = &engine;
    s.bridge = bridge;
    if (engine.midiInputCount() != static_cast<int>(ports.size()) + 1)
        throw MidiDeviceError("MIDI: the engine has " + std::to_string(engine.midiInputCount()) + " MIDI inputs, expected " +
                              std::to_string(ports.size() + 1));
    const int block = engine.config().blockFrames;

    if (backend == Backend::Jack) {
        silenceBackendMessages();  // libjack: "Cannot connect to server socket" when none runs
        jack_status_t status{};
        s.client = jack_client_open(kJackClientName, JackNoStartServer, &status);
        if (!s.client) throw MidiDeviceError("MIDI: cannot open a JACK client (is the JACK server running?)");
        const std::vector<std::string> sources = jackSources(s.client);
        std::vector<std::string> connectTo;
        for (const std::string& wanted : ports) {
            const int i = findSource(sources, wanted);
            if (i < 0) {
                s.closeJack();
                throw MidiDeviceError("MIDI: no JACK MIDI source matches '" + wanted + "' (sources: " + sourceList(sources) + ")");
            }
            connectTo.push_back(sources[static_cast<std::size_t>(i)]);
        }
        for (std::size_t p = 0; p <= ports.size(); ++p) {
            const std::string name = p == 0 ? std::string(kVirtualPortName) : "in_" + std::to_string(p);
            jack_port_t* port = jack_port_register(s.client, name.c_str(), JACK_DEFAULT_MIDI_TYPE, JackPortIsInput | JackPortIsTerminal, 0);
            if (!port) {
                s.closeJack();
                throw MidiDeviceError("MIDI: cannot register the JACK port " + name);
            }
            s.jackPorts.push_back(port);
        }
        s.outPort = jack_port_register(s.client, kOutputPortName, JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput | JackPortIsTerminal, 0);
        if (!s.outPort) {
            s.closeJack();
            throw MidiDeviceError(std::string("MIDI: cannot register the JACK port ") + kOutputPortName);
        }
        // PortAudio's client already holds the name "kabel"; the alias lets every JACK tool
        // connect to "kabel:midi_in" all the same (jack2 resolves port names by alias too).
        jack_port_set_alias(s.jackPorts[0], kVirtualPortAlias);
        jack_port_set_alias(s.outPort, kOutputPortAlias);
        s.blockFrames = block;
        s.setPeriod(jack_get_buffer_size(s.client));
        jack_set_buffer_size_callback(s.client, &Impl::jackBufferSize, &s);
        engine.setMidiOutputAttached(true);  // our process callback is the output queue's consumer
        if (jack_set_process_callback(s.client, &Impl::jackProcess, &s) != 0) {
            s.closeJack();
            throw MidiDeviceError("MIDI: cannot set the JACK process callback");
        }
        if (bridge) bridge->attach(s.client);
        if (jack_activate(s.client) != 0) {
            if (bridge) bridge->attach(nullptr);
            s.closeJack();
            throw MidiDeviceError("MIDI: cannot activate the JACK client");
        }
        const std::string client = jack_get_client_name(s.client);
        described_.push_back({0, client + ":" + kVirtualPortName + " (alias " + kVirtualPortAlias + ")"});
        outputPort_ = client + ":" + kOutputPortName + " (alias " + kOutputPortAlias + ")";
        for (std::size_t p = 0; p < connectTo.size(); ++p) {
            const std::string ours = jack_port_name(s.jackPorts[p + 1]);
            const int err = jack_connect(s.client, connectTo[p].c_str(), ours.c_str());
            if (err != 0 && err != EEXIST) {
                if (bridge) bridge->attach(nullptr);
                s.closeJack();
                throw MidiDeviceError("MIDI: cannot connect " + connectTo[p] + " to " + ours);
            }
            described_.push_back({static_cast<int>(p + 1), connectTo[p] + " -> " + ours});
        }
        return;
    }

    // RtMidi (ALSA sequencer): one RtMidiIn per engine port, each with its own callback thread.
    s.latency.store(static_cast<std::uint64_t>(std::max(deviceBufferFrames, 0) + block), std::memory_order_relaxed);
    try {
        std::vector<std::string> sources;
        for (std::size_t p = 0; p <= ports.size(); ++p) {
            auto in = std::make_unique<RtMidiIn>(RtMidi::LINUX_ALSA, kRtMidiClientName, 1024);
            in->ignoreTypes(false, false, true);  // keep sysex and clock, drop active sensing
            auto user = std::make_unique<RtPort>();
            user->impl = &s;
            user->enginePort = static_cast<int>(p);
            if (p == 0) {
                sources = rtMidiSources(*in);
                in->openVirtualPort(kRtMidiClientName);
                described_.push_back({0, std::string(kRtMidiClientName) + " (ALSA sequencer, virtual)"});
            } else {
                const int i = findSource(sources, ports[p - 1]);
                if (i < 0)
                    throw MidiDeviceError("MIDI: no ALSA MIDI source matches '" + ports[p - 1] + "' (sources: " + sourceList(sources) +
                                          ")");
                in->openPort(static_cast<unsigned>(i), "Kabel in " + std::to_string(p));
                described_.push_back({static_cast<int>(p), sources[static_cast<std::size_t>(i)] + " (ALSA sequencer)"});
            }
            in->setCallback(&Impl::rtMidiCallback, user.get());
            s.rtPorts.push_back(std::move(user));
            s.inputs.push_back(std::move(in));
        }
    } catch (const RtMidiError& e) {
        s.inputs.clear();
        throw MidiDeviceError("MIDI: " + e.getMessage());
    }
}

MidiInput::~MidiInput() {
    if (impl_->bridge) impl_->bridge->attach(nullptr);
    impl_->closeJack();
    for (auto& in : impl_->inputs) {
        try {
            in->cancelCallback();
            in->closePort();
        } catch (...) {
        }
    }
    impl_->inputs.clear();
}

int MidiInput::latencyFrames() const noexcept {
    return static_cast<int>(impl_->latency.load(std::memory_order_relaxed));
}

int MidiInput::outputLatencyFrames() const noexcept {
    return static_cast<int>(impl_->outLatency.load(std::memory_order_relaxed));
}

MidiInputStats MidiInput::stats() const noexcept {
    MidiInputStats st;
    st.received = impl_->received.load(std::memory_order_relaxed);
    st.unmapped = impl_->unmapped.load(std::memory_order_relaxed);
    st.haveFirst = impl_->haveFirst.load(std::memory_order_acquire);
    if (st.haveFirst) {
        st.firstJackFrame = impl_->firstJackFrame.load(std::memory_order_relaxed);
        st.firstStamp = impl_->firstStamp.load(std::memory_order_relaxed);
    }
    st.sent = impl_->sent.load(std::memory_order_relaxed);
    st.sentLate = impl_->sentLate.load(std::memory_order_relaxed);
    st.sendLost = impl_->sendLost.load(std::memory_order_relaxed);
    return st;
}

std::vector<std::string> listMidiSources(MidiInput::Backend backend) {
    if (backend == MidiInput::Backend::Jack) {
        silenceBackendMessages();  // libjack: "Cannot connect to server socket" when none runs
        jack_status_t status{};
        jack_client_t* client = jack_client_open("kabel-list", JackNoStartServer, &status);
        if (!client) throw MidiDeviceError("MIDI: no JACK server running");
        std::vector<std::string> list = jackSources(client);
        jack_client_close(client);
        return list;
    }
    try {
        RtMidiIn in(RtMidi::LINUX_ALSA, kRtMidiClientName);
        return rtMidiSources(in);
    } catch (const RtMidiError& e) {
        throw MidiDeviceError("MIDI: " + e.getMessage());
    }
}

}  // namespace kabel
