#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "core/cli/commands.hpp"
#include "core/cli/progress_bar.hpp"
#include "core/engine/offline.hpp"
#include "core/midi/midi_file.hpp"
#include "core/module/registry.hpp"
#include "core/patch/patch_file.hpp"
#include "core/util/error.hpp"

namespace kabel::cli {

int renderCommand(const RenderCommand& options) {
    LoadedPatch loaded;
    try {
        loaded = loadPatchFile(options.patch, Registry::global());
    } catch (const InputError& e) {
        std::fprintf(stderr, "kabel render: %s\n", e.what());
        return 1;
    }
    for (const std::string& w : loaded.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());

    MidiFile midi;
    if (!options.midi.empty()) {
        try {
            midi = readMidiFile(options.midi);
            if (midi.format == 2)
                throw InputError(options.midi, 0, "", "format 2 (independent sequences) cannot be played; use a format 0 or 1 file");
        } catch (const InputError& e) {
            std::fprintf(stderr, "kabel render: %s\n", e.what());
            return 1;
        }
    }

    RenderOptions render;
    if (!options.midi.empty()) render.midi = &midi;
    render.seconds = options.seconds;
    render.sampleRate = options.sampleRate;
    render.blockFrames = options.blockFrames;
    render.channels = options.channels;
    render.threads = options.threads;
    render.patchDirectory = std::filesystem::path(options.patch).parent_path();
    ProgressBar bar("rendering", options.progress && !options.quiet);
    render.progress = [&](double fraction) {
        char detail[64];
        std::snprintf(detail, sizeof detail, "%.1f of %.1f s", fraction * options.seconds, options.seconds);
        bar.update(fraction, detail);
    };
    RenderSummary summary;
    try {
        render.format = parseSampleFormat(options.format);
        summary = renderPatch(loaded.patch, options.output, render);
    } catch (const std::exception& e) {
        bar.finish();
        std::fprintf(stderr, "kabel render: %s\n", e.what());
        return 1;
    }
    bar.finish();
    for (const std::string& note : summary.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
    for (const std::string& muted : summary.muted) std::fprintf(stderr, "warning: module %s\n", muted.c_str());
    if (options.quiet) return 0;
    std::printf("compiled %zu modules in %.2f ms: %zu signals in %zu buffers\n", summary.report.steps, summary.report.milliseconds,
                summary.report.signals, summary.report.buffers);
    for (const FeedbackCable& f : summary.report.feedback)
        std::printf("feedback: %s -> %s is read %d frames late (breaks a cycle)\n", f.from.c_str(), f.to.c_str(), f.delayFrames);
    const double seconds = static_cast<double>(summary.frames) / options.sampleRate;
    const double peakDb = summary.peak > 0.0f ? 20.0 * std::log10(summary.peak) : -INFINITY;
    std::printf("rendered %.3f s (%llu frames, %d ch, %.0f Hz) to %s in %.3f s: %.1fx real time, peak %.1f dBFS\n", seconds,
                static_cast<unsigned long long>(summary.frames), options.channels, options.sampleRate, options.output.c_str(),
                summary.renderSeconds, seconds / summary.renderSeconds, peakDb);
    if (!options.midi.empty())
        std::printf("midi: %llu events delivered from %s (%zu in the file, %.3f s long)%s\n",
                    static_cast<unsigned long long>(summary.midi.delivered), options.midi.c_str(), midi.events.size(), midi.lengthSeconds,
                    summary.midi.dropped + summary.midi.overflowed ? ", some lost: too many at once" : "");
    if (summary.stats.nonFiniteSamples)
        std::printf("warning: %llu NaN/Inf samples were replaced by silence\n",
                    static_cast<unsigned long long>(summary.stats.nonFiniteSamples));
    if (summary.stats.guardedSamples)
        std::printf("note: %llu samples above 0.9 were softened by the output guard\n",
                    static_cast<unsigned long long>(summary.stats.guardedSamples));
    return 0;
}

}  // namespace kabel::cli
