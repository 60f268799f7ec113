// The editor's live views: scope and spectrum inside their nodes, the per-module CPU meter, and the
// tuning view (a scale as a circle of degrees plus a keyboard strip).
//
// Design note. These are thin drawing functions: the numbers (where a sweep starts, min/max per
// pixel column, bins to log-frequency columns, degree angles and names) come from
// gui/model/live_views.hpp, which is unit-tested. A view reads only what it draws from a SignalTap
// (a window plus a trigger search span, or one FFT frame) and thins it to one value pair per pixel
// column, so a frame's cost follows the view's width. Views never write module or DSP state. A
// caller that redraws only when something changes can compare SignalTap::written() between frames.
//
// Threads: UI thread, inside an ImGui frame (Dear ImGui 1.86).
#pragma once

#include <memory>
#include <vector>

#include <imgui.h>

#include "core/module/signal_tap.hpp"
#include "core/patch/patch.hpp"
#include "core/tuning/tuning.hpp"

namespace kabel {
class SpectrumAnalyzer;
}

namespace kabel::editor {

/// Draws the newest `seconds` of channel `channel` of `tap` into [min, max]: background, a grid
/// line at 0, the trace (one min/max pair per pixel column), full scale (+-1) at the edges. The
/// sweep starts at a rising zero crossing of the same channel when one is found (stable display),
/// else it shows the newest window.
void drawScope(ImDrawList* draw, ImVec2 min, ImVec2 max, const SignalTap& tap, int channel, float seconds, double sampleRate, ImU32 colour);

/// How a scope module wants to be drawn: its params "time", "level", "source" (ModuleSpec values,
/// defaults where absent).
struct ScopeSettings {
    float seconds = 0.02f;  ///< window width
    float level = 0.0f;     ///< trigger level (also the trace scale: +-max(1, |level|) fills the view)
    int source = 0;         ///< 0 in 1, 1 in 2, 2 external (tap channel 2), 3 free run
};
ScopeSettings scopeSettings(const ModuleSpec& scope);

/// The scope module's view: both traces (tap channels 0 and 1) in `colour1`/`colour2`, the sweep
/// triggered as `settings` says, a dashed line at the trigger level.
void drawScopeModule(ImDrawList* draw, ImVec2 min, ImVec2 max, const SignalTap& tap, const ScopeSettings& settings, double sampleRate,
                     ImU32 colour1, ImU32 colour2);

/// A log-frequency magnitude spectrum (20 Hz .. Nyquist, -90..0 dB) of the newest frames of a tap.
/// Keep one per node: it owns the FFT plan and the last columns, and recomputes only when the tap
/// has new frames or the size changed.
class SpectrumView {
public:
    SpectrumView();
    ~SpectrumView();
    SpectrumView(const SpectrumView&) = delete;
    SpectrumView& operator=(const SpectrumView&) = delete;
    SpectrumView(SpectrumView&&) noexcept;
    SpectrumView& operator=(SpectrumView&&) noexcept;

    /// FFT size (a power of two 1024..16384; the spectrum module's "size" choice through
    /// spectrumSize()). Default 4096.
    void setSize(int fftSize);
    int size() const noexcept { return size_; }

    /// Draws into [min, max]: background, dB grid (-30, -60) and octave marks at 100 Hz, 1 kHz,
    /// 10 kHz, the spectrum as a filled curve. Peak values decay at 60 dB/s so the picture stays
    /// readable at 60 frames per second.
    void draw(ImDrawList* draw, ImVec2 min, ImVec2 max, const SignalTap& tap, int channel, double sampleRate, ImU32 colour);

private:
    std::unique_ptr<SpectrumAnalyzer> analyzer_;
    int size_ = 4096;
    std::vector<float> samples_;
    std::vector<float> columns_;
    std::uint64_t lastWritten_ = ~std::uint64_t{0};
    double lastTime_ = 0.0;
};

/// A tiny horizontal bar for a module's CPU share (fraction of the block budget, 0..1+): green up
/// to 0.5, amber to 0.8, red above; a value over 1 fills the bar and gets a red outline.
void drawCpuMeter(ImDrawList* draw, ImVec2 min, ImVec2 max, float fraction);

/// The tuning view, drawn as ImGui items into the current window (`size` wide and high): the
/// scale's degrees as dots around a circle of one period (0 at the top, clockwise), each labelled
/// with its name (when the scale has names) and its cents, the 12-TET steps as faint ticks; the
/// `sounding` degree (or -1) highlighted; below it a strip of keys around the tuning's middle note
/// with their degrees, the frequency and cents of a key on hover. Get `tuning` for a tuner module
/// with tunerTuning(spec, patchDirectory) (gui/model/live_views.hpp) when its state or params
/// change, not every frame.
void drawTuningView(const tuning::Tuning& tuning, int sounding, ImVec2 size);

}  // namespace kabel::editor
