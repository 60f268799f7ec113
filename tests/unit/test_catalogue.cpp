// The built-in scale catalogue (patches/scales/, documented in docs/scales.md): every file loads with
// our parser, carries its provenance, survives .scl/.ascl export, and every mode matches its system.
// A few entries are checked against values computed here from first principles (not read back from
// the files' own numbers): Pythagorean 3^k/2^m, the 22 shrutis, the 12 lü chain, Bohlen-Pierce,
// Partch 43, AEU commas, meantone, measured gamelan octaves.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/tuning/tuning.hpp"

namespace fs = std::filesystem;
using namespace kabel::tuning;

namespace {

const fs::path kCatalogue = fs::path(KABEL_SOURCE_DIR) / "patches" / "scales";

double cents(double ratio) {
    return 1200.0 * std::log2(ratio);
}
double cents(std::uint64_t n, std::uint64_t d) {
    return 1200.0 * (std::log2(static_cast<double>(n)) - std::log2(static_cast<double>(d)));
}

const std::vector<CatalogueEntry>& entries() {
    static const std::vector<CatalogueEntry> list = listCatalogue(kCatalogue);
    return list;
}

Scale load(const std::string& id) {
    return loadCatalogueScale(kCatalogue, id);
}

// n/d from a pitch written as a ratio ("81/64", or "2" = 2/1).
std::pair<std::uint64_t, std::uint64_t> ratioOf(const Pitch& p) {
    REQUIRE(p.kind == Pitch::Kind::Ratio);
    const auto slash = p.text.find('/');
    const std::uint64_t n = std::stoull(p.text.substr(0, slash));
    const std::uint64_t d = slash == std::string::npos ? 1 : std::stoull(p.text.substr(slash + 1));
    return {n, d};
}

// Removes every factor `prime` from v.
std::uint64_t without(std::uint64_t v, std::uint64_t prime) {
    while (v % prime == 0) v /= prime;
    return v;
}

// The cents of every degree 0..N-1 of a scale, sorted, for set comparisons.
std::vector<double> degreeCents(const Scale& s) {
    std::vector<double> c{0.0};
    for (int i = 0; i + 1 < s.noteCount(); ++i) c.push_back(s.pitches[static_cast<std::size_t>(i)].cents);
    return c;
}

}  // namespace

TEST_CASE("The catalogue holds at least fifty files with unique ids", "[catalogue]") {
    REQUIRE(fs::is_directory(kCatalogue));
    const auto& list = entries();
    CHECK(list.size() >= 50);
    std::set<std::string> ids;
    for (const auto& e : list) {
        INFO(e.path.string());
        CHECK(ids.insert(e.id).second);
        CHECK(e.path.stem().string() == e.id);
        CHECK(e.path.extension() == ".ascl");
        // Ids are lower-case ASCII words joined by hyphens.
        bool ok = !e.id.empty() && e.id.front() != '-' && e.id.back() != '-';
        for (char c : e.id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
        CHECK(ok);
    }
}

TEST_CASE("Every catalogue file loads with a source a kind a family and one name per degree", "[catalogue]") {
    for (const auto& e : entries()) {
        INFO(e.id);
        CHECK(e.error.empty());
        const Scale s = load(e.id);
        CHECK(s.noteCount() >= 1);
        CHECK(!s.description.empty());
        CHECK(!s.source.empty());
        CHECK(s.kind != SourceKind::Unspecified);
        CHECK(!s.family.empty());
        CHECK(static_cast<int>(s.noteNames.size()) == s.degreeCount());
        for (const auto& name : s.noteNames) CHECK(!name.empty());
        if (!s.link.empty()) CHECK((s.link.rfind("http://", 0) == 0 || s.link.rfind("https://", 0) == 0));
        // Pitches rise strictly inside each period (all catalogue scales are monotonic).
        double previous = 0.0;
        for (const auto& p : s.pitches) {
            CHECK(p.cents > previous);
            previous = p.cents;
        }
        if (s.referencePitch) {
            CHECK(s.referencePitch->frequency > 20.0);
            CHECK(s.referencePitch->frequency < 20000.0);
        }
    }
}

TEST_CASE("Every catalogue file round-trips through scl and ascl export", "[catalogue]") {
    for (const auto& e : entries()) {
        INFO(e.id);
        const Scale s = load(e.id);
        const Scale scl = parseScale(toScl(s, e.id + ".scl"), e.id + ".scl");
        REQUIRE(scl.noteCount() == s.noteCount());
        for (int i = 0; i < s.noteCount(); ++i)
            CHECK(std::fabs(scl.pitches[static_cast<std::size_t>(i)].cents - s.pitches[static_cast<std::size_t>(i)].cents) <= 1e-9);
        CHECK(scl.description == s.description);
        const Scale ascl = parseScale(toAscl(s, e.id + ".ascl"), e.id + ".ascl");
        REQUIRE(ascl.noteCount() == s.noteCount());
        for (int i = 0; i < s.noteCount(); ++i)
            CHECK(std::fabs(ascl.pitches[static_cast<std::size_t>(i)].cents - s.pitches[static_cast<std::size_t>(i)].cents) <= 1e-9);
        CHECK(ascl.noteNames == s.noteNames);
        CHECK(ascl.source == s.source);
        CHECK(ascl.link == s.link);
        CHECK(ascl.family == s.family);
        CHECK(ascl.kind == s.kind);
        CHECK(ascl.system == s.system);
        CHECK(ascl.systemDegrees == s.systemDegrees);
        CHECK(ascl.ombakHz.has_value() == s.ombakHz.has_value());
        CHECK(ascl.referencePitch.has_value() == s.referencePitch.has_value());
    }
}

TEST_CASE("Every mode equals its system degrees re-based on the tonic", "[catalogue]") {
    int modes = 0;
    std::set<std::string> systems;
    for (const auto& e : entries()) {
        const Scale s = load(e.id);
        if (s.system.empty()) continue;
        INFO(e.id << " in " << s.system);
        ++modes;
        systems.insert(s.system);
        const Scale system = load(s.system);
        CHECK(system.system.empty());  // systems are not themselves modes
        const int n = system.degreeCount();
        REQUIRE(static_cast<int>(s.systemDegrees.size()) == s.degreeCount());
        // Independent check: ascending degrees, indices past n - 1 continue into the next period.
        std::vector<long long> unwrapped;
        for (int d : s.systemDegrees) {
            long long u = d;
            if (!unwrapped.empty())
                while (u <= unwrapped.back()) u += n;
            unwrapped.push_back(u);
        }
        CHECK(unwrapped.back() - unwrapped.front() < n);
        const double tonic = system.centsOfDegree(unwrapped.front());
        for (std::size_t j = 1; j < unwrapped.size(); ++j)
            CHECK(std::fabs(system.centsOfDegree(unwrapped[j]) - tonic - s.pitches[j - 1].cents) <= 1e-6);
        CHECK(std::fabs(s.periodCents() - system.periodCents()) <= 1e-9);
        CHECK(s.family == system.family);
        // The library agrees, and its mode rebuilds the same pitches.
        const Mode mode = loadCatalogueMode(kCatalogue, e.id);
        const Scale rebuilt = mode.toScale();
        REQUIRE(rebuilt.noteCount() == s.noteCount());
        for (int i = 0; i < s.noteCount(); ++i)
            CHECK(std::fabs(rebuilt.pitches[static_cast<std::size_t>(i)].cents - s.pitches[static_cast<std::size_t>(i)].cents) <= 1e-6);
    }
    CHECK(modes >= 30);
    CHECK(systems.size() >= 9);
}

TEST_CASE("Pythagorean 12 is the chain of pure fifths from D flat to F sharp", "[catalogue]") {
    const Scale s = load("pythagorean-12");
    REQUIRE(s.noteCount() == 12);
    std::vector<double> expected;
    for (int k = -5; k <= 6; ++k) {  // 3^k folded into one octave
        double c = std::fmod(k * cents(3.0), 1200.0);
        if (c < 0) c += 1200.0;
        expected.push_back(c);
    }
    std::sort(expected.begin(), expected.end());
    const auto got = degreeCents(s);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).margin(1e-9));
    // Every ratio is 3^k / 2^m.
    for (const auto& p : s.pitches) {
        const auto [n, d] = ratioOf(p);
        CHECK(without(without(n, 2), 3) == 1);
        CHECK(without(without(d, 2), 3) == 1);
    }
}

TEST_CASE("Quarter-comma meantone has fifths of 5 to the quarter and a pure major third", "[catalogue]") {
    const Scale s = load("meantone-quarter-comma");
    REQUIRE(s.noteCount() == 12);
    const double fifth = cents(5.0) / 4.0;
    CHECK(s.centsOfDegree(7) == Approx(fifth).margin(1e-6));               // G
    CHECK(s.centsOfDegree(4) == Approx(cents(5.0 / 4.0)).margin(1e-6));    // E: four fifths = 5/4
    CHECK(s.centsOfDegree(2) == Approx(2 * fifth - 1200.0).margin(1e-6));  // D: the mean tone
    CHECK(s.centsOfDegree(3) == Approx(2400.0 - 3 * fifth).margin(1e-6));  // E flat
    CHECK(s.centsOfDegree(8) == Approx(8 * fifth - 4800.0).margin(1e-6));  // G sharp
    CHECK(s.periodCents() == Approx(1200.0).margin(1e-12));
}

TEST_CASE("The 22 shrutis are the 5-limit ratios with comma pairs", "[catalogue]") {
    const Scale s = load("shruti-22");
    REQUIRE(s.noteCount() == 22);
    const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected{
        {256, 243}, {16, 15}, {10, 9},   {9, 8}, {32, 27}, {6, 5},   {5, 4},  {81, 64}, {4, 3},  {27, 20},   {45, 32},
        {729, 512}, {3, 2},   {128, 81}, {8, 5}, {5, 3},   {27, 16}, {16, 9}, {9, 5},   {15, 8}, {243, 128}, {2, 1}};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO("shruti " << i + 1);
        const auto [n, d] = ratioOf(s.pitches[i]);
        CHECK(n * expected[i].second == d * expected[i].first);
        CHECK(s.pitches[i].cents == Approx(cents(expected[i].first, expected[i].second)).margin(1e-9));
    }
    // The ten variable svaras come in pairs one syntonic comma (81/80) apart.
    const double comma = cents(81, 80);
    for (int lower : {1, 3, 5, 7, 9, 11, 14, 16, 18, 20})
        CHECK(s.centsOfDegree(lower + 1) - s.centsOfDegree(lower) == Approx(comma).margin(1e-9));
    // The ragas are drawn from it, with sargam names and Sa first.
    for (const char* raga : {"raga-yaman", "raga-bhairav", "raga-todi", "raga-kafi"}) {
        INFO(raga);
        const Scale r = load(raga);
        CHECK(r.system == "shruti-22");
        CHECK(r.noteCount() == 7);
        CHECK(r.noteNames.front() == "Sa");
        CHECK(r.centsOfDegree(4) == Approx(cents(1.5)).margin(1e-9));  // every one of these has Pa
    }
}

TEST_CASE("The 12 lu follow sanfen sunyi and leave a Pythagorean comma at the octave", "[catalogue]") {
    const Scale s = load("chinese-12-lu");
    REQUIRE(s.noteCount() == 12);
    // Pipe length x 2/3 then x 4/3 in turn (pitch x 3/2, x 3/4), with the double upward step
    // from ruibin (the 7th lü generated) to dalü.
    const std::vector<double> steps{1.5, 0.75, 1.5, 0.75, 1.5, 0.75, 0.75, 1.5, 0.75, 1.5, 0.75};
    std::vector<double> chain{1.0};
    for (double st : steps) chain.push_back(chain.back() * st);
    std::vector<double> expected;
    for (double r : chain) {
        CHECK(r >= 1.0);
        CHECK(r < 2.0);
        expected.push_back(cents(r));
    }
    std::sort(expected.begin(), expected.end());
    const auto got = degreeCents(s);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).margin(1e-9));
    // One more fifth from zhonglü overshoots the octave by the comma 531441/524288 (23.46 c).
    const double next = cents(chain.back() * 1.5);
    CHECK(next - 1200.0 == Approx(cents(531441, 524288)).margin(1e-9));
    CHECK(next - 1200.0 == Approx(23.46).margin(0.01));
    CHECK(s.periodCents() == Approx(1200.0).margin(1e-12));
    for (const auto& p : s.pitches) {
        const auto [n, d] = ratioOf(p);
        CHECK(without(without(n, 2), 3) == 1);
        CHECK(without(without(d, 2), 3) == 1);
    }
}

TEST_CASE("Bohlen-Pierce divides the 3 to 1 twelfth into 13 steps", "[catalogue]") {
    const Scale equal = load("bohlen-pierce-equal");
    REQUIRE(equal.noteCount() == 13);
    const double tritave = cents(3.0);
    CHECK(tritave == Approx(1901.955).margin(0.001));
    CHECK(equal.periodCents() == Approx(tritave).margin(1e-9));
    for (int k = 1; k <= 13; ++k) CHECK(equal.centsOfDegree(k) == Approx(k * tritave / 13.0).margin(1e-6));
    CHECK(equal.centsOfDegree(1) == Approx(146.304).margin(0.001));

    const Scale just = load("bohlen-pierce-just");
    REQUIRE(just.noteCount() == 13);
    CHECK(just.periodCents() == Approx(tritave).margin(1e-9));
    for (int k = 0; k < 13; ++k) {
        const auto [n, d] = ratioOf(just.pitches[static_cast<std::size_t>(k)]);
        // Odd ratios of 3, 5 and 7 only, each within 20 cents of the equal step.
        CHECK(n % 2 == 1);
        CHECK(d % 2 == 1);
        CHECK(without(without(without(n, 3), 5), 7) == 1);
        CHECK(without(without(without(d, 3), 5), 7) == 1);
        CHECK(std::fabs(just.centsOfDegree(k + 1) - (k + 1) * tritave / 13.0) < 20.0);
    }
}

TEST_CASE("Partch 43 has 43 sorted symmetric 11-limit ratios", "[catalogue]") {
    const Scale s = load("partch-43");
    REQUIRE(s.noteCount() == 43);
    std::set<std::pair<std::uint64_t, std::uint64_t>> ratios;
    double previous = 0.0;
    for (const auto& p : s.pitches) {
        const auto [n, d] = ratioOf(p);
        CHECK(std::gcd(n, d) == 1);
        CHECK(without(without(without(without(without(n, 2), 3), 5), 7), 11) == 1);
        CHECK(without(without(without(without(without(d, 2), 3), 5), 7), 11) == 1);
        CHECK(p.cents > previous);
        previous = p.cents;
        ratios.insert({n, d});
    }
    CHECK(ratios.count({2, 1}) == 1);
    // Symmetric about 1/1: the octave complement 2d/n of every interval is in the scale.
    for (const auto& [n, d] : ratios) {
        if (n == 2 && d == 1) continue;
        std::uint64_t cn = 2 * d, cd = n;
        const std::uint64_t g = std::gcd(cn, cd);
        INFO(n << "/" << d);
        CHECK(ratios.count({cn / g, cd / g}) == 1);
    }
    CHECK(s.noteNames.front() == "1/1");
}

TEST_CASE("The AEU system sits on whole Holdrian commas nearest its Pythagorean ratios", "[catalogue]") {
    const Scale s = load("turkish-aeu-24");
    REQUIRE(s.noteCount() == 24);
    const double comma = 1200.0 / 53.0;
    // The AEU pitches: 11 fifths up and 12 down from Rast, folded into the octave.
    std::vector<double> pythagorean;
    for (int k = -12; k <= 11; ++k) {
        double c = std::fmod(k * cents(3.0), 1200.0);
        if (c < 0) c += 1200.0;
        pythagorean.push_back(c);
    }
    std::sort(pythagorean.begin(), pythagorean.end());
    const auto got = degreeCents(s);
    REQUIRE(got.size() == pythagorean.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double commas = got[i] / comma;
        CHECK(commas == Approx(std::round(commas)).margin(1e-6));         // whole commas
        CHECK(std::round(commas) == std::round(pythagorean[i] / comma));  // the nearest ones
    }
    CHECK(s.centsOfDegree(4) == Approx(9 * comma).margin(1e-6));  // Dügâh: a 9-comma whole tone
    CHECK(s.noteNames[0] == "Rast");
}

TEST_CASE("Measured gamelan keep their measured octaves and tone-1 frequencies", "[catalogue]") {
    struct Measured {
        const char* id;
        std::vector<double> hz;
    };
    const std::vector<Measured> sets{
        {"slendro-kanyut-mesem", {288, 333, 382, 439, 503, 582}},
        {"pelog-kanyut-mesem", {295, 320, 347, 406, 440, 470, 519, 598}},
        {"slendro-madukentir", {259, 297, 339, 393, 452, 522}},
        {"pelog-kancilbelik", {295, 317, 342, 399, 434, 465, 507, 593}},
    };
    for (const auto& m : sets) {
        INFO(m.id);
        const Scale s = load(m.id);
        REQUIRE(s.noteCount() + 1 == static_cast<int>(m.hz.size()));
        for (std::size_t i = 1; i < m.hz.size(); ++i) CHECK(s.pitches[i - 1].cents == Approx(cents(m.hz[i] / m.hz[0])).margin(0.001));
        CHECK(s.periodCents() > 1200.0);  // stretched, as measured
        CHECK(s.kind == SourceKind::Measured);
        REQUIRE(s.referencePitch.has_value());
        CHECK(s.referencePitch->frequency == Approx(m.hz[0]));
        // Played through the default map: tone 1 on key 60 at the measured frequency, and the
        // next period's tone 1 at the measured octave.
        const Tuning t(s);
        CHECK(t.frequencyOfKey(60) == Approx(m.hz[0]).epsilon(1e-9));
        CHECK(t.frequencyOfKey(60 + s.noteCount()) == Approx(m.hz[0] * std::exp2(s.periodCents() / 1200.0)).epsilon(1e-9));
    }
}

TEST_CASE("Balinese paired tuning carries an ombak of 5 to 7 Hz", "[catalogue]") {
    for (const char* id : {"bali-saih-pitu-tampak-gangsai", "bali-selisir-tampak-gangsai"}) {
        INFO(id);
        const Scale s = load(id);
        REQUIRE(s.ombakHz.has_value());
        CHECK(*s.ombakHz >= 5.0);
        CHECK(*s.ombakHz <= 7.0);
    }
    // McPhee's Tampak Gangsai frequencies, 1/1 = 310 Hz.
    const Scale s = load("bali-saih-pitu-tampak-gangsai");
    const std::vector<double> hz{310, 337, 365, 425, 457, 485};
    for (std::size_t i = 1; i < hz.size(); ++i)
        CHECK(s.centsOfDegree(static_cast<long long>(i)) == Approx(cents(hz[i] / 310.0)).margin(0.001));
}

TEST_CASE("Equal and idealised entries have the steps their definitions give", "[catalogue]") {
    const Scale tet = load("12-tet");
    REQUIRE(tet.noteCount() == 12);
    for (int k = 0; k <= 12; ++k) CHECK(tet.centsOfDegree(k) == Approx(100.0 * k).margin(1e-9));
    const Tuning t(tet);
    CHECK(t.frequencyOfKey(69) == Approx(440.0).epsilon(1e-12));
    CHECK(t.frequencyOfKey(60) == Approx(440.0 * std::exp2(-9.0 / 12.0)).epsilon(1e-12));

    const Scale thai = load("thai-7edo");
    REQUIRE(thai.noteCount() == 7);
    for (int k = 0; k <= 7; ++k) CHECK(thai.centsOfDegree(k) == Approx(1200.0 * k / 7.0).margin(1e-5));
    CHECK(thai.kind == SourceKind::Approximation);
    const Scale gong = load("thai-khong-wong-yai-garzoli");
    CHECK(gong.periodCents() == Approx(1218.0).margin(1e-9));

    const Scale alpha = load("carlos-alpha");
    REQUIRE(alpha.noteCount() == 1);
    CHECK(alpha.periodCents() == Approx(78.0).margin(1e-12));
    CHECK(alpha.centsOfDegree(9) == Approx(702.0).margin(1e-9));  // nine steps: a near-3/2

    const Scale q = load("arabic-24edo");
    REQUIRE(q.noteCount() == 24);
    for (int k = 0; k <= 24; ++k) CHECK(q.centsOfDegree(k) == Approx(50.0 * k).margin(1e-9));
}

TEST_CASE("Arabic maqamat exist as notation and as just reading", "[catalogue]") {
    for (const char* maqam : {"rast", "bayati", "hijaz", "saba", "sikah", "nahawand", "kurd"}) {
        INFO(maqam);
        const Scale edo = load(std::string("maqam-") + maqam + "-24edo");
        const Scale just = load(std::string("maqam-") + maqam + "-just");
        CHECK(edo.kind == SourceKind::Approximation);
        CHECK(just.kind == SourceKind::Theoretical);
        CHECK(edo.system == "arabic-24edo");
        CHECK(just.system == "arabic-just-gamut");
        REQUIRE(edo.noteCount() == just.noteCount());
        // Same scale, two intonations: every degree within 40 cents of its notated position.
        for (int k = 1; k < edo.noteCount(); ++k) CHECK(std::fabs(edo.centsOfDegree(k) - just.centsOfDegree(k)) < 40.0);
        for (const auto& p : just.pitches) CHECK(p.kind == Pitch::Kind::Ratio);
    }
    // Rast's neutral third in the just reading is al-Farabi's 27/22.
    CHECK(load("maqam-rast-just").centsOfDegree(2) == Approx(cents(27, 22)).margin(1e-9));
}
