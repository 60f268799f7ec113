// Reading gate and trigger inputs by runs instead of frame by frame.
#pragma once

#include "core/module/module.hpp"

namespace kabel {

/// First frame in [from, to) whose gate state (x >= 0.5) differs from `high`, else `to`. A
/// vectorised count first: a gate that holds its state for the whole range (most blocks) costs
/// one branch-free pass; only a range with a change is searched frame by frame.
inline int gateChangeAt(const InputPort& port, const float* x, int from, int to, bool high) noexcept {
    if (!port.connected) return (port.constant >= 0.5f) != high ? from : to;
    int count = 0;
    for (int n = from; n < to; ++n) count += x[n] >= 0.5f ? 1 : 0;
    if (count == (high ? to - from : 0)) return to;
    for (int n = from; n < to; ++n)
        if ((x[n] >= 0.5f) != high) return n;
    return to;
}

}  // namespace kabel
