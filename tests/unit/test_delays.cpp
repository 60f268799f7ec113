// Tests for modules/delays.cpp: delay timing to the sample, interpolation, glides, polyphony,
// memory lifecycle; stereodelay timing (knob and clock), feedback, ping-pong, tone filter, glides.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "core/module/registry.hpp"
#include "core/util/aligned_buffer.hpp"
#include "tests/support/measure.hpp"
#include "tests/support/module_harness.hpp"
#include "tests/support/rt_guard.hpp"
#include "tests/support/signals.hpp"
#include "tests/unit/module_bench.hpp"

namespace {

using kabel::test::constantSignal;
using kabel::test::impulseSignal;
using kabel::test::ModuleHarness;
using kabel::test::noiseSignal;
using kabel::test::Signal;
using kabel::test::sineSignal;

constexpr double kFs = 48000.0;

bool allFinite(std::span<const float> x) {
    for (float v : x)
        if (!std::isfinite(v)) return false;
    return true;
}

/// Indices and values of the non-zero samples.
std::vector<std::pair<int, float>> nonZero(const std::vector<float>& x) {
    std::vector<std::pair<int, float>> r;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (x[i] != 0.0f) r.emplace_back(static_cast<int>(i), x[i]);
    return r;
}

/// Drives a module by hand with changing channel counts (the harness fixes them at build time).
class ManualRig {
public:
    explicit ManualRig(std::string_view type, int frames = 64) : frames_(frames), stride_(kabel::alignedStride(frames)) {
        module_ = kabel::Registry::global().find(type)->create();
        module_->prepare(kFs, frames);
        zeros_ = kabel::AlignedFloats(static_cast<std::size_t>(stride_));
        for (auto& b : in_) b = kabel::AlignedFloats(static_cast<std::size_t>(kabel::kMaxChannels * stride_));
        out_ = kabel::AlignedFloats(static_cast<std::size_t>(kabel::kMaxChannels * stride_));
    }
    kabel::Module& module() { return *module_; }
    /// Input 0 carries `channels` channels, filled by value(channel, frame in block).
    template <class F>
    const float* run(int channels, F value) {
        for (int c = 0; c < channels; ++c)
            for (int n = 0; n < frames_; ++n) in_[0][static_cast<std::size_t>(c * stride_ + n)] = value(c, n);
        for (int i = 0; i < kabel::kMaxChannels * stride_; ++i) out_[static_cast<std::size_t>(i)] = 12345.0f;  // garbage
        kabel::InputPort ports[2];
        for (int i = 0; i < 2; ++i) {
            ports[i].data = in_[i].data();
            ports[i].zeros = zeros_.data();
            ports[i].stride = stride_;
            ports[i].channels = i == 0 ? channels : 1;
            ports[i].connected = i == 0;
        }
        kabel::OutputPort out{out_.data(), channels, stride_};
        kabel::HostBuffers host;
        kabel::ProcessContext ctx;
        ctx.frames = frames_;
        ctx.in = std::span<const kabel::InputPort>(ports, 2);
        ctx.out = std::span<const kabel::OutputPort>(&out, 1);
        ctx.host = &host;
        module_->run(ctx);
        return out_.data();
    }
    int stride() const { return stride_; }

private:
    std::unique_ptr<kabel::Module> module_;
    int frames_, stride_;
    kabel::AlignedFloats zeros_, out_;
    kabel::AlignedFloats in_[2];
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// delay

TEST_CASE("delay: an integer delay is sample-exact and each repeat is scaled by feedback", "[delays]") {
    SECTION("480 samples, feedback 0.5, wet only") {
        ModuleHarness h("delay", kFs);
        h.setParam("time", 0.01f);
        h.setParam("feedback", 0.5f);
        h.setParam("dry", 0.0f);
        h.setParam("wet", 1.0f);
        h.connect("in", impulseSignal(2000));
        const auto hits = nonZero(h.run(2000)[0][0]);
        REQUIRE(hits.size() == 4);
        CHECK(hits[0] == std::pair<int, float>{480, 1.0f});
        CHECK(hits[1] == std::pair<int, float>{960, 0.5f});
        CHECK(hits[2] == std::pair<int, float>{1440, 0.25f});
        CHECK(hits[3] == std::pair<int, float>{1920, 0.125f});
    }
    SECTION("benchmark W3's setting: 375 ms, feedback 0.6, dry 1, wet 1 gives x + d") {
        ModuleHarness h("delay", kFs);
        h.setParam("time", 0.375f);
        h.setParam("feedback", 0.6f);
        h.setParam("wet", 1.0f);
        h.connect("in", impulseSignal(60000));
        const auto hits = nonZero(h.run(60000)[0][0]);
        REQUIRE(hits.size() == 4);
        CHECK(hits[0] == std::pair<int, float>{0, 1.0f});
        CHECK(hits[1] == std::pair<int, float>{18000, 1.0f});
        CHECK(hits[2] == std::pair<int, float>{36000, 0.6f});
        CHECK(hits[3] == std::pair<int, float>{54000, 0.6f * 0.6f});
    }
    SECTION("a delay shorter than the block (1 ms = 48 samples, 64-frame blocks)") {
        ModuleHarness h("delay", kFs);
        h.setParam("time", 0.001f);
        h.setParam("feedback", 0.5f);
        h.setParam("dry", 0.0f);
        h.setParam("wet", 1.0f);
        h.connect("in", impulseSignal(300, 5));
        const auto hits = nonZero(h.run(300)[0][0]);
        REQUIRE(hits.size() == 6);
        for (int k = 0; k < 6; ++k) {
            CHECK(hits[k].first == 5 + 48 * (k + 1));
            CHECK(hits[k].second == std::ldexp(1.0f, -k));
        }
    }
    SECTION("feedback 1 repeats forever, at full level") {
        ModuleHarness h("delay", kFs);
        h.setParam("time", 0.005f);
        h.setParam("feedback", 1.0f);
        h.setParam("dry", 0.0f);
        h.setParam("wet", 1.0f);
        h.connect("in", impulseSignal(48000));
        const auto hits = nonZero(h.run(48000)[0][0]);
        REQUIRE(hits.size() == 199);
        for (const auto& [n, v] : hits) {
            CHECK(n % 240 == 0);
            CHECK(v == 1.0f);
        }
    }
}

TEST_CASE("delay: exact for any block size, up to the 10 s maximum", "[delays]") {
    SECTION("blocks of 1, 37 and 256 frames") {
        for (int block : {1, 37, 256}) {
            for (float time : {0.001f, 0.01f}) {
                ModuleHarness h("delay", kFs, block);
                h.setParam("time", time);
                h.setParam("feedback", 0.5f);
                h.setParam("dry", 0.0f);
                h.setParam("wet", 1.0f);
                h.connect("in", impulseSignal(2000, 3));
                const auto hits = nonZero(h.run(2000)[0][0]);
                const int d = static_cast<int>(std::lround(time * kFs));
                INFO("block " << block << ", delay " << d);
                REQUIRE(hits.size() == static_cast<std::size_t>((2000 - 3 - 1) / d));
                for (std::size_t k = 0; k < hits.size(); ++k) {
                    CHECK(hits[k].first == 3 + d * static_cast<int>(k + 1));
                    CHECK(hits[k].second == std::ldexp(1.0f, -static_cast<int>(k)));
                }
            }
        }
    }
    SECTION("10 s, and time input beyond the range is clamped to it") {
        const int frames = 480100;
        ModuleHarness h("delay", kFs);
        h.setParam("time", 10.0f);
        h.setParam("dry", 0.0f);
        h.setParam("wet", 1.0f);
        h.connect("in", impulseSignal(frames));
        h.connect("time", constantSignal(5.0f, frames));
        const auto hits = nonZero(h.run(frames)[0][0]);
        REQUIRE(hits.size() == 1);
        CHECK(hits[0] == std::pair<int, float>{480000, 1.0f});
    }
}

TEST_CASE("delay: fractional delays are interpolated", "[delays]") {
    const int frames = 9600;
    const double delaySamples = 100.37;
    const double actual = double(static_cast<float>(delaySamples / kFs)) * kFs;  // the float param
    for (double hz : {100.0, 1000.0, 5000.0}) {
        ModuleHarness run("delay", kFs);
        run.setParam("time", static_cast<float>(delaySamples / kFs));
        run.setParam("feedback", 0.0f);
        run.setParam("dry", 0.0f);
        run.setParam("wet", 1.0f);
        run.connect("in", sineSignal(hz, frames));
        const auto y = run.run(frames)[0][0];
        double err = 0.0;
        for (int n = 200; n < frames; ++n)
            err = std::max(err, std::fabs(y[n] - std::sin(2.0 * std::numbers::pi * hz * (n - actual) / kFs)));
        INFO(hz << " Hz: max error against the exactly delayed sine " << err);
        // Cubic Hermite: ~1e-6 at 100 Hz, ~1e-4 at 1 kHz, ~1e-2 at 5 kHz (its high-frequency droop)
        CHECK(err < (hz < 500 ? 1e-5 : hz < 2000 ? 2e-4 : 2e-2));
    }
}

TEST_CASE("delay: time changes glide like tape, without clicks", "[delays]") {
    const int frames = 96000;
    ModuleHarness h("delay", kFs);
    h.setParam("time", 0.3f);
    h.setParam("feedback", 0.0f);
    h.setParam("dry", 0.0f);
    h.setParam("wet", 1.0f);
    const auto x = sineSignal(200.0, frames);
    h.connect("in", x);
    const auto before = h.run(48000)[0][0];
    h.setParam("time", 0.2f);
    const auto after = h.run(48000)[0][0];
    const float own = kabel::test::maxStep(std::span<const float>(before).last(9600));
    const float glide = kabel::test::maxStep(after);
    INFO("max step of the 200 Hz sine " << own << ", while the time glides 0.3 -> 0.2 s " << glide);
    // Reading faster bends the pitch up (~3x at the fastest), steps grow with it; a click would be
    // a jump between unrelated phases, up to 2.
    CHECK(glide < 4.0f * own);
    REQUIRE(allFinite(after));
    // Settled again (the 50 ms glide is within float precision after ~0.7 s): exactly the input
    // 0.2 s ago.
    float settledError = 0.0f;
    for (int n = 36000; n < 48000; ++n) settledError = std::max(settledError, std::fabs(after[n] - x[48000 + n - 9600]));
    CHECK(settledError == 0.0f);
}

TEST_CASE("delay: dry and wet jumps glide", "[delays]") {
    // A 440 Hz sine and a 50 ms delay: the echo is in phase with the input (22 periods), so a
    // dry/wet crossfade keeps the level, and any step above the sine's own would be a click.
    // (A hard switch between two unrelated phases would step by up to the full amplitude.)
    ModuleHarness h("delay", kFs);
    h.setParam("time", 0.05f);
    h.setParam("feedback", 0.0f);
    h.setParam("dry", 1.0f);
    h.setParam("wet", 0.0f);
    h.connect("in", sineSignal(440.0, 96000, 0.5));
    const auto before = h.run(48000)[0][0];
    h.setParam("dry", 0.0f);
    h.setParam("wet", 1.0f);
    const auto after = h.run(48000)[0][0];
    const float own = kabel::test::maxStep(before);
    const float jump = kabel::test::maxStep(std::span<const float>(after).first(4800));
    INFO("max step of the sine " << own << ", while dry and wet swap " << jump);
    CHECK(jump <= 1.01f * own);
    CHECK(kabel::test::peak(std::span<const float>(after).last(4800)) == Approx(0.5).margin(1e-4));
}

TEST_CASE("delay: the time input adds seconds, per channel", "[delays]") {
    const int frames = 2000;
    Signal in, cv;
    for (int c = 0; c < 4; ++c) {
        in.push_back(impulseSignal(frames, 10 * c));
        cv.push_back(constantSignal(0.001f * static_cast<float>(c), frames));
    }
    ModuleHarness h("delay", kFs);
    h.setParam("time", 0.01f);
    h.setParam("feedback", 0.0f);
    h.setParam("dry", 0.0f);
    h.setParam("wet", 1.0f);
    h.connect("in", in);
    h.connect("time", cv);
    const auto out = h.run(frames);
    REQUIRE(h.outputChannels(0) == 4);
    for (int c = 0; c < 4; ++c) {
        const auto hits = nonZero(out[0][c]);
        REQUIRE(hits.size() == 1);
        CHECK(hits[0].first == 10 * c + 480 + 48 * c);
        CHECK(hits[0].second == Approx(1.0f).margin(1e-6));
    }
}

TEST_CASE("delay: memory lifecycle", "[delays]") {
    SECTION("a channel without a line outputs silence") {
        ManualRig rig("delay");
        // No prepareChannels(): no lines.
        const float* y = rig.run(2, [](int, int n) { return n == 0 ? 1.0f : 0.5f; });
        for (int c = 0; c < 2; ++c)
            for (int n = 0; n < 64; ++n) REQUIRE(y[c * rig.stride() + n] == 0.0f);
    }
    SECTION("a channel that comes back does not replay its old audio") {
        ManualRig rig("delay");
        const int two[] = {2, 1};
        const int outTwo[] = {2};
        rig.module().prepareChannels(two, outTwo);
        rig.module().setParam(2, 0.0f);   // dry
        rig.module().setParam(3, 1.0f);   // wet
        rig.module().setParam(0, 0.01f);  // 480 samples
        // Loud audio on both channels for 2 blocks, then channel 1 stops existing for 3 blocks.
        for (int b = 0; b < 2; ++b) rig.run(2, [](int, int) { return 1.0f; });
        for (int b = 0; b < 3; ++b) rig.run(1, [](int, int) { return 0.0f; });
        // Channel 1 is back with silence in: its line still holds the old blocks 480 samples back.
        float loudest = 0.0f;
        for (int b = 0; b < 10; ++b) {
            const float* y = rig.run(2, [](int, int) { return 0.0f; });
            for (int n = 0; n < 64; ++n) loudest = std::max(loudest, std::fabs(y[rig.stride() + n]));
        }
        CHECK(loudest == 0.0f);
    }
    SECTION("reset() forgets the line") {
        ModuleHarness h("delay", kFs);
        h.setParam("time", 0.01f);
        auto x = constantSignal(0.5f, 4800);
        std::fill(x.begin() + 1000, x.end(), 0.0f);
        h.connect("in", x);
        h.run(1000);
        h.module().requestReset();
        CHECK(kabel::test::peak(h.run(3800)[0][0]) == 0.0f);
    }
}

TEST_CASE("delay: process() neither allocates nor locks", "[delays]") {
    if (!kabel::test::kRtGuardActive) return;  // sanitizer builds own malloc
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    kabel::test::ModuleBench settled("delay", 64, kFs, 8), modulated("delay", 64, kFs, 8);
    settled.connect("in", 16, osc);
    modulated.connect("in", 2, osc);
    modulated.connect("time", 2, [](int, long n) { return 0.001f * static_cast<float>(n % 7); });
    for (auto* b : {&settled, &modulated}) b->build();
    kabel::test::RtGuard guard;
    for (int i = 0; i < 400; ++i) {  // past the 375 ms of history the settled path needs
        if (i == 300) settled.setParam("time", 0.2f);
        if (i == 350) settled.module().requestReset();
        for (auto* b : {&settled, &modulated}) b->step();
    }
    CHECK(guard.counts().allocations == 0);
    CHECK(guard.counts().locks == 0);
}

// ---------------------------------------------------------------------------------------------
// stereodelay

namespace {

/// A clock: rising edges at the given frames, each high for `width` frames.
std::vector<float> clockSignal(int frames, const std::vector<long>& edges, int width = 100) {
    std::vector<float> x(static_cast<std::size_t>(frames), 0.0f);
    for (long e : edges)
        for (long n = e; n < std::min<long>(e + width, frames); ++n) x[static_cast<std::size_t>(n)] = 1.0f;
    return x;
}

/// Edges every `period` frames from frame 0.
std::vector<long> steadyEdges(int frames, long period) {
    std::vector<long> e;
    for (long n = 0; n < frames; n += period) e.push_back(n);
    return e;
}

/// Sets up a stereodelay, wet only.
void setUp(ModuleHarness& h, float time, float feedback, bool pingPong = false, float offset = 0.0f) {
    h.setParam("time", time);
    h.setParam("feedback", feedback);
    h.setParam("pingpong", pingPong ? 1.0f : 0.0f);
    h.setParam("offset", offset);
    h.setParam("dry", 0.0f);
    h.setParam("wet", 1.0f);
}

}  // namespace

TEST_CASE("stereodelay: integer times are sample-exact and feedback decays exactly", "[delays]") {
    SECTION("480 and 720 samples (offset 0.5), feedback 0.5, Right unpatched copies Left") {
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.01f, 0.5f, false, 0.5f);
        h.connect("left", impulseSignal(3000));
        const auto out = h.run(3000);
        const auto l = nonZero(out[0][0]), r = nonZero(out[1][0]);
        REQUIRE(l.size() == 6);
        REQUIRE(r.size() == 4);
        for (int k = 0; k < 6; ++k) CHECK(l[k] == std::pair<int, float>{480 * (k + 1), std::ldexp(1.0f, -k)});
        for (int k = 0; k < 4; ++k) CHECK(r[k] == std::pair<int, float>{720 * (k + 1), std::ldexp(1.0f, -k)});
    }
    SECTION("375 ms, feedback 0.6: each repeat is exactly the previous one x 0.6 (float products)") {
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.375f, 0.6f);
        h.connect("left", impulseSignal(100000));
        h.connect("right", impulseSignal(100000, 7));
        const auto out = h.run(100000);
        const auto l = nonZero(out[0][0]), r = nonZero(out[1][0]);
        REQUIRE(l.size() == 5);
        REQUIRE(r.size() == 5);
        float expected = 1.0f;
        for (int k = 0; k < 5; ++k) {
            CHECK(l[k] == std::pair<int, float>{18000 * (k + 1), expected});
            CHECK(r[k] == std::pair<int, float>{7 + 18000 * (k + 1), expected});
            expected *= 0.6f;
        }
    }
    SECTION("blocks of 1, 37 and 256 frames, a delay shorter than a block") {
        for (int block : {1, 37, 256}) {
            ModuleHarness h("stereodelay", kFs, block);
            h.setParam("time", 0.001f);
            h.setParam("feedback", 0.5f);
            h.setParam("dry", 0.0f);
            h.setParam("wet", 1.0f);
            h.connect("left", impulseSignal(400, 3));
            const auto l = nonZero(h.run(400)[0][0]);
            INFO("block " << block);
            REQUIRE(l.size() == 8);
            for (int k = 0; k < 8; ++k) CHECK(l[k] == std::pair<int, float>{3 + 48 * (k + 1), std::ldexp(1.0f, -k)});
        }
    }
}

TEST_CASE("stereodelay: a clock sets the time to its period x the division, exact to the sample", "[delays]") {
    // 120 BPM at 48 kHz: a beat is 24000 frames. The time glides from the knob's to the clock's
    // after the second edge; by 3 s it has landed, exactly.
    struct Case {
        const char* division;
        int index;
        long frames;  // 24000 x the note value
    };
    const Case cases[] = {{"1/32", 0, 3000},   {"1/16T", 1, 4000},  {"1/16", 3, 6000},    {"1/8T", 4, 8000},
                          {"1/16D", 5, 9000},  {"1/8", 6, 12000},   {"1/8D", 8, 18000},   {"1/4", 9, 24000},
                          {"1/4D", 11, 36000}, {"1/1T", 13, 64000}, {"1 bar", 15, 96000}, {"2 bars", 17, 192000}};
    for (const Case& c : cases) {
        const int at = 150000;
        const int frames = at + static_cast<int>(c.frames) + 100;
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.1f, 0.0f);
        h.setParam("division", static_cast<float>(c.index));
        h.setParam("offset", 0.25f);
        h.connect("left", impulseSignal(frames, at));
        h.connect("clock", clockSignal(frames, steadyEdges(frames, 24000)));
        const auto out = h.run(frames);
        const auto l = nonZero(std::vector<float>(out[0][0].begin() + at, out[0][0].end()));
        INFO(c.division << ": expected " << c.frames << " frames");
        REQUIRE(l.size() == 1);
        CHECK(l[0] == std::pair<int, float>{static_cast<int>(c.frames), 1.0f});
        // The right side: x 1.25, also whole here.
        const auto r = nonZero(std::vector<float>(out[1][0].begin() + at, out[1][0].end()));
        if (c.frames * 5 / 4 + at < frames) {
            REQUIRE(r.size() == 1);
            CHECK(r[0] == std::pair<int, float>{static_cast<int>(c.frames * 5 / 4), 1.0f});
        }
    }
}

TEST_CASE("stereodelay: a clock with a fractional period is measured as its mean", "[delays]") {
    // Periods alternate 24000 and 24001 frames (a clock at 119.9975 BPM): the mean, 24000.5, x 8
    // beats (2 bars) is 192004 frames exactly.
    const int at = 300000;
    const int frames = at + 192004 + 100;
    std::vector<long> edges;
    for (long n = 0, k = 0; n < frames; n += 24000 + (k++ % 2)) edges.push_back(n);
    ModuleHarness h("stereodelay", kFs);
    setUp(h, 0.1f, 0.0f);
    h.setParam("division", 17.0f);
    h.connect("left", impulseSignal(frames, at));
    h.connect("clock", clockSignal(frames, edges));
    const auto out = h.run(frames);
    const auto l = nonZero(std::vector<float>(out[0][0].begin() + at, out[0][0].end()));
    REQUIRE(l.size() == 1);
    CHECK(l[0] == std::pair<int, float>{192004, 1.0f});
}

TEST_CASE("stereodelay: ping-pong alternates the sides with the feedback's gains", "[delays]") {
    SECTION("a mono source bounces left, right, left ... at 1, fb, fb^2 ...") {
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.005f, 0.5f, true);
        h.connect("left", impulseSignal(2000));
        const auto out = h.run(2000);
        const auto l = nonZero(out[0][0]), r = nonZero(out[1][0]);
        REQUIRE(l.size() == 4);
        REQUIRE(r.size() == 4);
        for (int k = 0; k < 4; ++k) {
            CHECK(l[k] == std::pair<int, float>{240 * (2 * k + 1), std::ldexp(1.0f, -2 * k)});
            CHECK(r[k] == std::pair<int, float>{240 * (2 * k + 2), std::ldexp(1.0f, -2 * k - 1)});
        }
    }
    SECTION("with an offset, the bounces take the left and the right time in turn") {
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.005f, 0.5f, true, 0.5f);  // 240 and 360 frames
        h.connect("left", impulseSignal(2500));
        const auto out = h.run(2500);
        const auto l = nonZero(out[0][0]), r = nonZero(out[1][0]);
        REQUIRE(l.size() == 4);
        REQUIRE(r.size() == 4);
        for (int k = 0; k < 4; ++k) {
            CHECK(l[k] == std::pair<int, float>{240 + 600 * k, std::ldexp(1.0f, -2 * k)});
            CHECK(r[k] == std::pair<int, float>{600 * (k + 1), std::ldexp(1.0f, -2 * k - 1)});
        }
    }
    SECTION("a right input starts on the right") {
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.005f, 0.5f, true);
        h.connect("left", constantSignal(0.0f, 1000));
        h.connect("right", impulseSignal(1000));
        const auto out = h.run(1000);
        const auto l = nonZero(out[0][0]), r = nonZero(out[1][0]);
        REQUIRE(l.size() == 2);
        REQUIRE(r.size() == 2);
        CHECK(r[0] == std::pair<int, float>{240, 1.0f});
        CHECK(l[0] == std::pair<int, float>{480, 0.5f});
        CHECK(r[1] == std::pair<int, float>{720, 0.25f});
        CHECK(l[1] == std::pair<int, float>{960, 0.125f});
    }
}

TEST_CASE("stereodelay: the tone filter lowpasses every repeat at its corner", "[delays]") {
    // Repeat 2 is feedback x the loop filter's impulse response. Its spectrum against the
    // first-order prototype (bilinear, corner prewarped, g stretched by 1/(1 - (fc/20k)^4)).
    const int T = 2400;
    for (float tone : {500.0f, 1000.0f, 4000.0f}) {
        ModuleHarness h("stereodelay", kFs);
        setUp(h, static_cast<float>(T / kFs), 0.5f);
        h.setParam("tone", tone);
        h.connect("left", impulseSignal(3 * T));
        const auto y = h.run(3 * T)[0][0];
        const double t = std::tan(std::numbers::pi * tone / kFs);
        const double g = t / (1.0 - std::pow(tone / 20000.0, 4.0));
        for (double f : {100.0, double(tone), 3.0 * tone, 8000.0}) {
            std::complex<double> sum = 0.0;
            for (int n = 0; n < T; ++n) sum += double(y[2 * T + n]) * std::polar(1.0, -2.0 * std::numbers::pi * f * n / kFs);
            const double measured = 20.0 * std::log10(std::abs(sum) / 0.5);
            const double w = std::tan(std::numbers::pi * f / kFs);
            const double expected = -10.0 * std::log10(1.0 + (w / g) * (w / g));
            INFO("tone " << tone << " Hz, at " << f << " Hz: " << measured << " dB, expected " << expected << " dB");
            CHECK(measured == Approx(expected).margin(0.01));
        }
        if (tone == 1000.0f) {
            std::complex<double> sum = 0.0;
            for (int n = 0; n < T; ++n) sum += double(y[2 * T + n]) * std::polar(1.0, -2.0 * std::numbers::pi * 1000.0 * n / kFs);
            CHECK(20.0 * std::log10(std::abs(sum) / 0.5) == Approx(-3.0103).margin(0.01));  // -3 dB at the corner
        }
    }
    SECTION("20 kHz is no filter: repeats stay exact") {
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.005f, 0.5f);
        h.setParam("tone", 20000.0f);
        h.connect("left", impulseSignal(1000));
        const auto l = nonZero(h.run(1000)[0][0]);
        REQUIRE(l.size() == 4);
        CHECK(l[3] == std::pair<int, float>{960, 0.125f});
    }
}

TEST_CASE("stereodelay: time changes glide without clicks", "[delays]") {
    const auto x = sineSignal(200.0, 240000);
    SECTION("the knob") {
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.3f, 0.0f);
        h.connect("left", x);
        const auto before = h.run(48000);
        h.setParam("time", 0.2f);
        const auto after = h.run(48000);
        const float own = kabel::test::maxStep(std::span<const float>(before[0][0]).last(9600));
        for (int side = 0; side < 2; ++side) {
            const float glide = kabel::test::maxStep(after[side][0]);
            INFO("side " << side << ": max step " << glide << ", the sine's own " << own);
            CHECK(glide < 4.0f * own);
        }
    }
    SECTION("the clock's tempo, 120 -> 90 BPM, and the division") {
        std::vector<long> edges;
        for (long n = 0; n < 240000; n += n < 96000 ? 24000 : 32000) edges.push_back(n);
        ModuleHarness h("stereodelay", kFs);
        setUp(h, 0.3f, 0.5f);
        h.setParam("division", 6.0f);  // 1/8
        h.connect("left", x);
        h.connect("clock", clockSignal(240000, edges));
        const auto before = h.run(96000);
        const auto after = h.run(96000);
        h.setParam("division", 8.0f);  // 1/8D
        const auto later = h.run(48000);
        const float own = kabel::test::maxStep(std::span<const float>(before[0][0]).last(24000));
        const float tempo = kabel::test::maxStep(after[0][0]), division = kabel::test::maxStep(later[0][0]);
        INFO("max step: settled " << own << ", tempo change " << tempo << ", division change " << division);
        CHECK(tempo < 3.0f * own);
        CHECK(division < 3.0f * own);
        // Landed: 90 BPM, an eighth = 16000 frames, dotted 24000: the echoes of the sine repeat it.
        const auto settled = std::span<const float>(later[0][0]).last(4800);
        CHECK(allFinite(settled));
    }
}

TEST_CASE("stereodelay: process() neither allocates nor locks", "[delays]") {
    if (!kabel::test::kRtGuardActive) return;
    auto osc = [](int c, long n) { return static_cast<float>(std::sin(0.01 * n + c)); };
    kabel::test::ModuleBench settled("stereodelay", 64, kFs, 8), modulated("stereodelay", 64, kFs, 8);
    settled.connect("left", 16, osc);
    settled.connect("clock", 1, [](int, long n) { return (n % 6000) < 100 ? 1.0f : 0.0f; });
    modulated.connect("left", 2, osc);
    modulated.connect("right", 2, osc);
    modulated.connect("time", 2, [](int, long n) { return 0.001f * static_cast<float>(n % 7); });
    modulated.setParam("tone", 2000.0f);
    modulated.setParam("pingpong", 1.0f);
    for (auto* b : {&settled, &modulated}) b->build();
    kabel::test::RtGuard guard;
    for (int i = 0; i < 600; ++i) {
        if (i == 300) settled.setParam("division", 3.0f);
        if (i == 400) settled.setParam("tone", 800.0f);
        if (i == 450) settled.module().requestReset();
        for (auto* b : {&settled, &modulated}) b->step();
    }
    CHECK(guard.counts().allocations == 0);
    CHECK(guard.counts().locks == 0);
}

// ---------------------------------------------------------------------------------------------
// benchmarks

namespace {

float benchNoise(int c, long n) {
    std::uint32_t s = static_cast<std::uint32_t>(n * 747796405u + static_cast<unsigned>(c) * 2891336453u);
    s ^= s >> 15;
    s *= 2246822519u;
    s ^= s >> 13;
    return static_cast<float>(s) / 2147483648.0f - 1.0f;
}

}  // namespace

TEST_CASE("delays micro-benchmark", "[.bench]") {
    for (int channels : {1, 16}) {
        {
            kabel::test::ModuleBench b("delay");
            b.setParam("feedback", 0.6f);
            b.setParam("wet", 1.0f);
            b.connect("in", channels, benchNoise);
            b.nsPerSample(channels == 1 ? "delay 375 ms settled (W3), mono" : "delay 375 ms settled, 16 ch");
        }
        {
            kabel::test::ModuleBench b("delay");
            b.setParam("time", 0.0123f);
            b.connect("in", channels, benchNoise);
            b.nsPerSample(channels == 1 ? "delay fractional settled, mono" : "delay fractional settled, 16 ch");
        }
        {
            kabel::test::ModuleBench b("delay");
            b.setParam("time", 0.01f);
            b.connect("in", channels, benchNoise);
            b.connect("time", channels, [](int c, long n) { return static_cast<float>(0.002 * std::sin(0.0005 * n + c)); });
            b.nsPerSample(channels == 1 ? "delay modulated (chorus), mono" : "delay modulated (chorus), 16 ch");
        }
    }
}

TEST_CASE("stereodelay micro-benchmark", "[.bench]") {
    for (int channels : {1, 16}) {
        const char* suffix = channels == 1 ? ", mono" : ", 16 ch";
        auto label = [&](const char* what) { return std::string("stereodelay ") + what + suffix; };
        {
            kabel::test::ModuleBench b("stereodelay");
            b.setParam("feedback", 0.6f);
            b.connect("left", channels, benchNoise);
            b.connect("right", channels, [](int c, long n) { return benchNoise(c + 50, n); });
            b.nsPerSample(label("375 ms settled").c_str());
        }
        {
            kabel::test::ModuleBench b("stereodelay");
            b.setParam("feedback", 0.6f);
            b.setParam("pingpong", 1.0f);
            b.setParam("tone", 3000.0f);
            b.setParam("offset", 0.13f);
            b.connect("left", channels, benchNoise);
            b.nsPerSample(label("ping-pong + tone, fractional").c_str());
        }
        {
            kabel::test::ModuleBench b("stereodelay");
            b.setParam("time", 0.01f);
            b.connect("left", channels, benchNoise);
            b.connect("time", channels, [](int c, long n) { return static_cast<float>(0.002 * std::sin(0.0005 * n + c)); });
            b.nsPerSample(label("modulated (chorus)").c_str());
        }
    }
}
