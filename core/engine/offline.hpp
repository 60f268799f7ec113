// Offline rendering: the same Engine and Plan as live playback, driven by a loop instead of a
// device, as fast as the CPU allows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/engine/compiler.hpp"
#include "core/engine/engine.hpp"
#include "core/io/sound_file.hpp"
#include "core/midi/midi_file.hpp"
#include "core/patch/patch.hpp"

namespace kabel {

struct RenderOptions {
    double seconds = 10.0;
    double sampleRate = 48000.0;
    int blockFrames = 64;
    int channels = 2;
    SampleFormat format = SampleFormat::Float32;
    bool outputGuard = true;
    int threads = 0;                       // EngineConfig::threads (0: one per core; 1: serial)
    std::filesystem::path patchDirectory;  // relative paths in module state (samples, tables) resolve here
    /// MIDI to play (not owned; may be null): each event reaches the modules at frame
    /// round(seconds x sampleRate), through MIDI input port 0 as live input would.
    const MidiFile* midi = nullptr;
    /// Called now and then with the fraction done (0..1), from the rendering thread.
    std::function<void(double)> progress;
};

struct RenderSummary {
    std::uint64_t frames = 0;
    double renderSeconds = 0.0;  // wall time of the render loop (compile and file writing included)
    float peak = 0.0f;           // largest |sample| written
    EngineStats stats;
    MidiStats midi;
    CompileReport report;
    std::vector<std::string> notes;  // from the session: placeholders, unconnected cables, files not loaded
    std::vector<std::string> muted;  // modules muted for NaN/Inf during the render ("'id' (type): muted at ...")
};

/// Renders `patch` into a WAV file, replacing `path` atomically (temp file + rename, no fsync; the
/// file's blocks are preallocated): on any error an existing file is untouched and the temp file
/// is gone. A serial plan on a machine with two or more hardware threads hands its chunks to a
/// writer thread (the kernel's share of writing overlaps the render); its errors are rethrown
/// here. Float WAVs carry no PEAK chunk. Throws std::runtime_error / std::invalid_argument.
RenderSummary renderPatch(const Patch& patch, const std::filesystem::path& path, const RenderOptions& options);

}  // namespace kabel
