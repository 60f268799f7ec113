// The tuning state shared by the tuner, the quantizer (modules/tuning.cpp) and the drone
// (modules/drone.cpp): what a module's state names, how it is loaded on the worker, and the
// real-time key pattern the audio thread reads.
//
// Design note. The tonic key and the reference pitch are knobs, so they must not need a rebuild:
// the loaded tuning is reduced to a *key pattern* measured from the tonic key (the anchor): M
// slots, each with its pitch in cents above the anchor's pitch and its degree, repeating every M
// keys `periodCents` higher (core/tuning's Tuning gives the slot pitches, so unmapped keys and
// formal octaves follow its rules exactly). The audio thread then computes, per sample,
//   cents(x) = q * periodCents + slot[r],  x = note - anchorKey, q = floor(x / M), r = x - q M,
// interpolated linearly between neighbouring keys for fractional notes, and
//   log2 Hz = log2(reference Hz) + (cents - referenceCents) / 1200.
// Moving the tonic moves the anchor (a glide through the pattern while the knob is smoothed);
// moving the reference adds a constant. Both layouts (consecutive, system keys) are built when
// the tuning loads, so switching layout is a pointer choice.
//
// Threads: parseTuningSource() on the UI thread (loadState); loadTuning() and buildTunerTable()
// on the worker (they read files and allocate); the KeyPattern/TunerTable lookups on the audio
// thread (noexcept, no allocation).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/module/module.hpp"
#include "core/tuning/tuning.hpp"

namespace kabel::tuned {

inline constexpr double kC4Hz = 261.6255653005986;   // 440 * 2^(-9/12): pitch 0
inline constexpr double kLog2A4 = 8.78135971352466;  // log2(440)
inline constexpr double kLog2C4 = kLog2A4 - 0.75;    // log2(kC4Hz)

/// What a module's state names. Empty: the default (12-TET, A4 = 440 Hz).
struct TuningSource {
    std::string catalogueId;     ///< {"scale": "<catalogue id>"}
    std::filesystem::path file;  ///< {"file": "x.scl|x.ascl"}, resolved against the patch folder
    std::filesystem::path kbm;   ///< optional {"kbm": "y.kbm"}, resolved
    bool empty() const noexcept { return catalogueId.empty() && file.empty(); }
};

/// UI thread. Reads the tuning keys of a module's state strictly: null means the default; else an
/// object with exactly one of "scale" (a catalogue id) and "file" (a .scl/.ascl path relative to
/// the patch), optionally "kbm" (a .kbm path; only when `allowKbm`), and any of `extraKeys` (read
/// by the module itself). Throws std::invalid_argument("<module> state: ...") for anything else.
TuningSource parseTuningSource(const nlohmann::json& state, const LoadContext& context, std::string_view module,
                               std::initializer_list<std::string_view> extraKeys = {}, bool allowKbm = true);

/// A tuning as the modules use it. Built on the worker.
struct LoadedTuning {
    tuning::Mode mode;                       ///< system + chosen degrees + tonic (a plain file: all its degrees, tonic 0)
    tuning::Scale scale;                     ///< mode.toScale(): the mode's degrees from the tonic up, with names
    std::optional<tuning::KeyboardMap> kbm;  ///< a .kbm from the state: it decides keys and reference
    double referenceHz = kC4Hz;              ///< the default reference frequency (see referenceCents)
    double referenceCents = 0.0;             ///< the reference's pitch in cents above the tonic (above the kbm's middle note)
    int anchorOffset = 0;                    ///< the anchor key minus the tonic param (kbm: middle note - 60; else 0)
    double ombakHz = 0.0;                    ///< @KABEL OMBAK of the file (else of its system), else 0
    std::string name;                        ///< catalogue id or file name, for messages
};

/// Worker thread: loads what `source` names. The reference rule: a .kbm's reference note and
/// frequency; else the file's own @ABL REFERENCE_PITCH; else (a mode) its system's; else the tonic
/// at 261.6256 Hz. Throws kabel::InputError ("maqam.scl:7: ...") or std::runtime_error.
LoadedTuning loadTuning(const TuningSource& source);
/// 12-TET with A4 (degree 9) at 440 Hz: the tuning of an empty state.
LoadedTuning defaultTuning();

/// One layout's key pattern, measured from the anchor key (see the design note). Immutable.
struct KeyPattern {
    std::vector<double> cents;         ///< per slot: cents above the anchor's pitch (slot 0 = 0)
    std::vector<std::int32_t> degree;  ///< per slot: degree (0 = tonic), or -1 for an unmapped key
    double periodCents = 1200.0;       ///< the pattern repeats every size() keys this much higher

    int size() const noexcept { return static_cast<int>(cents.size()); }

    /// Audio thread: slot index and repetition of relative key d.
    void locate(long long d, long long& q, std::size_t& r) const noexcept {
        const long long m = static_cast<long long>(cents.size());
        q = d / m;
        long long rr = d - q * m;
        if (rr < 0) {
            rr += m;
            --q;
        }
        r = static_cast<std::size_t>(rr);
    }
    /// Audio thread: cents of relative key d (any integer).
    double centsAt(long long d) const noexcept {
        long long q = 0;
        std::size_t r = 0;
        locate(d, q, r);
        return static_cast<double>(q) * periodCents + cents[r];
    }
    /// Audio thread: degree of relative key d, or -1.
    int degreeAt(long long d) const noexcept {
        long long q = 0;
        std::size_t r = 0;
        locate(d, q, r);
        return degree[r];
    }
};

/// The mapped pitches of a pattern by pitch class, for the quantizer: each mapped slot's cents
/// reduced into [0, |period|) (unreduced when the period is 0), sorted.
struct PitchClasses {
    std::vector<double> cents;
    std::vector<std::int32_t> degree;
    double period = 1200.0;  ///< |periodCents|; 0: the set does not repeat

    struct Nearest {
        double cents = 0.0;  ///< above the anchor's pitch
        int degree = -1;
        long long id = 0;  ///< identifies the pitch (same id = same pitch)
    };
    /// Audio thread: the member nearest to `y` cents (above the anchor's pitch). Needs a non-empty set.
    Nearest nearest(double y) const noexcept;
};

/// What the tuner and the quantizer read on the audio thread. Immutable once built.
struct TunerTable {
    bool valid = false;                ///< false: a cleared value (use the default)
    std::array<KeyPattern, 2> layout;  ///< [ModeKeyboard::Layout]: consecutive, system keys (equal with a .kbm)
    PitchClasses classes;              ///< of layout 0
    double referenceHz = kC4Hz;
    double referenceCents = 0.0;
    int anchorOffset = 0;
    int firstNote = 0, lastNote = 127;  ///< keys outside are unmapped (a .kbm's range)
    double ombakHz = 0.0;
};

/// Worker thread: the real-time form of a loaded tuning. Throws InputError when the tuning cannot
/// be laid out (a .kbm that does not fit the scale).
std::unique_ptr<TunerTable> buildTunerTable(const LoadedTuning& tuning);

}  // namespace kabel::tuned
