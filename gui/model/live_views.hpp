// The numbers behind the editor's live views (gui/editor/views.cpp draws them): where a scope
// sweep starts, how samples thin to pixel columns, how spectrum bins map to log-frequency columns,
// where the degrees of a tuning sit on a circle, and which tuning a tuner module plays. Plain C++,
// unit-tested; no ImGui.
//
// Design note. A view reads a little more than it shows (a scope reads its window plus a search
// span) and reduces it to what the screen can show: one min/max pair per pixel column, one level
// per column of the spectrum. So the per-frame cost depends on the view's width, not on the
// window's length, and nothing here allocates more than a column count of values.
//
// Threads: UI thread.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/patch/patch.hpp"
#include "core/tuning/tuning.hpp"

namespace kabel::tuned {
struct LoadedTuning;
}

namespace kabel::editor {

// ---- Scope ----

/// Where the shown window of `window` samples starts in `samples` (oldest first): at the newest
/// rising crossing of `level` by `trigger` (trigger[i - 1] < level <= trigger[i]) that leaves a whole
/// window after it; without one (or with an empty `trigger`: free run) the newest window,
/// samples.size() - window. `trigger` is as long as `samples` (or empty). Returns 0 when there are
/// fewer samples than the window.
int scopeStart(std::span<const float> trigger, int count, int window, float level);

/// The lowest and highest sample of one pixel column.
struct MinMax {
    float min = 0.0f, max = 0.0f;
};

/// `samples` reduced to `columns` columns, each the min/max of its share of the samples (every
/// column covers at least one sample; with fewer samples than columns, neighbours share samples).
/// Empty for no samples or no columns.
std::vector<MinMax> thinColumns(std::span<const float> samples, int columns);

// ---- Spectrum ----

/// The x position (0..1) of `hz` on a log-frequency axis from minHz to maxHz (clamped).
float logFrequencyPosition(double hz, double minHz, double maxHz);

/// The level (dB) of each of `columns` columns of a log-frequency axis from minHz to maxHz, from the
/// magnitudes of an FFT of `fftSize` points (fftSize / 2 + 1 bins, SpectrumAnalyzer::analyze): the
/// highest bin whose centre falls in the column; a column narrower than a bin reads the level
/// interpolated (in dB) between the two bins around its centre frequency.
std::vector<float> spectrumColumns(std::span<const float> magnitudesDb, int fftSize, double sampleRate, int columns, double minHz,
                                   double maxHz);

/// dB mapped to 0 (at `floorDb` and below) .. 1 (at 0 dB and above).
float levelPosition(float db, float floorDb = -90.0f);

/// FFT size of the spectrum module's "size" choice (0..4: 1024..16384; clamped).
int spectrumSize(double sizeChoice);

// ---- Tuning ----

/// One degree of a scale on the tuning circle.
struct CircleDegree {
    int degree = 0;
    double cents = 0.0;         ///< above the 1/1
    double angle = 0.0;         ///< radians clockwise from the top: 2 pi cents / period
    std::string name;           ///< the scale's name for it, "" when it has none
    double tetDeviation = 0.0;  ///< cents from the nearest multiple of 100 (-50..50): its distance from 12-TET
};

/// A scale laid out on a circle of one period.
struct TuningCircle {
    double periodCents = 1200.0;        ///< the scale's period; 1200 when it has none (a 0-note scale)
    std::vector<CircleDegree> degrees;  ///< degrees 0..degreeCount()-1
    std::vector<double> tetAngles;      ///< the 12-TET steps (0, 100, ... cents below the period) as angles
};

/// The circle of `scale`: each degree at its cents within the period (a pitch outside [0, period),
/// e.g. a descending scale, is reduced into it).
TuningCircle tuningCircle(const tuning::Scale& scale);

/// One key of the keyboard strip.
struct StripKey {
    int key = 0;
    bool mapped = false;
    int degree = tuning::kUnmapped;
    double frequency = 0.0;  ///< Hz (also for an unmapped key: where it would sound)
};

/// Keys first..last of `tuning` (inclusive; empty when last < first).
std::vector<StripKey> keyStrip(const tuning::Tuning& tuning, int first, int last);

/// "386.3" (one decimal, "-0.0" printed as "0.0").
std::string formatCents(double cents);

/// The tuning a tuner plays with its Tonic, Reference and Layout params (tuner params "tonic",
/// "reference", "layout"; the quantizer's "reference"), as a Tuning the views can ask about keys:
/// the tonic key plays the tuning's tonic, the reference degree sounds at the reference Hz (0 =
/// the file's), system-keys layout when layout >= 0.5. With a .kbm: its map, with its middle and
/// reference notes moved by tonic - 60. Throws InputError when the map does not fit the scale.
tuning::Tuning tunerTuning(const tuned::LoadedTuning& loaded, int tonicKey, double referenceHz, bool systemKeys);

/// The same for a tuner/quantizer module of the patch: reads its state (catalogue id or files
/// resolved against `patchDirectory`; loads files, so call it when the state changes, not every
/// frame) and its params. Throws InputError / std::runtime_error / std::invalid_argument with the
/// reason when the state names nothing loadable.
tuning::Tuning tunerTuning(const ModuleSpec& module, const std::filesystem::path& patchDirectory);

}  // namespace kabel::editor
