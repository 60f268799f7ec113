// Decibels to gain for parameters that change rarely.
#pragma once

#include <cmath>

namespace kabel::dsp {

/// Decibels to a gain factor, cached while the value does not change (std::pow off the hot path).
class DbGain {
public:
    float operator()(float db) noexcept {
        if (db != db_) {
            db_ = db;
            gain_ = std::pow(10.0f, db / 20.0f);
        }
        return gain_;
    }

private:
    float db_ = 0.0f;
    float gain_ = 1.0f;
};

}  // namespace kabel::dsp
