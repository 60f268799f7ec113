#!/bin/bash
# NaN/Inf containment through the real command line: tests/data/patches/runaway-feedback.kabel
# plays a 440 Hz tone on the left while, on the right, a mixer and a VCA feed each other until
# their numbers overflow. `kabel render` must name the module it muted (one of the loop's two),
# the tone must play on untouched (frequency, level, no step larger than its own), the right
# channel must never exceed the output guard's ceiling and must be quiet once the loop is muted.
set -euo pipefail
kabel=${1:?usage: nan_containment.sh KABEL PATCH}
patch=${2:?usage: nan_containment.sh KABEL PATCH}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$kabel" render "$patch" -o "$dir/out.wav" --seconds 2 >"$dir/stdout" 2>"$dir/stderr"
muted=$(grep -c "^warning: module 'loop_\(mix\|vca\)' ([a-z]*): muted at 0\.[0-9]* s: its output was NaN or Inf" "$dir/stderr" || true)
if [ "$muted" -lt 1 ] || grep -q "^warning: module 'tone'" "$dir/stderr"; then
  cat "$dir/stderr" >&2
  echo "FAIL: expected a loop module (and not the tone) to be reported muted" >&2
  exit 1
fi
if grep -q "NaN/Inf samples were replaced" "$dir/stdout"; then
  echo "FAIL: NaN/Inf reached the output stage (the module was not contained)" >&2
  exit 1
fi
at=$(sed -n "s/^warning: module 'loop_[a-z]*' ([a-z]*): muted at \([0-9.]*\) s.*/\1/p" "$dir/stderr" | sort -n | tail -n 1)

python3 - "$dir/out.wav" "$at" <<'PY'
import math, struct, sys
data = open(sys.argv[1], "rb").read()
muted_at = float(sys.argv[2])
assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a WAV file"
pos, fmt, samples = 12, None, None
while pos + 8 <= len(data):  # the chunks: fmt (IEEE float, type 3 or extensible) and data
    tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
    body = data[pos + 8:pos + 8 + size]
    if tag == b"fmt ":
        fmt = struct.unpack("<HHIIHH", body[:16])
    elif tag == b"data":
        samples = struct.unpack("<%df" % (size // 4), body)
    pos += 8 + size + (size & 1)
channels, rate = fmt[1], fmt[2]
assert fmt[5] == 32 and channels == 2, f"expected 2-channel float, got {fmt}"
left, right = samples[0::2], samples[1::2]
assert all(math.isfinite(x) for x in samples), "a NaN or Inf in the file"

# The tone: 440 Hz at the out module's level 0.5, from the first frame to the last.
for n in range(0, len(left), 97):
    expect = 0.5 * math.sin(2 * math.pi * 440 * n / rate)
    assert abs(left[n] - expect) < 1e-3, f"tone off at frame {n}: {left[n]} vs {expect}"
step = max(abs(left[n] - left[n - 1]) for n in range(1, len(left)))
own = 0.5 * 2 * math.pi * 440 / rate
assert step <= own * 1.001, f"tone jumps by {step:.5f}, its own largest step is {own:.5f}"

# The loop: never above the guard's ceiling, quiet from one block after the mute on.
peak = max(abs(x) for x in right)
assert peak <= 1.0, f"right channel peaks at {peak}: the output guard let it through"
after = int(muted_at * rate) + 2 * 64
tail = max(abs(x) for x in right[after:])
assert tail < 0.01, f"the loop still sounds after it was muted: {tail}"
print(f"PASS nan_containment: muted at {muted_at:.3f} s; tone 440 Hz intact (largest step {step:.5f} of {own:.5f}); "
      f"right peak {peak:.3f}, after the mute {tail:.5f}")
PY
