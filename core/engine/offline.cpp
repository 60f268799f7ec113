#include "core/engine/offline.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/dsp/peak.hpp"
#include "core/engine/session.hpp"
#include "core/util/atomic_file.hpp"

namespace kabel {

namespace {

constexpr int kChunkSamples = 65536;         // samples per write (256 KB of float)
constexpr int kQueueChunks = 3;              // one being rendered, one being written, one spare for jitter
constexpr std::uint64_t kHeaderRoom = 4096;  // more than libsndfile's WAV header

/// Reserves the disk blocks of a file about to be written (`bytes` past its start; its size stays),
/// so that writing it needs no delayed allocation. ext4 otherwise allocates every block and starts
/// writing them to disk inside the rename over an existing file (auto_da_alloc: 20 ms of a 23 MB
/// render's ~70); preallocated, the data goes to disk with the normal writeback (within ~30 s)
/// and a render overwritten before that never costs a disk write. The trade: a machine that dies
/// within that window may leave the target reading zeros instead of old-or-new (a render can be
/// made again; patches and recordings keep their fsync). Only a hint: errors are ignored.
void preallocate(const std::filesystem::path& file, std::uint64_t bytes) noexcept {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(bytes));
    ::close(fd);
}

/// Chunks of interleaved frames passed from the rendering thread to a writer thread, which calls
/// SoundFileWriter::write on each in order (a ring of `count` buffers). Without start() it is only
/// storage and the caller writes itself. The writer's first error stops it; acquire() and finish()
/// rethrow it on the rendering thread. The destructor stops and joins the writer on any path.
class ChunkQueue {
public:
    ChunkQueue(int count, std::size_t samples) : buffers_(static_cast<std::size_t>(count)), frames_(buffers_.size(), 0) {
        for (auto& b : buffers_) b.resize(samples);
    }
    ~ChunkQueue() { stop(); }
    ChunkQueue(const ChunkQueue&) = delete;
    ChunkQueue& operator=(const ChunkQueue&) = delete;

    float* buffer(std::size_t index) { return buffers_[index].data(); }

    /// Rendering thread. Starts the writer thread; `writer` must outlive this queue's finish().
    void start(SoundFileWriter& writer) {
        thread_ = std::thread([this, &writer] { run(writer); });
    }

    /// Rendering thread: the next buffer to fill, once the writer is done with it.
    float* acquire() {
        std::unique_lock<std::mutex> lock(mutex_);
        spaceFreed_.wait(lock, [&] { return error_ || submitted_ - written_ < buffers_.size(); });
        if (error_) std::rethrow_exception(error_);
        return buffers_[submitted_ % buffers_.size()].data();
    }

    /// Rendering thread: the buffer from acquire() holds `frames` frames to write.
    void submit(std::int64_t frames) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            frames_[submitted_ % buffers_.size()] = frames;
            ++submitted_;
        }
        chunkReady_.notify_one();
    }

    /// Rendering thread: waits until every submitted chunk is written; rethrows the writer's error.
    void finish() {
        stop();
        if (error_) std::rethrow_exception(error_);
    }

private:
    void run(SoundFileWriter& writer) {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            chunkReady_.wait(lock, [&] { return stopping_ || written_ < submitted_; });
            if (written_ == submitted_) return;  // stopping, nothing left
            const std::size_t slot = written_ % buffers_.size();
            lock.unlock();
            try {
                writer.write(buffers_[slot].data(), frames_[slot]);
            } catch (...) {
                lock.lock();
                error_ = std::current_exception();
                spaceFreed_.notify_one();
                return;
            }
            lock.lock();
            ++written_;
            spaceFreed_.notify_one();
        }
    }

    void stop() {
        if (!thread_.joinable()) return;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        chunkReady_.notify_one();
        thread_.join();
    }

    std::vector<std::vector<float>> buffers_;
    std::vector<std::int64_t> frames_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable chunkReady_, spaceFreed_;
    std::size_t submitted_ = 0, written_ = 0;  // chunks, counted from the start
    bool stopping_ = false;
    std::exception_ptr error_;
};

}  // namespace

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
    // Chunks of whole blocks, ~256 KB (32768 stereo frames): few libsndfile calls (each is one
    // write() for float WAVs) and few hand-offs to the writer; W3 measured 16384 -> 32768 frames:
    // 4 ms less of ~49 (65536: no further gain).
    const int blocksPerChunk = std::max(1, kChunkSamples / (block * channels));
    const std::size_t chunkSamples =
        static_cast<std::size_t>(blocksPerChunk) * static_cast<std::size_t>(block) * static_cast<std::size_t>(channels);
    // The kernel's share of writing a float WAV (page-cache pages, copies) is about as long as a
    // serial plan's render: a writer thread overlaps the two. A parallel plan already has every core.
    const bool overlap = summary.report.threads == 1 && std::thread::hardware_concurrency() >= 2;

    replaceFileAtomically(
        path,
        [&](const std::filesystem::path& temp) {
            SoundFileWriter writer(temp, channels, options.sampleRate, options.format, PeakChunk::Omit);
            const std::uint64_t sampleBytes = options.format == SampleFormat::Pcm16 ? 2 : options.format == SampleFormat::Pcm24 ? 3 : 4;
            preallocate(temp, kHeaderRoom + total * static_cast<std::uint64_t>(channels) * sampleBytes);
            ChunkQueue queue(overlap ? kQueueChunks : 1, chunkSamples);
            if (overlap) queue.start(writer);
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
                float* chunk = overlap ? queue.acquire() : queue.buffer(0);
                std::size_t frames = 0;
                for (int b = 0; b < blocksPerChunk && done + frames < total; ++b) {
                    feedMidi(done + frames + static_cast<std::uint64_t>(block));
                    engine.processBlock();
                    const auto n =
                        static_cast<std::size_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(block), total - done - frames));
                    float* dst = chunk + frames * static_cast<std::size_t>(channels);
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
                if (overlap)
                    queue.submit(static_cast<std::int64_t>(frames));
                else
                    writer.write(chunk, static_cast<std::int64_t>(frames));
                done += frames;
                session.poll();
                if (options.progress) {
                    const double fraction = static_cast<double>(done) / static_cast<double>(total);
                    if (fraction - lastReport >= 0.01 && done < total) {
                        options.progress(fraction);
                        lastReport = fraction;
                    }
                }
            }
            queue.finish();  // every chunk written (or the writer's error rethrown here)
            writer.close();
            if (options.progress) options.progress(1.0);
            summary.frames = done;
            summary.peak = peak;
        },
        Durability::Renamed);  // a render can be made again: no fsync (docs/benchmarks.md)
    summary.stats = engine.stats();
    for (const Session::MutedModule& muted : session.mutedModules())
        summary.muted.push_back("'" + muted.id + "' (" + muted.type + "): " + Session::describe(muted));
    summary.midi = engine.midiStats();
    summary.renderSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
}

}  // namespace kabel
