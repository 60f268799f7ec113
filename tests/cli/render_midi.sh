#!/bin/bash
# `kabel render PATCH --midi FILE`: a Standard MIDI File we write here (one A4 from 0.5 s to 1.5 s)
# drives midi -> tuner (12-TET: identity) -> sine -> vca; the WAV is silent before the note, at
# 440 Hz during it (zero crossings) and silent again after the release.
set -euo pipefail
kabel="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

python3 - "$dir" <<'PY'
import json, struct, sys
d = sys.argv[1]
def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, (n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out)
# 480 ticks per quarter, 120 BPM (default tempo): 960 ticks per second.
track = vlq(480) + bytes([0x90, 69, 100]) + vlq(960) + bytes([0x80, 69, 0]) + vlq(0) + bytes([0xFF, 0x2F, 0])
smf = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track
open(f"{d}/a4.mid", "wb").write(smf)
patch = {"format": "kabel-patch", "version": 1,
         "modules": [{"id": "keys", "type": "midi", "params": {"voices": 1}},
                     {"id": "tune", "type": "tuner"},
                     {"id": "osc", "type": "sine"},
                     {"id": "amp", "type": "vca"},
                     {"id": "out", "type": "out", "params": {"level": 0.5}}],
         "cables": [{"from": "keys.pitch", "to": "tune.pitch"}, {"from": "tune.out", "to": "osc.pitch"},
                    {"from": "osc.out", "to": "amp.in"}, {"from": "keys.gate", "to": "amp.cv"},
                    {"from": "amp.out", "to": "out.left"}]}
json.dump(patch, open(f"{d}/a4.kabel", "w"))
PY
"$kabel" render "$dir/a4.kabel" --midi "$dir/a4.mid" -o "$dir/a4.wav" --seconds 2 --format s16
python3 - "$dir/a4.wav" <<'PY'
import sys, wave, struct
w = wave.open(sys.argv[1])
rate, n = w.getframerate(), w.getnframes()
frames = struct.unpack("<%dh" % (n * w.getnchannels()), w.readframes(n))
left = frames[0::w.getnchannels()]
on, off = int(0.5 * rate), int(1.5 * rate)
assert max(abs(x) for x in left[:on]) == 0, "sound before the note-on"
assert max(abs(x) for x in left[off:]) == 0, "sound after the note-off"
seg = left[on + 480:off - 480]
crossings = [i for i in range(1, len(seg)) if seg[i - 1] < 0 <= seg[i]]
hz = (len(crossings) - 1) * rate / (crossings[-1] - crossings[0])
assert abs(hz - 440.0) < 0.5, f"pitch {hz:.3f} Hz, expected 440"
first = next(i for i, x in enumerate(left) if x != 0)
assert first == on, f"first sound at frame {first}, note-on at {on}"
print(f"render --midi: note at frame {first}, {hz:.3f} Hz")
PY
