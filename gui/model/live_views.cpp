// The numbers behind the live views (see live_views.hpp).
#include "gui/model/live_views.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <numbers>

#include <nlohmann/json.hpp>

#include "modules/tuning_state.hpp"

namespace kabel::editor {

int scopeStart(std::span<const float> trigger, int count, int window, float level) {
    if (window <= 0 || count <= window) return 0;
    const int newest = count - window;
    if (static_cast<int>(trigger.size()) < count) return newest;
    // The newest crossing that still has a whole window after it.
    for (int i = newest; i >= 1; --i)
        if (trigger[static_cast<std::size_t>(i - 1)] < level && trigger[static_cast<std::size_t>(i)] >= level) return i;
    return newest;
}

std::vector<MinMax> thinColumns(std::span<const float> samples, int columns) {
    std::vector<MinMax> out;
    const auto n = static_cast<long long>(samples.size());
    if (n == 0 || columns <= 0) return out;
    out.resize(static_cast<std::size_t>(columns));
    for (long long c = 0; c < columns; ++c) {
        long long begin = c * n / columns;
        long long end = (c + 1) * n / columns;
        if (end <= begin) end = begin + 1;  // fewer samples than columns
        begin = std::min(begin, n - 1);
        end = std::min(end, n);
        MinMax m{samples[static_cast<std::size_t>(begin)], samples[static_cast<std::size_t>(begin)]};
        for (long long i = begin + 1; i < end; ++i) {
            m.min = std::min(m.min, samples[static_cast<std::size_t>(i)]);
            m.max = std::max(m.max, samples[static_cast<std::size_t>(i)]);
        }
        out[static_cast<std::size_t>(c)] = m;
    }
    return out;
}

float logFrequencyPosition(double hz, double minHz, double maxHz) {
    if (!(hz > 0.0) || !(minHz > 0.0) || !(maxHz > minHz)) return 0.0f;
    return static_cast<float>(std::clamp(std::log(hz / minHz) / std::log(maxHz / minHz), 0.0, 1.0));
}

std::vector<float> spectrumColumns(std::span<const float> magnitudesDb, int fftSize, double sampleRate, int columns, double minHz,
                                   double maxHz) {
    std::vector<float> out;
    const int bins = static_cast<int>(magnitudesDb.size());
    if (columns <= 0 || bins < 2 || fftSize <= 0 || !(sampleRate > 0.0) || !(minHz > 0.0) || !(maxHz > minHz)) return out;
    out.resize(static_cast<std::size_t>(columns));
    const double binHz = sampleRate / fftSize;
    const double ratio = std::log(maxHz / minHz);
    const auto at = [&](int k) { return magnitudesDb[static_cast<std::size_t>(std::clamp(k, 0, bins - 1))]; };
    for (int c = 0; c < columns; ++c) {
        const double lo = minHz * std::exp(ratio * c / columns);
        const double hi = minHz * std::exp(ratio * (c + 1) / columns);
        // Bins whose centres lie in [lo, hi).
        const int first = static_cast<int>(std::ceil(lo / binHz));
        const int last = std::min(static_cast<int>(std::ceil(hi / binHz)) - 1, bins - 1);
        if (first <= last) {
            float level = at(first);
            for (int k = first + 1; k <= last; ++k) level = std::max(level, at(k));
            out[static_cast<std::size_t>(c)] = level;
        } else {
            const double centre = std::sqrt(lo * hi) / binHz;  // in bins
            const int k = static_cast<int>(std::floor(centre));
            const auto f = static_cast<float>(centre - k);
            out[static_cast<std::size_t>(c)] = k >= bins - 1 ? at(bins - 1) : at(k) + f * (at(k + 1) - at(k));
        }
    }
    return out;
}

float levelPosition(float db, float floorDb) {
    if (std::isnan(db) || !(floorDb < 0.0f)) return 0.0f;
    return std::clamp((db - floorDb) / -floorDb, 0.0f, 1.0f);
}

int spectrumSize(double sizeChoice) {
    const int choice = std::isnan(sizeChoice) ? 2 : static_cast<int>(std::lround(std::clamp(sizeChoice, 0.0, 4.0)));
    return 1024 << choice;
}

TuningCircle tuningCircle(const tuning::Scale& scale) {
    TuningCircle circle;
    const double period = std::fabs(scale.periodCents());
    circle.periodCents = period > 1e-9 ? period : 1200.0;
    const double p = circle.periodCents;
    const double turn = 2.0 * std::numbers::pi / p;
    for (int d = 0; d < scale.degreeCount(); ++d) {
        double cents = scale.centsOfDegree(d);
        cents -= std::floor(cents / p) * p;
        if (cents >= p) cents -= p;
        const double tet = cents - 100.0 * std::round(cents / 100.0);
        circle.degrees.push_back({d, cents, cents * turn, scale.degreeName(d), tet});
    }
    for (double c = 0.0; c < p - 1e-9; c += 100.0) circle.tetAngles.push_back(c * turn);
    return circle;
}

std::vector<StripKey> keyStrip(const tuning::Tuning& tuning, int first, int last) {
    std::vector<StripKey> keys;
    for (int k = first; k <= last; ++k) keys.push_back({k, tuning.isMapped(k), tuning.degreeOfKey(k), tuning.frequencyOfKey(k)});
    return keys;
}

std::string formatCents(double cents) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f", cents);
    std::string s = buffer;
    return s == "-0.0" ? "0.0" : s;
}

tuning::Tuning tunerTuning(const tuned::LoadedTuning& lt, int tonicKey, double referenceHz, bool systemKeys) {
    // The tuner plays the anchor key (tonic + the .kbm's offset) at reference Hz lowered by the
    // reference's cents above the tonic (modules/tuning_state.hpp): the same numbers here.
    const double hz = referenceHz > 0.0 ? referenceHz : lt.referenceHz;
    const double anchorHz = hz * std::exp2(-lt.referenceCents / 1200.0);
    if (lt.kbm) {
        tuning::KeyboardMap map = *lt.kbm;
        const int shift = tonicKey - 60;
        map.middleNote += shift;
        map.referenceNote = map.middleNote;
        map.referenceFrequency = anchorHz;
        return tuning::Tuning(lt.scale, map);
    }
    // Built on the mode's own scale (not the system), so degrees are mode degrees (0 = tonic), as
    // the tuner's Degree output counts them, and tuning.scale() is the mode the circle shows.
    tuning::KeyboardMap map = tuning::KeyboardMap::linear(tonicKey, tonicKey, anchorHz);
    if (systemKeys) {
        // Every key the next system degree; keys of system degrees outside the mode are unmapped.
        const int n = lt.mode.system.degreeCount();
        const auto wrap = [n](int d) { return ((d % n) + n) % n; };
        std::vector<int> members;
        for (int d : lt.mode.degrees) members.push_back(wrap(d));
        std::sort(members.begin(), members.end());
        members.erase(std::unique(members.begin(), members.end()), members.end());
        const int tonic = wrap(lt.mode.tonic);
        std::rotate(members.begin(), std::find(members.begin(), members.end(), tonic), members.end());
        map.mapSize = n;
        map.mapping.assign(static_cast<std::size_t>(n), tuning::kUnmapped);
        for (std::size_t m = 0; m < members.size(); ++m)
            map.mapping[static_cast<std::size_t>(wrap(members[m] - tonic))] = static_cast<int>(m);
    }
    return tuning::Tuning(lt.scale, map);
}

tuning::Tuning tunerTuning(const ModuleSpec& module, const std::filesystem::path& patchDirectory) {
    const nlohmann::json state = module.stateJson.empty() ? nlohmann::json() : nlohmann::json::parse(module.stateJson);
    LoadContext context;
    context.baseDirectory = patchDirectory;
    const tuned::TuningSource source = tuned::parseTuningSource(state, context, module.type);
    const auto param = [&](const char* id, double fallback) {
        const auto it = module.params.find(id);
        return it != module.params.end() ? it->second : fallback;
    };
    const int tonic = static_cast<int>(std::lround(std::clamp(param("tonic", 60.0), 0.0, 127.0)));
    return tunerTuning(tuned::loadTuning(source), tonic, param("reference", 0.0), param("layout", 0.0) >= 0.5);
}

}  // namespace kabel::editor
