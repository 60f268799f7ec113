// core/tuning: scales, keyboard maps and tunings.
//
// Design note. A *Scale* is a tuning system's pitch set as a Scala .scl/.ascl file defines it
// (degree 0 = 1/1 implicit, the last pitch is the period). A *KeyboardMap* is a Scala .kbm file:
// which key plays which degree, and which key sounds at which frequency. A *Tuning* joins the two
// and answers "what frequency does MIDI note n play?" for whole and fractional notes. A *Mode* is
// a subset of a system with a tonic (Leimma/Apotome's "scale in a tuning system"): the system
// fixes the pitches, the mode chooses some of them, and the tonic key and the reference pitch
// are set independently. Everything here is built on the UI or loader thread and is immutable
// afterwards; the audio thread reads only a TuningTable (plain arrays, noexcept lookups, no
// allocation). The ambiguous cases of the formats and how Kabel decides them: docs/tuning.md.
//
// Threads: every function here runs on any thread that is not the audio thread (they allocate
// and may throw), except the members marked "audio thread".
// Errors: every rejected input throws kabel::InputError naming file, line and reason.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.hpp"

namespace kabel::tuning {

// ---- Limits for hostile input (each exceeded limit is a clear InputError, never a crash). ----
inline constexpr std::size_t kMaxFileBytes = 16u * 1024u * 1024u;  // 16 MiB
inline constexpr std::size_t kMaxLineBytes = 64u * 1024u;          // 64 KiB per line
inline constexpr int kMaxNotes = 65536;                            // .scl note count N
inline constexpr int kMaxMapSize = 65536;                          // .kbm map size
inline constexpr double kMaxAbsCents = 100000.0;                   // |pitch| <= ~83 octaves
inline constexpr double kMaxFrequency = 1.0e6;                     // Hz, .kbm / REFERENCE_PITCH
inline constexpr int kUnmapped = -1;                               // a .kbm 'x' entry; degreeOfKey() of a silent key

/// One pitch line of a .scl file (degrees 1..N; degree 0 = 1/1 is implicit and not stored).
struct Pitch {
    enum class Kind { Cents, Ratio };
    Kind kind = Kind::Ratio;
    double cents = 0.0;  ///< the pitch in cents above 1/1 (for ratios: 1200 log2(n/d), exact to ~1e-12 c)
    std::string text;    ///< the value exactly as written ("81/64", "-13.5", "2"): export writes it back
    std::string label;   ///< text after the value on its line, trimmed, without a leading '!' (may be empty)

    /// A cents pitch written with the shortest text that reads back to exactly `cents`.
    static Pitch fromCents(double cents, std::string label = {});
    /// A ratio pitch n/d (both > 0). Throws std::invalid_argument for 0.
    static Pitch fromRatio(std::uint64_t numerator, std::uint64_t denominator, std::string label = {});
};

/// `! @KABEL KIND`: where the numbers come from.
enum class SourceKind { Unspecified, Measured, Theoretical, Approximation };
const char* toString(SourceKind kind) noexcept;  ///< "", "measured", "theoretical", "approximation"

/// `! @ABL REFERENCE_PITCH <octave> <index> <Hz>`: degree `index` sounds at `frequency`.
struct ReferencePitch {
    int octave = 4;  ///< -2..8; Kabel uses it only to place NOTE_RANGE_BY_INDEX (see docs/tuning.md)
    int degree = 0;  ///< 0..degreeCount()-1
    double frequency = 440.0;
};

/// `! @ABL NOTE_RANGE_BY_FREQUENCY <min Hz> [<max Hz>]` or `NOTE_RANGE_BY_INDEX <octave> <index>
/// [<octave> <index>]`: the playable range. Keys outside it are unmapped in a Tuning.
struct NoteRange {
    enum class By { Frequency, Index };
    By by = By::Frequency;
    double minHz = 0.0, maxHz = 0.0;   ///< By::Frequency; maxHz = 0: no upper limit
    int minOctave = 0, minDegree = 0;  ///< By::Index
    std::optional<int> maxOctave, maxDegree;
};

/// A tuning system's pitch set: a parsed .scl or .ascl file (with Kabel's `! @KABEL` lines).
struct Scale {
    std::string description;     ///< UTF-8 (Latin-1 files are converted)
    std::vector<Pitch> pitches;  ///< degrees 1..N; the last one is the period. May be empty (N = 0).

    // Ableton .ascl extensions (`! @ABL ...`).
    std::vector<std::string> noteNames;  ///< empty, or one per degree 0..degreeCount()-1 (UTF-8)
    std::optional<ReferencePitch> referencePitch;
    std::optional<NoteRange> noteRange;
    std::string source;  ///< SOURCE: a citation
    std::string link;    ///< LINK: a URL

    // Kabel extensions (`! @KABEL ...`).
    std::string family;                         ///< FAMILY: the tradition, for listing ("Arabic maqam")
    SourceKind kind = SourceKind::Unspecified;  ///< KIND
    std::optional<double> ombakHz;              ///< OMBAK: default paired-voice beat rate in Hz
    std::string system;                         ///< SYSTEM: catalogue id of the system this file is a mode of
    std::vector<int> systemDegrees;             ///< DEGREES: system degree of each of this file's degrees 0..degreeCount()-1

    /// N, the note count of the file.
    int noteCount() const noexcept { return static_cast<int>(pitches.size()); }
    /// Distinct degrees per period: max(N, 1) (a 0-note scale still has its 1/1).
    int degreeCount() const noexcept { return pitches.empty() ? 1 : static_cast<int>(pitches.size()); }
    /// Cents of the period (the last pitch); 0 for N = 0.
    double periodCents() const noexcept { return pitches.empty() ? 0.0 : pitches.back().cents; }
    /// Cents of any degree d (d < 0 and d >= N continue by whole periods): 0 for d = 0.
    double centsOfDegree(long long degree) const noexcept;
    /// NOTE_NAMES name of degree d (taken modulo degreeCount()), or "" when the file has none.
    const std::string& degreeName(long long degree) const noexcept;
};

/// A parsed .kbm keyboard mapping. The default is linear with the 1/1 on middle C (key 60) at
/// 261.625565 Hz: identical to 12-TET at A4 = 440 Hz for a 12-note equal scale (docs/tuning.md).
struct KeyboardMap {
    int mapSize = 0;    ///< 0 = linear: key k plays degree k - middleNote
    int firstNote = 0;  ///< keys outside [firstNote, lastNote] are unmapped
    int lastNote = 127;
    int middleNote = 60;                            ///< the key of the first mapping entry (the 1/1 for a linear map)
    int referenceNote = 60;                         ///< the key whose frequency is given
    double referenceFrequency = 261.6255653005986;  ///< 440 * 2^(-9/12)
    int octaveDegree = 0;                           ///< degree that is the mapping's period; 0 = the scale's period (degree N)
    std::vector<int> mapping;                       ///< mapSize entries: a degree (>= 0) or kUnmapped ('x' or left out)

    /// The map the .kbm text "tune key `key` to `hz`, 1/1 on `middle`" describes (linear).
    static KeyboardMap linear(int middleNote, int referenceNote, double referenceFrequency);
};

// ---- Parsers (any thread but the audio thread). `fileName` is used in messages only. ----

/// A .scl or .ascl file's text (any bytes). Throws InputError("name.scl:7: reason").
Scale parseScale(std::string_view text, const std::string& fileName);
/// A .kbm file's text. Throws InputError.
KeyboardMap parseKeyboardMap(std::string_view text, const std::string& fileName);
/// Reads and parses a file (by extension: .kbm is a map, anything else a scale). Messages name
/// the file by its file name (not the whole path). Throws InputError, also for unreadable files.
Scale loadScale(const std::filesystem::path& path);
KeyboardMap loadKeyboardMap(const std::filesystem::path& path);

// ---- Export (round trip: parsing the text gives the same pitches, exactly for parsed pitches). ----

/// .scl text: the description, count and pitches (with their labels as `! label`), and the
/// `! @KABEL` lines (comments to every other reader).
std::string toScl(const Scale& scale, const std::string& fileName = {});
/// .ascl text: toScl() plus the `! @ABL` lines (names, reference pitch, range, source, link).
std::string toAscl(const Scale& scale, const std::string& fileName = {});
/// .kbm text with every field commented.
std::string toKbm(const KeyboardMap& map, const std::string& fileName = {});

/// An equal division of `periodCents` into `steps` steps (e.g. 12-TET = equalTemperament(12)).
Scale equalTemperament(int steps, double periodCents = 1200.0);

// ---- Real-time form ----

/// What the audio thread reads: log2 of the frequency of keys 0..127 and their degrees, plus the
/// period of the key pattern for notes outside 0..127. Plain data, copyable, no pointers.
/// Fractional notes interpolate linearly in log2(frequency) between the neighbouring keys.
struct TuningTable {
    static constexpr int kKeys = 128;
    std::array<double, kKeys> log2Hz{};        ///< log2(Hz) of every key (unmapped keys too: see docs)
    std::array<std::int32_t, kKeys> degree{};  ///< scale degree (0..degreeCount()-1) or kUnmapped
    /// Repetitions of the key pattern above (< 0: below) the one that starts at the middle note;
    /// for a linear map these are periods of the scale.
    std::array<std::int32_t, kKeys> period{};
    std::array<bool, kKeys> mapped{};
    int periodKeys = 12;      ///< keys per repetition of the key pattern (>= 1)
    double periodLog2 = 1.0;  ///< log2 of the frequency ratio across periodKeys keys

    /// Audio thread. log2(Hz) of a (fractional) MIDI note. Notes outside 0..127 continue the
    /// pattern by whole periods (when periodKeys <= 128, else by the end slope). NaN counts as
    /// note 0; the result is clamped to [-1000, 1000] so exp2 stays finite.
    double log2Frequency(double note) const noexcept;
    /// Audio thread. Hz of a (fractional) MIDI note.
    double frequency(double note) const noexcept;
    /// Audio thread. Whether key (0..127) sounds; false outside 0..127.
    bool isMapped(int key) const noexcept { return key >= 0 && key < kKeys && mapped[static_cast<std::size_t>(key)]; }
};

/// A Scale played through a KeyboardMap. Immutable; cheap lookups; build off the audio thread.
class Tuning {
public:
    /// 12-TET, A4 = 440 Hz.
    Tuning();
    /// `scale` with the default map; when the scale has an @ABL REFERENCE_PITCH, degree 0 stays on
    /// key 60 and that degree (in the period starting at key 60) sounds at the given frequency.
    explicit Tuning(Scale scale);
    /// Throws InputError (file "<tuning>") when the map cannot be used with the scale: mapping
    /// entries and formal octave beyond the scale are allowed (docs/tuning.md), nothing else fails.
    Tuning(Scale scale, KeyboardMap map);

    /// Hz of a (fractional) MIDI note: log-frequency interpolation between neighbouring keys.
    double frequency(double midiNote) const noexcept { return table_.frequency(midiNote); }
    /// Hz of any integer key (exact, not limited to 0..127).
    double frequencyOfKey(int key) const noexcept;
    /// Cents of a key above (below: < 0) the reference note's frequency.
    double centsFromReference(int key) const noexcept;
    /// Whether key sounds: inside [firstNote, lastNote], not an 'x', inside an @ABL note range.
    bool isMapped(int key) const noexcept;
    /// The scale degree (0..degreeCount()-1) key plays, or kUnmapped.
    int degreeOfKey(int key) const noexcept;
    /// The degree's name (NOTE_NAMES), or "" when the scale has none.
    const std::string& degreeName(int degree) const noexcept { return scale_.degreeName(degree); }

    const Scale& scale() const noexcept { return scale_; }
    const KeyboardMap& keyboardMap() const noexcept { return map_; }
    /// The real-time form (copy it into an RtValue for the audio thread).
    const TuningTable& table() const noexcept { return table_; }

private:
    struct KeyPitch {
        double cents;  // above the 1/1 of the middle note
        int degree;    // kUnmapped for an 'x' (pitch interpolated)
        long long period;
    };
    KeyPitch keyPitch(long long key) const noexcept;
    void build();

    Scale scale_;
    KeyboardMap map_;
    std::vector<double> slotCents_;  // per position in the key pattern: cents above the middle note's 1/1
    std::vector<int> slotDegree_;    // per position: degree, or kUnmapped
    double patternCents_ = 1200.0;   // cents across one repetition of the key pattern
    double referenceLog2Hz_ = 0.0;   // log2 Hz of the 1/1 of the middle note
    bool applyNoteRange_ = false;    // the scale's @ABL note range (only with the default map)
    TuningTable table_;
};

// ---- Systems and modes ----

/// A mode (scale, maqam, raga, pathet...) of a tuning system: a subset of its degrees with a tonic.
struct Mode {
    Scale system;                    ///< the tuning system (pitch set)
    std::vector<int> degrees;        ///< the chosen system degrees, each in 0..system.degreeCount()-1, ascending
    int tonic = 0;                   ///< the system degree that is the mode's 1/1 (one of `degrees`)
    std::vector<std::string> names;  ///< names of the mode's degrees from the tonic up (empty: the system's names)
    std::string description;
    std::string systemId;  ///< the system's catalogue id, when known (becomes @KABEL SYSTEM/DEGREES of toScale())

    /// The mode as a Scale of its own: its degrees from the tonic up, re-based on the tonic, the
    /// system's period as period; names, source and kind carried over.
    Scale toScale() const;
};

/// The mode a catalogue file with `@KABEL SYSTEM`/`DEGREES` describes, checked against its system:
/// every pitch must equal its system degree re-based on the tonic within `toleranceCents`.
/// Throws InputError (naming the mode file) on a mismatch, a degree out of range or a missing DEGREES.
Mode modeOf(const Scale& modeFile, const Scale& system, const std::string& fileName, double toleranceCents = 1e-3);

/// Where a mode sits on the keyboard and at what pitch: the tonic key and the system's absolute
/// pitch are independent (Leimma/Apotome style).
struct ModeKeyboard {
    enum class Layout {
        Consecutive,  ///< every key plays the next mode degree (period = mode size keys)
        SystemKeys,   ///< every key plays the next system degree; keys of degrees outside the mode are unmapped
    };
    int tonicKey = 60;                              ///< the key that plays the tonic
    int referenceDegree = 0;                        ///< a system degree whose frequency is given...
    double referenceFrequency = 261.6255653005986;  ///< ...in Hz (fixes the system's absolute pitch)
    Layout layout = Layout::Consecutive;
    int firstNote = 0, lastNote = 127;
};

/// A Tuning that plays `mode` with its tonic on `keyboard.tonicKey`; the system's degree
/// `referenceDegree` (in the period that holds the tonic) sounds at `referenceFrequency`.
Tuning tuningOfMode(const Mode& mode, const ModeKeyboard& keyboard = {});

// ---- The built-in catalogue (patches/scales/) ----

struct CatalogueEntry {
    std::string id;  ///< file stem, unique in the catalogue
    std::filesystem::path path;
    std::string family, description;
    SourceKind kind = SourceKind::Unspecified;
    int noteCount = 0;
    std::string system;  ///< SYSTEM id when the file is a mode
    std::string error;   ///< non-empty when the file does not parse (the entry is listed anyway)
};

/// The catalogue folder: $KABEL_SCALES, <exe dir>/../patches/scales, <exe dir>/../../patches/scales,
/// then the source tree this was built from. nullopt when none exists.
std::optional<std::filesystem::path> findCatalogue();
/// Every .scl/.ascl file under `dir` (recursively), sorted by id.
std::vector<CatalogueEntry> listCatalogue(const std::filesystem::path& dir);
/// The file of catalogue id `id` under `dir`. Throws InputError when there is none or two.
std::filesystem::path cataloguePath(const std::filesystem::path& dir, const std::string& id);
/// Loads a catalogue scale by id. Throws InputError.
Scale loadCatalogueScale(const std::filesystem::path& dir, const std::string& id);
/// Loads a catalogue mode by id: its SYSTEM is loaded from the same catalogue and checked (modeOf).
/// A file without SYSTEM is a mode of itself (all degrees, tonic 0). Throws InputError.
Mode loadCatalogueMode(const std::filesystem::path& dir, const std::string& id);

}  // namespace kabel::tuning
