// core/dsp/peak.hpp: the output stage's block screening, against plain loops.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "core/dsp/peak.hpp"

using kabel::dsp::allFinite;
using kabel::dsp::peakAbs;

TEST_CASE("peakAbs is the largest magnitude at every position and length, NaN ignored", "[dsp]") {
    for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 64u, 100u}) {
        for (std::size_t at = 0; at < n; ++at) {
            std::vector<float> x(n, 0.25f);
            x[at] = -0.75f;
            CHECK(peakAbs(x.data(), n) == 0.75f);
            x[(at + 1) % n] = std::numeric_limits<float>::quiet_NaN();
            if (n > 1) CHECK(peakAbs(x.data(), n) == 0.75f);
        }
    }
    std::vector<float> inf(20, 0.0f);
    inf[19] = -std::numeric_limits<float>::infinity();
    CHECK(std::isinf(peakAbs(inf.data(), inf.size())));
}

TEST_CASE("allFinite finds one NaN or Inf anywhere in a block", "[dsp]") {
    for (std::size_t n : {1u, 15u, 16u, 17u, 64u}) {
        std::vector<float> x(n, 1e30f);
        CHECK(allFinite(x.data(), n));
        for (std::size_t at = 0; at < n; ++at) {
            for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity()}) {
                std::vector<float> y = x;
                y[at] = bad;
                CHECK_FALSE(allFinite(y.data(), n));
            }
        }
    }
}
