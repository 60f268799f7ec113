// The numbers behind the editor's live views (gui/model/live_views.hpp): scope trigger and
// thinning, spectrum columns on a log-frequency axis, the tuning circle, and the tuning a tuner
// module plays as the views see it (checked against the tuner itself).
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dsp/spectrum_analyzer.hpp"
#include "gui/model/live_views.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/temp_dir.hpp"

using namespace kabel;
using namespace kabel::editor;

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kC4 = 261.6255653005986;

std::vector<float> sine(int n, double cycles, double phase = 0.0) {
    std::vector<float> s(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) s[static_cast<std::size_t>(i)] = static_cast<float>(std::sin(2.0 * kPi * cycles * i / n + phase));
    return s;
}

}  // namespace

TEST_CASE("scope sweeps start at the newest rising crossing that leaves a whole window", "[editor][views]") {
    // 1000 samples of 10 cycles (100 samples per cycle) starting at -90 degrees: rising zero
    // crossings between 25 and 26, 125 and 126, ...
    const std::vector<float> s = sine(1000, 10.0, -kPi / 2);
    SECTION("trigger on itself at 0") {
        const int start = scopeStart(s, 1000, 200, 0.0f);
        CHECK(start == 726);  // 926 would leave only 74 samples
        CHECK(s[725] < 0.0f);
        CHECK(s[726] >= 0.0f);
    }
    SECTION("a level moves the crossing later on the rise") {
        const int start = scopeStart(s, 1000, 200, 0.5f);
        CHECK(start == 734);  // 0.5 is 30 degrees (8.3 samples) past the zero at 725
        CHECK(s[733] < 0.5f);
        CHECK(s[734] >= 0.5f);
    }
    SECTION("no crossing or free run: the newest window") {
        CHECK(scopeStart(s, 1000, 200, 2.0f) == 800);
        CHECK(scopeStart({}, 1000, 200, 0.0f) == 800);
    }
    SECTION("fewer samples than the window") {
        CHECK(scopeStart(s, 100, 200, 0.0f) == 0);
    }
}

TEST_CASE("scope thinning keeps each column's extremes", "[editor][views]") {
    std::vector<float> s(1000, 0.0f);
    s[10] = 0.9f;  // 100 columns of 10 samples: both in column 1 (samples 10..19)
    s[15] = -0.7f;
    s[999] = 0.25f;
    const auto cols = thinColumns(s, 100);
    REQUIRE(cols.size() == 100);
    CHECK(cols[0].min == 0.0f);
    CHECK(cols[0].max == 0.0f);
    CHECK(cols[1].min == -0.7f);
    CHECK(cols[1].max == 0.9f);
    CHECK(cols[99].max == 0.25f);
    SECTION("fewer samples than columns: every column shows a sample") {
        const std::vector<float> few{1.0f, 2.0f, 3.0f};
        const auto c = thinColumns(few, 6);
        REQUIRE(c.size() == 6);
        CHECK(c[0].max == 1.0f);
        CHECK(c[2].max == 2.0f);
        CHECK(c[5].max == 3.0f);
    }
    CHECK(thinColumns({}, 10).empty());
}

TEST_CASE("spectrum columns on a log-frequency axis find a sine's peak", "[editor][views]") {
    CHECK(logFrequencyPosition(20.0, 20.0, 20000.0) == 0.0f);
    CHECK(logFrequencyPosition(20000.0, 20.0, 20000.0) == 1.0f);
    CHECK(logFrequencyPosition(632.4555320336759, 20.0, 20000.0) == Approx(0.5).margin(1e-6));
    CHECK(logFrequencyPosition(5.0, 20.0, 20000.0) == 0.0f);
    CHECK(levelPosition(0.0f) == 1.0f);
    CHECK(levelPosition(-45.0f) == 0.5f);
    CHECK(levelPosition(-200.0f) == 0.0f);
    CHECK(spectrumSize(0) == 1024);
    CHECK(spectrumSize(2) == 4096);
    CHECK(spectrumSize(9) == 16384);

    // A 1 kHz sine at half scale (-6 dB) through the real analyzer, 300 columns from 20 Hz to 20 kHz.
    const int size = 4096;
    const double rate = 48000.0;
    std::vector<float> x(static_cast<std::size_t>(size));
    for (int i = 0; i < size; ++i) x[static_cast<std::size_t>(i)] = 0.5f * static_cast<float>(std::sin(2.0 * kPi * 1000.0 * i / rate));
    SpectrumAnalyzer analyzer(size);
    const std::vector<float>& db = analyzer.analyze(x.data());
    const auto cols = spectrumColumns(db, size, rate, 300, 20.0, 20000.0);
    REQUIRE(cols.size() == 300);
    int peak = 0;
    for (int c = 1; c < 300; ++c)
        if (cols[static_cast<std::size_t>(c)] > cols[static_cast<std::size_t>(peak)]) peak = c;
    const int want = static_cast<int>(logFrequencyPosition(1000.0, 20.0, 20000.0) * 300.0f);  // column 169
    CHECK(std::abs(peak - want) <= 1);
    CHECK(cols[static_cast<std::size_t>(peak)] == Approx(-6.02).margin(1.5));  // between bins: scalloping
    CHECK(cols[20] < -90.0f);                                                  // 20 Hz region: far from the sine
    // Low columns are narrower than a bin (11.7 Hz): they interpolate, never repeat a gap value.
    const auto fine = spectrumColumns(db, size, rate, 2000, 20.0, 20000.0);
    REQUIRE(fine.size() == 2000);
    for (float v : fine) CHECK(std::isfinite(v));
}

TEST_CASE("the tuning circle places degrees by cents within the period", "[editor][views]") {
    SECTION("a named maqam") {
        const auto dir = tuning::findCatalogue();
        REQUIRE(dir.has_value());
        const tuning::Scale rast = tuning::loadCatalogueScale(*dir, "maqam-rast-24edo");
        const TuningCircle c = tuningCircle(rast);
        CHECK(c.periodCents == Approx(1200.0).margin(1e-9));
        REQUIRE(c.degrees.size() == 7);
        CHECK(c.degrees[0].cents == 0.0);
        CHECK(c.degrees[0].name == "C");
        CHECK(c.degrees[2].name == "E½♭");
        CHECK(c.degrees[2].cents == Approx(350.0).margin(1e-9));
        CHECK(c.degrees[2].angle == Approx(2.0 * kPi * 350.0 / 1200.0));
        CHECK(c.degrees[2].tetDeviation == Approx(-50.0).margin(1e-9));
        CHECK(c.degrees[6].tetDeviation == Approx(-50.0).margin(1e-9));  // 1050: half-way, rounds up to 1100
        REQUIRE(c.tetAngles.size() == 12);
        CHECK(c.tetAngles[3] == Approx(kPi / 2));
    }
    SECTION("a non-octave period: Bohlen-Pierce's tritave") {
        const tuning::Scale bp = tuning::equalTemperament(13, 1901.955);
        const TuningCircle c = tuningCircle(bp);
        CHECK(c.periodCents == Approx(1901.955));
        CHECK(c.degrees.size() == 13);
        CHECK(c.degrees[1].angle == Approx(2.0 * kPi / 13.0));
        CHECK(c.degrees[1].name.empty());
        CHECK(c.tetAngles.size() == 20);  // 0, 100, ..., 1900
    }
    CHECK(formatCents(386.3137) == "386.3");
    CHECK(formatCents(-0.01) == "0.0");
}

TEST_CASE("the views' tuning of a tuner module plays what the tuner plays", "[editor][views]") {
    kabel::test::TempDir dir;
    dir.write("white7.kbm", "12\n0\n127\n60\n60\n261.6255653\n7\n0\nx\n1\nx\n2\n3\nx\n4\nx\n5\nx\n6\n");
    struct Case {
        const char* state;
        std::map<std::string, double> params;
    };
    const std::vector<Case> cases{
        {"", {}},
        {"", {{"reference", 442.0}, {"tonic", 62.0}}},
        {R"({"scale": "maqam-rast-24edo"})", {{"tonic", 62.0}}},
        {R"({"scale": "maqam-rast-24edo"})", {{"tonic", 62.0}, {"reference", 293.6647679}}},
        {R"({"scale": "maqam-sikah-egypt-abushumays"})", {{"layout", 1.0}}},
        {R"({"scale": "slendro-madukentir"})", {{"tonic", 55.0}}},
        {R"({"scale": "maqam-rast-24edo", "kbm": "white7.kbm"})", {{"tonic", 64.0}}},
    };
    const std::vector<int> keys{36, 48, 55, 59, 60, 61, 62, 64, 67, 69, 71, 72, 83, 96};
    int compared = 0;
    for (const Case& c : cases) {
        ModuleSpec spec{.id = "t", .type = "tuner", .params = c.params, .stateJson = c.state};
        const tuning::Tuning view = tunerTuning(spec, dir.path);

        kabel::test::ModuleHarness h("tuner");
        for (const auto& [id, value] : c.params) h.setParam(id, static_cast<float>(value));
        kabel::test::Signal pitch;
        for (int k : keys) pitch.push_back(std::vector<float>(64, static_cast<float>((k - 60) / 12.0)));
        h.connect("pitch", pitch);
        h.loadState(c.state, dir.path);
        const auto out = h.run(64);
        for (std::size_t i = 0; i < keys.size(); ++i) {
            INFO(c.state << " key " << keys[i]);
            const bool gate = out[2][i].back() >= 0.5f;
            CHECK(view.isMapped(keys[i]) == gate);
            if (!gate) continue;
            CHECK(view.degreeOfKey(keys[i]) == static_cast<int>(out[3][i].back()));
            CHECK(view.frequencyOfKey(keys[i]) == Approx(kC4 * std::exp2(static_cast<double>(out[0][i].back()))).epsilon(1e-5));
            ++compared;
        }
    }
    CHECK(compared > 80);

    SECTION("key strip") {
        ModuleSpec spec{.id = "t", .type = "tuner", .params = {}, .stateJson = R"({"scale": "maqam-rast-24edo", "kbm": "white7.kbm"})"};
        const auto strip = keyStrip(tunerTuning(spec, dir.path), 60, 64);
        REQUIRE(strip.size() == 5);
        CHECK(strip[0].mapped);
        CHECK(strip[0].degree == 0);
        CHECK(strip[0].frequency == Approx(kC4).epsilon(1e-9));
        CHECK_FALSE(strip[1].mapped);
        CHECK(strip[4].degree == 2);
        CHECK(strip[4].frequency == Approx(kC4 * std::exp2(350.0 / 1200.0)).epsilon(1e-9));
    }
    SECTION("a state that names nothing loadable says why") {
        ModuleSpec spec{.id = "t", .type = "tuner", .stateJson = R"({"scale": "no-such-scale"})"};
        CHECK_THROWS_WITH(tunerTuning(spec, dir.path), Catch::Contains("no-such-scale"));
    }
}
