// Tiny modules with exactly predictable output, in a private Registry, for testing the compiler,
// engine and session independently of the real module library.
//
//   tconst  out = value                      (param value; output channels = param channels)
//   tgain   out = in * gain                  (in defaults to 0; channel count follows in)
//   tsum    out = a + b                      (a defaults to 0, b defaults to 1)
//   tcount  out = in + 1                     (in defaults to 0: with a feedback cable to itself it counts blocks)
//   tramp   out = frame index * slope        (a signal with known steps, for discontinuity checks)
//   tsine   out = sin(2 pi freq t)           (double-precision phase)
//   tnan    out = 0.25 for `at` frames after creation or reset, then NaN (Inf with param inf = 1)
//   tout    adds `in` to host channel 0 (and 1); with param nan = 1 it also writes a NaN into
//           host channel 0 itself (for the output guard, behind the per-module containment)
//   tdevice as tout, but a guarded sink (Module::guardedSink), as the real Audio Out is
//   tprobe  records the channel count and first sample of its input (readable from the test)
//   tfile   outputs the number in the text file its state names ({"file": "v.txt"}), loaded in
//           the background (-1 before the first load); a bad file keeps the old value
#pragma once

#include <atomic>

#include "core/module/module.hpp"
#include "core/module/registry.hpp"

namespace kabel::test {

/// A registry holding only the test modules above.
const Registry& testRegistry();

/// Last values seen by a `tprobe` instance (audio thread writes, test reads).
struct ProbeReadings {
    std::atomic<int> channels{0};
    std::atomic<float> first{0.0f};
    std::atomic<long> blocks{0};
};
ProbeReadings& probeReadings(Module& probe);

}  // namespace kabel::test
