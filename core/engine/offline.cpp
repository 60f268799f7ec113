#include "core/engine/offline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "core/dsp/peak.hpp"
#include "core/engine/session.hpp"
#include "core/util/atomic_file.hpp"

namespace kabel {

RenderSummary renderPatch(const Patch& patch, const std::filesystem::path& path, const RenderOptions& options) {
    if (!(options.seconds > 0.0) || options.seconds > 24.0 * 3600.0) throw std::invalid_argument("--seconds must be in (0, 86400]");
    if (options.channels < 1 || options.channels > 64) throw std::invalid_argument("--channels must be 1..64");
    const auto start = std::chrono::steady_clock::now();

    EngineConfig config{options.sampleRate, options.blockFrames, options.channels, options.outputGuard};
    config.threads = options.threads;
    Engine engine(config);
    Session session(engine);
    session.load(patch, options.patchDirectory);
    session.finishLoading();  // samples and tables decoded before the first block

    RenderSummary summary;
    summary.report = session.report();
    summary.notes = session.messages();
    const auto total = static_cast<std::uint64_t>(std::llround(options.seconds * options.sampleRate));
    const int block = options.blockFrames;
    const int channels = options.channels;
    // Write in chunks of whole blocks (~4096 frames): few libsndfile calls, small memory.
    const int blocksPerChunk = std::max(1, 4096 / block);
    std::vector<float> chunk(static_cast<std::size_t>(blocksPerChunk) * static_cast<std::size_t>(block) *
                             static_cast<std::size_t>(channels));

    replaceFileAtomically(
        path,
        [&](const std::filesystem::path& temp) {
            SoundFileWriter writer(temp, channels, options.sampleRate, options.format);
            std::uint64_t done = 0;
            double lastReport = -1.0;
            float peak = 0.0f;
            std::size_t nextEvent = 0;
            // Queues this block's events (by port 0) just before the block runs.
            auto feedMidi = [&](std::uint64_t blockEnd) {
                if (!options.midi) return;
                const std::vector<MidiFileEvent>& events = options.midi->events;
                for (; nextEvent < events.size(); ++nextEvent) {
                    const MidiFileEvent& e = events[nextEvent];
                    const auto frame = static_cast<std::uint64_t>(std::llround(e.seconds * options.sampleRate));
                    if (frame >= blockEnd) break;
                    MidiMessage m;
                    m.status = e.status;
                    m.data1 = e.data1;
                    m.data2 = e.data2;
                    if (!e.sysex.empty()) {
                        m.sysex = e.sysex.data();
                        m.sysexLength = static_cast<std::uint32_t>(e.sysex.size());
                    }
                    engine.midiInput(0).push(frame, m);
                }
            };
            while (done < total) {
                std::size_t frames = 0;
                for (int b = 0; b < blocksPerChunk && done + frames < total; ++b) {
                    feedMidi(done + frames + static_cast<std::uint64_t>(block));
                    engine.processBlock();
                    const auto n =
                        static_cast<std::size_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(block), total - done - frames));
                    float* dst = chunk.data() + frames * static_cast<std::size_t>(channels);
                    for (int c = 0; c < channels; ++c) peak = std::max(peak, dsp::peakAbs(engine.blockOutput(c), n));
                    if (channels == 2) {  // the common case, as one loop the compiler vectorises
                        const float* __restrict left = engine.blockOutput(0);
                        const float* __restrict right = engine.blockOutput(1);
                        for (std::size_t i = 0; i < n; ++i) {
                            dst[2 * i] = left[i];
                            dst[2 * i + 1] = right[i];
                        }
                    } else {
                        for (int c = 0; c < channels; ++c) {
                            const float* src = engine.blockOutput(c);
                            for (std::size_t i = 0; i < n; ++i)
                                dst[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] = src[i];
                        }
                    }
                    frames += n;
                }
                writer.write(chunk.data(), static_cast<std::int64_t>(frames));
                done += frames;
                session.poll();
                if (options.progress) {
                    const double fraction = static_cast<double>(done) / static_cast<double>(total);
                    if (fraction - lastReport >= 0.01 || done == total) {
                        options.progress(fraction);
                        lastReport = fraction;
                    }
                }
            }
            writer.close();
            summary.frames = done;
            summary.peak = peak;
        },
        Durability::Renamed);  // a render can be made again: no fsync (docs/benchmarks.md)
    summary.stats = engine.stats();
    summary.midi = engine.midiStats();
    summary.renderSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
}

}  // namespace kabel
