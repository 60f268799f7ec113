// Tuning (a Scale through a KeyboardMap), its real-time table, and modes of a system.
//
// Every key's pitch comes from the key pattern: key k is position r = (k - middle) mod M of
// repetition p = floor((k - middle) / M) of the pattern, M being the map size (the scale's
// degree count for a linear map), and sounds at p * (formal octave) + cents(entry r) above the
// 1/1 of the middle note. The reference note fixes the absolute pitch. An 'x' key gets the pitch
// interpolated in cents between the mapped keys around it (so glides pass through it smoothly)
// but is reported unmapped. See docs/tuning.md for the decisions.
#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "core/tuning/text.hpp"
#include "core/tuning/tuning.hpp"

namespace kabel::tuning {

namespace {
constexpr double kMaxLog2Hz = 1000.0;
double clampLog2(double v) noexcept {
    return v < -kMaxLog2Hz ? -kMaxLog2Hz : (v > kMaxLog2Hz ? kMaxLog2Hz : v);
}
}  // namespace

// ---- TuningTable ----

double TuningTable::log2Frequency(double note) const noexcept {
    if (!(note == note)) note = 0.0;  // NaN
    constexpr double kLimit = 1.0e7;
    note = note < -kLimit ? -kLimit : (note > kLimit ? kLimit : note);
    double shift = 0.0;
    if (note < 0.0 || note > kKeys - 1) {
        if (periodKeys <= kKeys) {
            const double m = std::floor(note / periodKeys);
            note -= m * periodKeys;  // now in [0, periodKeys)
            shift = m * periodLog2;
        } else {
            const double slope = (log2Hz[kKeys - 1] - log2Hz[0]) / (kKeys - 1);
            return clampLog2(note < 0.0 ? log2Hz[0] + note * slope : log2Hz[kKeys - 1] + (note - (kKeys - 1)) * slope);
        }
    }
    const double fl = std::floor(note);
    auto i = static_cast<int>(fl);
    if (i < 0) i = 0;
    if (i > kKeys - 1) i = kKeys - 1;
    const double frac = note - i;
    const double a = log2Hz[static_cast<std::size_t>(i)];
    double b = a;
    if (frac > 0.0)
        b = i + 1 < kKeys ? log2Hz[static_cast<std::size_t>(i + 1)] : log2Hz[static_cast<std::size_t>(i + 1 - periodKeys)] + periodLog2;
    return clampLog2(a + (b - a) * frac + shift);
}

double TuningTable::frequency(double note) const noexcept {
    return std::exp2(log2Frequency(note));
}

// ---- Tuning ----

Tuning::Tuning() : Tuning(equalTemperament(12)) {}

Tuning::Tuning(Scale scale) : scale_(std::move(scale)) {
    if (scale_.referencePitch) map_ = KeyboardMap::linear(60, 60 + scale_.referencePitch->degree, scale_.referencePitch->frequency);
    applyNoteRange_ = scale_.noteRange.has_value();
    build();
}

Tuning::Tuning(Scale scale, KeyboardMap map) : scale_(std::move(scale)), map_(std::move(map)) {
    build();
}

void Tuning::build() {
    const auto fail = [](const std::string& reason) { throw InputError("<tuning>", 0, "", reason); };
    if (map_.mapSize < 0 || map_.mapSize > kMaxMapSize) fail("map size out of range");
    if (map_.mapSize > 0 && static_cast<int>(map_.mapping.size()) != map_.mapSize)
        fail("the map has " + std::to_string(map_.mapping.size()) + " entries for a map size of " + std::to_string(map_.mapSize));
    if (!(map_.referenceFrequency > 0.0) || !std::isfinite(map_.referenceFrequency)) fail("the reference frequency must be > 0 Hz");
    if (scale_.noteCount() > kMaxNotes) fail("too many notes");
    for (const int e : map_.mapping)
        if (e < kUnmapped) fail("a mapping entry is negative");

    const int n = scale_.degreeCount();
    const bool linear = map_.mapSize == 0;
    const int m = linear ? n : map_.mapSize;
    slotCents_.assign(static_cast<std::size_t>(m), 0.0);
    slotDegree_.assign(static_cast<std::size_t>(m), kUnmapped);
    if (linear) {
        patternCents_ = scale_.periodCents();
        for (int r = 0; r < m; ++r) {
            slotCents_[static_cast<std::size_t>(r)] = scale_.centsOfDegree(r);
            slotDegree_[static_cast<std::size_t>(r)] = r;
        }
    } else {
        patternCents_ = map_.octaveDegree == 0 ? scale_.periodCents() : scale_.centsOfDegree(map_.octaveDegree);
        std::vector<int> mappedSlots;
        for (int r = 0; r < m; ++r) {
            const int e = map_.mapping[static_cast<std::size_t>(r)];
            if (e == kUnmapped) continue;
            slotCents_[static_cast<std::size_t>(r)] = scale_.centsOfDegree(e);
            slotDegree_[static_cast<std::size_t>(r)] = e % n;
            mappedSlots.push_back(r);
        }
        if (mappedSlots.empty()) {
            for (int r = 0; r < m; ++r) slotCents_[static_cast<std::size_t>(r)] = patternCents_ * r / m;
        } else {
            // Fill each gap between consecutive mapped slots (cyclically) in a straight line.
            for (std::size_t k = 0; k < mappedSlots.size(); ++k) {
                const int a = mappedSlots[k];
                const bool wraps = k + 1 == mappedSlots.size();
                const int b = wraps ? mappedSlots[0] + m : mappedSlots[k + 1];
                const double ca = slotCents_[static_cast<std::size_t>(a)];
                const double cb = slotCents_[static_cast<std::size_t>(b % m)] + (wraps ? patternCents_ : 0.0);
                for (int j = a + 1; j < b; ++j) {
                    const double c = ca + (cb - ca) * (j - a) / (b - a);
                    if (j < m)
                        slotCents_[static_cast<std::size_t>(j)] = c;
                    else
                        slotCents_[static_cast<std::size_t>(j - m)] = c - patternCents_;
                }
            }
        }
    }
    referenceLog2Hz_ = std::log2(map_.referenceFrequency) - keyPitch(map_.referenceNote).cents / 1200.0;

    table_.periodKeys = m;
    table_.periodLog2 = patternCents_ / 1200.0;
    for (int k = 0; k < TuningTable::kKeys; ++k) {
        const auto i = static_cast<std::size_t>(k);
        const KeyPitch kp = keyPitch(k);
        table_.log2Hz[i] = clampLog2(referenceLog2Hz_ + kp.cents / 1200.0);
        table_.mapped[i] = isMapped(k);
        table_.degree[i] = table_.mapped[i] ? kp.degree : kUnmapped;
        table_.period[i] = static_cast<std::int32_t>(std::clamp<long long>(kp.period, INT32_MIN, INT32_MAX));
    }
}

Tuning::KeyPitch Tuning::keyPitch(long long key) const noexcept {
    const auto m = static_cast<long long>(slotCents_.size());
    const long long d = key - map_.middleNote;
    const long long p = detail::floorDiv(d, m);
    const auto r = static_cast<std::size_t>(d - p * m);
    return {static_cast<double>(p) * patternCents_ + slotCents_[r], slotDegree_[r], p};
}

double Tuning::frequencyOfKey(int key) const noexcept {
    return std::exp2(clampLog2(referenceLog2Hz_ + keyPitch(key).cents / 1200.0));
}

double Tuning::centsFromReference(int key) const noexcept {
    return keyPitch(key).cents - keyPitch(map_.referenceNote).cents;
}

bool Tuning::isMapped(int key) const noexcept {
    if (key < map_.firstNote || key > map_.lastNote) return false;
    const KeyPitch kp = keyPitch(key);
    if (kp.degree == kUnmapped) return false;
    if (applyNoteRange_ && scale_.noteRange) {
        const NoteRange& range = *scale_.noteRange;
        if (range.by == NoteRange::By::Frequency) {
            const double hz = frequencyOfKey(key);
            if (hz < range.minHz * (1.0 - 1e-12)) return false;
            if (range.maxHz > 0.0 && hz > range.maxHz * (1.0 + 1e-12)) return false;
        } else {
            const long long n = scale_.degreeCount();
            const long long refOctave = scale_.referencePitch ? scale_.referencePitch->octave : 0;
            const long long index = (static_cast<long long>(key) - map_.middleNote) + refOctave * n;
            if (index < static_cast<long long>(range.minOctave) * n + range.minDegree) return false;
            if (range.maxOctave && range.maxDegree && index > static_cast<long long>(*range.maxOctave) * n + *range.maxDegree) return false;
        }
    }
    return true;
}

int Tuning::degreeOfKey(int key) const noexcept {
    return isMapped(key) ? keyPitch(key).degree : kUnmapped;
}

// ---- Modes ----

Scale Mode::toScale() const {
    const int n = system.degreeCount();
    std::vector<int> set;
    for (int d : degrees) set.push_back(((d % n) + n) % n);
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    const int t = ((tonic % n) + n) % n;
    const auto it = std::find(set.begin(), set.end(), t);
    if (it == set.end())
        throw std::invalid_argument("Mode: the tonic (system degree " + std::to_string(tonic) + ") is not one of the mode's degrees");
    std::rotate(set.begin(), it, set.end());

    Scale s;
    s.description = description.empty() ? system.description : description;
    const double tonicCents = system.centsOfDegree(t);
    for (std::size_t j = 1; j < set.size(); ++j) {
        const long long d = set[j] > t ? set[j] : set[j] + n;
        s.pitches.push_back(Pitch::fromCents(system.centsOfDegree(d) - tonicCents));
    }
    // The period: the system's, from the tonic to the tonic one period up. Kept as the system's
    // own text when it is that (a ratio stays a ratio).
    if (!system.pitches.empty()) {
        Pitch period = system.pitches.back();
        period.label.clear();
        s.pitches.push_back(period);
    }
    if (!names.empty()) {
        s.noteNames = names;
    } else if (!system.noteNames.empty()) {
        for (int d : set) s.noteNames.push_back(system.degreeName(d));
    }
    if (static_cast<int>(s.noteNames.size()) != s.degreeCount()) s.noteNames.clear();
    s.source = system.source;
    s.link = system.link;
    s.family = system.family;
    s.kind = system.kind;
    s.ombakHz = system.ombakHz;
    if (!systemId.empty()) {
        s.system = systemId;
        s.systemDegrees = set;
    }
    return s;
}

Mode modeOf(const Scale& modeFile, const Scale& system, const std::string& fileName, double toleranceCents) {
    const auto fail = [&](const std::string& reason) { throw InputError(fileName, 0, "", reason); };
    if (modeFile.systemDegrees.empty()) fail("not a mode: no @KABEL SYSTEM / @KABEL DEGREES lines");
    if (static_cast<int>(modeFile.systemDegrees.size()) != modeFile.degreeCount())
        fail("@KABEL DEGREES lists " + std::to_string(modeFile.systemDegrees.size()) + " degrees for a scale of " +
             std::to_string(modeFile.degreeCount()));
    const int n = system.degreeCount();
    // Unwrap ascending: "17 19 21 0 2" and "17 19 21 22 24" both mean the same degrees.
    std::vector<long long> unwrapped;
    for (int d : modeFile.systemDegrees) {
        long long u = d;
        if (!unwrapped.empty())
            while (u <= unwrapped.back()) u += n;
        unwrapped.push_back(u);
    }
    const double tonicCents = system.centsOfDegree(unwrapped[0]);
    for (std::size_t j = 1; j < unwrapped.size(); ++j) {
        const double expected = system.centsOfDegree(unwrapped[j]) - tonicCents;
        const double actual = modeFile.pitches[j - 1].cents;
        if (std::fabs(expected - actual) > toleranceCents)
            fail("pitch " + std::to_string(j) + " (" + detail::realText(actual) + " c) is not system degree " +
                 std::to_string(modeFile.systemDegrees[j]) + " re-based on the tonic (" + detail::realText(expected) + " c)");
    }
    if (!modeFile.pitches.empty() && std::fabs(modeFile.periodCents() - system.periodCents()) > toleranceCents)
        fail("the period (" + detail::realText(modeFile.periodCents()) + " c) is not the system's (" +
             detail::realText(system.periodCents()) + " c)");
    Mode mode;
    mode.system = system;
    std::set<int> set;
    for (long long u : unwrapped) set.insert(static_cast<int>(u % n));
    mode.degrees.assign(set.begin(), set.end());
    mode.tonic = static_cast<int>(unwrapped[0] % n);
    mode.description = modeFile.description;
    mode.systemId = modeFile.system;
    // Names in toScale() order (ascending from the tonic): re-order the file's names to match.
    if (!modeFile.noteNames.empty()) {
        std::vector<std::pair<long long, std::string>> named;
        for (std::size_t j = 0; j < unwrapped.size(); ++j) named.emplace_back(unwrapped[j], modeFile.noteNames[j]);
        std::sort(named.begin(), named.end());
        for (auto& [u, name] : named) mode.names.push_back(name);
        if (mode.names.size() != mode.degrees.size()) mode.names.clear();  // repeated degrees: names ambiguous
    }
    return mode;
}

Tuning tuningOfMode(const Mode& mode, const ModeKeyboard& keyboard) {
    const Scale& system = mode.system;
    const int n = system.degreeCount();
    const int t = ((mode.tonic % n) + n) % n;
    const double tonicHz =
        keyboard.referenceFrequency * std::exp2((system.centsOfDegree(t) - system.centsOfDegree(keyboard.referenceDegree)) / 1200.0);
    KeyboardMap map = KeyboardMap::linear(keyboard.tonicKey, keyboard.tonicKey, tonicHz);
    map.firstNote = keyboard.firstNote;
    map.lastNote = keyboard.lastNote;
    if (keyboard.layout == ModeKeyboard::Layout::Consecutive) return Tuning(mode.toScale(), map);
    std::set<int> inMode;
    for (int d : mode.degrees) inMode.insert(((d % n) + n) % n);
    map.mapSize = n;
    map.octaveDegree = 0;
    for (int j = 0; j < n; ++j) map.mapping.push_back(inMode.count((t + j) % n) ? t + j : kUnmapped);
    Scale scale = system;
    scale.referencePitch.reset();
    scale.noteRange.reset();
    return Tuning(std::move(scale), map);
}

}  // namespace kabel::tuning
