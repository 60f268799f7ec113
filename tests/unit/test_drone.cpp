// Tests for modules/drone.cpp: the tanpura-like drone. String frequencies are measured by FFT and
// compared with the tuning's, computed here from the ratios (shruti-22's Pa = 3/2, the just
// fallbacks 4/3 and 15/8, 12-TET's 700 and 1100 cents); decay and brightness are measured.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/module/module.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::ModuleHarness;
using Json = nlohmann::json;

constexpr double kFs = 48000.0;
constexpr double kC3 = 130.8127826502993;  // 440 * 2^(-21/12)
constexpr int kWindow = 1 << 18;           // 5.46 s: 0.18 Hz bins

double cents(double a, double b) {
    return 1200.0 * std::log2(a / b);
}

struct Stereo {
    std::vector<float> left, right;
    std::vector<float> mono() const {
        std::vector<float> m(left.size());
        for (std::size_t i = 0; i < m.size(); ++i) m[i] = left[i] + right[i];
        return m;
    }
};

Stereo render(const Json& state, const std::vector<std::pair<const char*, float>>& params, double seconds) {
    ModuleHarness h("drone", kFs);
    for (const auto& [id, value] : params) h.setParam(id, value);
    h.loadState(state.is_null() ? std::string() : state.dump());
    REQUIRE(h.module().status().empty());
    const auto o = h.run(static_cast<int>(seconds * kFs));
    return {o[0][0], o[1][0]};
}

std::vector<float> slice(const std::vector<float>& x, double fromSeconds, std::size_t length) {
    const auto from = static_cast<std::size_t>(fromSeconds * kFs);
    REQUIRE(from + length <= x.size());
    return std::vector<float>(x.begin() + static_cast<long>(from), x.begin() + static_cast<long>(from + length));
}

// The strongest peak within 15 cents of `hz`.
double peakNear(const kabel::test::Spectrum& s, double hz) {
    return s.peakFrequency(hz * std::pow(2.0, -15.0 / 1200.0), hz * std::pow(2.0, 15.0 / 1200.0));
}

// One string plucked alone: string `index` of a custom set, the others silent.
Json alone(const std::string& scale, int index, const Json& string) {
    Json strings = Json::array({nullptr, nullptr, nullptr, nullptr});
    strings[static_cast<std::size_t>(index)] = string;
    Json state{{"strings", strings}};
    if (!scale.empty()) state["scale"] = scale;
    return state;
}

// Power-weighted mean frequency of the spectrum between 20 Hz and 12 kHz.
double centroid(const std::vector<float>& x) {
    const kabel::test::Spectrum s = kabel::test::spectrum(x, kFs);
    double num = 0.0, den = 0.0;
    for (std::size_t k = 1; k < s.db.size(); ++k) {
        const double f = static_cast<double>(k) * s.binHz;
        if (f < 20.0 || f > 12000.0) continue;
        const double p = std::pow(10.0, s.db[k] / 10.0);
        num += f * p;
        den += p;
    }
    return num / den;
}

}  // namespace

TEST_CASE("each drone string sounds within a cent of its tuning's frequency", "[drone]") {
    const double sa = 146.8323839587038;  // D3 in 12-TET, the Sa
    SECTION("raga Yaman on the 22 shrutis, one string at a time") {
        struct Case {
            const char* what;
            Json string;
            double hz;
        };
        const std::vector<Case> cases{
            {"lower Pa (3/2 below the octave)", {{"degree", "Pa"}, {"octave", -1}}, sa * 1.5 / 2.0},
            {"middle Sa", {{"degree", 0}}, sa},
            {"Ga (5/4)", {{"degree", 2}}, sa * 5.0 / 4.0},
            {"low Sa", {{"degree", "Sa"}, {"octave", -1}}, sa / 2.0},
            {"high Ni (15/8, an octave up)", {{"degree", "Ni"}, {"octave", 1}}, sa * 15.0 / 4.0},
        };
        for (const Case& c : cases) {
            INFO(c.what);
            const Stereo out =
                render(alone("raga-yaman", 0, c.string), {{"tonic", static_cast<float>(sa)}, {"pattern", 3.0f}, {"tempo", 30.0f}}, 6.0);
            const double f = peakNear(kabel::test::spectrum(slice(out.mono(), 0.3, kWindow), kFs), c.hz);
            INFO("measured " << f << " Hz, want " << c.hz << " Hz");
            CHECK(std::fabs(cents(f, c.hz)) < 1.0);
        }
    }
    SECTION("the four patterns, all strings at once") {
        struct Case {
            const char* what;
            const char* scale;
            float pattern;
            double first;  // the first string's frequency; the others are Sa, Sa and Sa / 2
        };
        const std::vector<Case> cases{
            {"12-TET Pa: the mode's own 700 cents, not 3/2", "", 0.0f, kC3 * std::pow(2.0, 700.0 / 1200.0) / 2.0},
            {"12-TET Ni: the mode's 1100 cents", "", 2.0f, kC3 * std::pow(2.0, 1100.0 / 1200.0) / 2.0},
            {"Yaman Pa: 3/2", "raga-yaman", 0.0f, kC3 * 3.0 / 4.0},
            {"Yaman Ma: Yaman has only Ma sharp, so 4/3", "raga-yaman", 1.0f, kC3 * 4.0 / 3.0 / 2.0},
            {"Kafi Ni: Kafi has only Ni flat, so 15/8", "raga-kafi", 2.0f, kC3 * 15.0 / 8.0 / 2.0},
            {"Bhairav Ni: the mode's 15/8", "raga-bhairav", 2.0f, kC3 * 15.0 / 16.0},
        };
        for (const Case& c : cases) {
            INFO(c.what);
            const Json state = *c.scale ? Json{{"scale", c.scale}} : Json();
            const Stereo out = render(state, {{"tonic", static_cast<float>(kC3)}, {"pattern", c.pattern}, {"tempo", 20.0f}}, 12.1 + 5.5);
            // After the fourth pluck (12 s) every string rings, and none is plucked again before 20 s.
            const kabel::test::Spectrum s = kabel::test::spectrum(slice(out.mono(), 12.1, kWindow), kFs);
            for (double hz : {c.first, kC3, kC3 / 2.0}) {
                const double f = peakNear(s, hz);
                INFO("measured " << f << " Hz, want " << hz << " Hz");
                CHECK(std::fabs(cents(f, hz)) < 1.0);
            }
        }
    }
}

TEST_CASE("a drone string's fundamental decays by 60 dB in the decay time", "[drone]") {
    for (float decay : {2.0f, 6.0f}) {
        INFO("decay " << decay << " s");
        const Stereo out = render(
            alone("", 0, {{"degree", 0}}),
            {{"tonic", static_cast<float>(kC3)}, {"pattern", 3.0f}, {"tempo", 30.0f}, {"decay", decay}, {"jivari", 0.0f}}, 0.4 + decay);
        const std::vector<float> x = out.mono();
        const double t1 = 0.3, t2 = 0.3 + 0.75 * decay;
        const auto window = static_cast<std::size_t>(0.2 * kFs);
        const double a1 = kabel::test::toneAmplitude(slice(x, t1, window), kFs, kC3);
        const double a2 = kabel::test::toneAmplitude(slice(x, t2, window), kFs, kC3);
        const double dbPerSecond = 20.0 * std::log10(a1 / a2) / (t2 - t1);
        const double t60 = 60.0 / dbPerSecond;
        INFO("measured T60 " << t60 << " s");
        CHECK(t60 == Approx(decay).epsilon(0.10));
    }
}

TEST_CASE("jivari raises the spectral centroid", "[drone]") {
    const Json sa = alone("", 0, {{"degree", 0}});
    const auto brightness = [&](float jivari) {
        const Stereo out = render(sa, {{"tonic", static_cast<float>(kC3)}, {"pattern", 3.0f}, {"tempo", 30.0f}, {"jivari", jivari}}, 1.6);
        return centroid(slice(out.mono(), 0.1, 1 << 16));
    };
    const double plain = brightness(0.0f), some = brightness(0.5f), full = brightness(1.0f);
    INFO("centroid: plain " << plain << " Hz, jivari 0.5 " << some << " Hz, jivari 1 " << full << " Hz");
    CHECK(some > 1.15 * plain);
    CHECK(full > 1.5 * plain);
    CHECK(full > some);
}

TEST_CASE("the drone plucks its strings in the cycle, spread in stereo", "[drone]") {
    const float tempo = 2.0f;
    for (int s = 0; s < 4; ++s) {
        INFO("string " << s);
        const Stereo out = render(alone("", s, {{"degree", 0}}), {{"pattern", 3.0f}, {"tempo", tempo}}, 2.0 * tempo);
        const std::vector<float> x = out.mono();
        const auto first = std::find_if(x.begin(), x.end(), [](float v) { return v != 0.0f; }) - x.begin();
        // Plucks at 0, 1/5, 2/5 and 3/5 of the cycle.
        CHECK(first == std::lround(0.2 * s * tempo * kFs));
        // Pa (string 1) sits left of centre, the low Sa (string 4) right.
        const double l = kabel::test::rms(out.left), r = kabel::test::rms(out.right);
        if (s == 0) CHECK(l > 1.5 * r);
        if (s == 3) CHECK(r > 1.5 * l);
    }
    // Run low: silence; its rising edge starts the cycle with the first string.
    ModuleHarness h("drone", kFs);
    std::vector<float> run(48000, 0.0f);
    std::fill(run.begin() + 24000, run.end(), 1.0f);
    h.connect("run", run);
    const auto o = h.run(48000);
    CHECK(kabel::test::peak(std::span<const float>(o[0][0].data(), 24000)) == 0.0f);
    CHECK(o[0][0][24000] != 0.0f);
}

TEST_CASE("the drone stays bounded with the strongest jivari and the longest decay", "[drone]") {
    for (float tonic : {30.0f, 130.0f, 1000.0f}) {
        INFO("tonic " << tonic);
        const Stereo out = render(Json{{"scale", "bohlen-pierce-just"}},
                                  {{"tonic", tonic}, {"jivari", 1.0f}, {"decay", 30.0f}, {"tempo", 1.0f}, {"level", 2.0f}}, 8.0);
        bool finite = true;
        for (float v : out.left) finite = finite && std::isfinite(v);
        CHECK(finite);
        CHECK(kabel::test::peak(out.left) < 4.0f);
        CHECK(kabel::test::rms(out.left) > 0.01);
        CHECK(std::fabs(kabel::test::mean(out.left)) < 0.01);  // centred: the DC blocker holds the strings on the bridge
    }
}

TEST_CASE("the drone's state is read strictly and a bad degree is reported", "[drone]") {
    ModuleHarness h("drone", kFs);
    for (const char* bad :
         {R"({"strings": [null, null, null]})", R"({"strings": [{"degree": -1}, null, null, null]})",
          R"({"strings": [{"octave": 1}, null, null, null]})", R"({"strings": [{"degree": 0, "octave": 9}, null, null, null]})",
          R"({"strings": [{"degree": 0, "pitch": 1}, null, null, null]})", R"({"scale": "raga-yaman", "kbm": "x.kbm"})",
          R"({"tanpura": 1})"}) {
        INFO(bad);
        CHECK_THROWS_AS(h.loadState(bad), std::invalid_argument);
    }
    h.loadState(R"({"scale": "raga-yaman", "strings": [{"degree": "Ma"}, null, null, null]})");
    CHECK(h.module().status().find("raga-yaman has no degree named 'Ma'") != std::string::npos);
    CHECK(h.module().status().find("Ma♯") != std::string::npos);  // the names it does have
    h.loadState(R"({"scale": "raga-yaman", "strings": [{"degree": 9}, null, null, null]})");
    CHECK(h.module().status().find("degree 9") != std::string::npos);
    h.loadState(R"({"scale": "raga-yaman", "strings": [{"degree": "Ma♯"}, null, null, null]})");
    CHECK(h.module().status().empty());
}

TEST_CASE("the drone swaps tunings while playing without allocating or locking", "[drone][realtime]") {
    if (!kabel::test::kRtGuardActive) return;
    kabel::test::ModuleBench bench("drone", 64, kFs, 100);
    bench.build();
    const std::vector<std::string> ids{"raga-yaman", "raga-kafi", "slendro-madukentir", "maqam-rast-just"};
    long allocations = 0, locks = 0;
    for (int round = 0; round < 30; ++round) {
        bench.setParam("pattern", float(round % 4));
        bench.setParam("tonic", 100.0f + 7.0f * float(round));
        bench.setParam("tempo", 1.0f + float(round % 3));
        bench.setParam("jivari", float(round % 5) / 4.0f);
        if (round % 3 == 1) {
            Json state{{"scale", ids[static_cast<std::size_t>(round) % ids.size()]}};
            if (round % 2) state["strings"] = Json::array({Json{{"degree", 1}}, nullptr, Json{{"degree", 0}, {"octave", -2}}, nullptr});
            bench.module().loadState(state, kabel::LoadContext{});
            bench.module().idle();
        }
        kabel::test::RtGuard guard;
        for (int b = 0; b < 80; ++b) bench.step();
        allocations += guard.counts().allocations;
        locks += guard.counts().locks;
    }
    CHECK(bench.module().status().empty());
    CHECK(allocations == 0);
    CHECK(locks == 0);
}

TEST_CASE("drone micro-benchmark", "[.bench]") {
    for (float jivari : {0.0f, 0.7f}) {
        kabel::test::ModuleBench b("drone", 64);
        b.setParam("jivari", jivari);
        b.setParam("tempo", 1.0f);
        b.nsPerSample(jivari > 0.0f ? "drone, 4 strings, jivari 0.7" : "drone, 4 strings, no jivari");
    }
}
