#!/bin/bash
# End to end: audio input. jack_metro (a real JACK client) beeps 1 kHz into kabel:in_0; `kabel play`
# runs a patch that sends `in` straight to `out`; jack_capture records the metronome itself and
# kabel:out_0/out_1 in the same cycles.
#   PASS needs: kabel's left output equals the metronome delayed by a constant D frames (max
#   difference < 1e-6 over the whole take, with beeps in it), D = 64 (one engine block: the input
#   of a block reaches the patch with the next one; JACK runs metro -> kabel -> jack_capture in
#   one cycle), the right output silent (its input is the dummy driver's silent capture), and a
#   clean exit.
KABEL=${1:?usage: audio_input.sh KABEL PATCH}
PATCH=${2:?usage: audio_input.sh KABEL PATCH}
source "$(dirname "$0")/lib.sh"

need jackd jackd2; need jack_metro jackd2; need jack_connect jackd2; need jack_capture jack-capture; need sox sox; need python3 python3
[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
lock_jack
start_jackd 256

"$KABEL" play "$PATCH" --seconds 40 >"$WORK/kabel.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel.log" '^playing ' 10 "$KABEL_PID" || fail "kabel did not print its 'playing' line within 10 s"
grep -q '^audio input: 2 channels' "$WORK/kabel.log" || fail "kabel did not open 2 input channels for a patch with an 'in' module"

jack_metro -n metro -f 1000 -A 0.5 -D 100 -b 240 >"$WORK/metro.log" 2>&1 9<&- &
METRO_PID=$!
PIDS+=("$METRO_PID")
sleep 0.5
kill -0 "$METRO_PID" 2>/dev/null || fail "jack_metro exited"
jack_connect metro:240_bpm kabel:in_0 9<&- || fail "jack_connect metro:240_bpm kabel:in_0 failed"

record 2 "$WORK/rec.wav" metro:240_bpm kabel:out_0 kabel:out_1

stop_pid "$METRO_PID"; forget "$METRO_PID"
stop_kabel "$KABEL_PID" 5
stop_all
LEFT=$(shm_leftovers)

MEASURED=$(sox "$WORK/rec.wav" -t raw -e floating-point -b 32 - 2>"$WORK/sox.log" | python3 -c '
import array, sys
data = array.array("f")
data.frombytes(sys.stdin.buffer.read())
metro, left, right = data[0::3], data[1::3], data[2::3]
n = len(metro)
loud = sum(1 for v in metro if abs(v) > 0.1)
if loud < 1000:
    print("error: the metronome was silent in the take (%d loud samples)" % loud); sys.exit()
best = None
for d in range(0, 2049):  # the delay that makes left match metro best
    err = max(abs(left[i] - metro[i - d]) for i in range(2048 + d, n, 7))
    if best is None or err < best[1]:
        best = (d, err)
d = best[0]
exact = max(abs(left[i] - metro[i - d]) for i in range(d, n))
print("%d %.3g %.3g %d %d" % (d, exact, max(abs(v) for v in right), loud, n))
')
read -r DELAY MAXDIFF RIGHT_PEAK LOUD FRAMES <<<"$MEASURED"
[ "$DELAY" = "error:" ] && fail "analysis: $MEASURED"
[ -n "${FRAMES:-}" ] || fail "analysis failed: $MEASURED $(cat "$WORK/sox.log")"
NUMBERS="input_to_output_delay=${DELAY} frames max_difference=$MAXDIFF right_peak=$RIGHT_PEAK loud_samples=$LOUD frames=$FRAMES"
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
PROBLEMS=""
[ "$DELAY" -eq 64 ] || PROBLEMS+=" delay"
within "$MAXDIFF" 0 0.000001 || PROBLEMS+=" not-identical"
within "$RIGHT_PEAK" 0 0.000001 || PROBLEMS+=" right-not-silent"
[ -z "$LEFT" ] || PROBLEMS+=" left-in-/dev/shm:$LEFT"
[ -z "$PROBLEMS" ] || fail "$NUMBERS; wrong:$PROBLEMS"
echo "PASS $E2E_NAME: $NUMBERS total=$(since "$E2E_T0")s"
