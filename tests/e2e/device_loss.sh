#!/bin/bash
# End to end: the JACK server quits under `kabel play` and comes back; Kabel survives and resumes.
#   1. jackd (dummy driver) + `kabel play sine440.kabel`; wait for the "playing" line.
#   2. Stop jackd (SIGTERM) while kabel plays. kabel must say "audio lost at engine frame X",
#      stay alive, and keep retrying ("still waiting" is allowed).
#   3. Start jackd again under the same name. kabel must print "audio is back on ..., resuming at
#      engine frame Y" within 10 s, with Y - X under one second of frames: the engine (and so
#      every module's state) was kept, not rebuilt.
#   4. Record kabel:out_0/out_1 with jack_capture: 440 +- 0.5 Hz, RMS 0.354 +- 0.005 on both.
#   4b. The server's period changes under kabel (jack_bufsize 256 -> 64): the second take must
#      still be 440 Hz at the same RMS, and kabel's status line must show the new buffer size.
#   5. SIGTERM: exit code 0 within 5 s, the summary says "device lost 1 and restored 1 times";
#      nothing of either server left in /dev/shm at the end.
KABEL=${1:?usage: device_loss.sh KABEL PATCH}
PATCH=${2:?usage: device_loss.sh KABEL PATCH}
source "$(dirname "$0")/lib.sh"

need jackd jackd2; need jack_lsp jackd2; need jack_bufsize jackd2; need jack_capture jack-capture; need sox sox; need python3 python3
[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
lock_jack
start_jackd 256
FIRST_JACKD=$JACKD_PID

"$KABEL" play "$PATCH" --seconds 60 >"$WORK/kabel.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel.log" '^playing ' 10 "$KABEL_PID" || fail "kabel did not print its 'playing' line within 10 s"
wait_line "$WORK/kabel.log" 'callbacks [1-9]' 5 "$KABEL_PID" || fail "no status line with callbacks within 5 s"

# 2. The server goes away under the running stream.
T_STOP=$EPOCHREALTIME
stop_pid "$FIRST_JACKD"
forget "$FIRST_JACKD"
wait_line "$WORK/kabel.log" 'audio lost at engine frame' 5 "$KABEL_PID" || fail "kabel did not report the loss within 5 s"
LOST_AFTER=$(since "$T_STOP")
sleep 1.5  # a few reconnection attempts with no server at all
kill -0 "$KABEL_PID" 2>/dev/null || fail "kabel exited after the server quit"
LEFT_BETWEEN=$(shm_leftovers)

# 3. The server returns; kabel (still running) must be stopped before it at the end.
T_START=$EPOCHREALTIME
start_jackd 256
PIDS=("$JACKD_PID" "$KABEL_PID")
wait_line "$WORK/kabel.log" 'audio is back on' 10 "$KABEL_PID" || fail "kabel did not resume within 10 s of the server's return"
BACK_AFTER=$(since "$T_START")

# 4. What it plays now.
sleep 0.3
record 2 "$WORK/out.wav" kabel:out_0 kabel:out_1

# 4b. A period change while playing.
jack_bufsize 64 >"$WORK/bufsize.log" 2>&1 9<&- || fail "jack_bufsize 64 failed: $(cat "$WORK/bufsize.log")"
sleep 0.5
record 1 "$WORK/out64.wav" kabel:out_0 kabel:out_1
sleep 1.1  # one more status line

# 5. Clean stop: kabel first, then the server.
stop_kabel "$KABEL_PID" 5
stop_all
LEFT=$(shm_leftovers)

LOST_FRAME=$(sed -n 's/.*audio lost at engine frame \([0-9]*\).*/\1/p' "$WORK/kabel.log" | head -n 1)
BACK_FRAME=$(sed -n 's/.*resuming at engine frame \([0-9]*\).*/\1/p' "$WORK/kabel.log" | head -n 1)
SUMMARY=$(grep -m1 '^stopped after' "$WORK/kabel.log")
# analyse WAV: "FREQ_L RMS_L FREQ_R RMS_R FRAMES" of a stereo take (median period of rising zero
# crossings, RMS over whole periods), or "error: ...".
analyse() {
  sox "$1" -t raw -e floating-point -b 32 - 2>"$WORK/sox.log" | python3 -c '
import array, math, sys
rate = 48000
data = array.array("f")
data.frombytes(sys.stdin.buffer.read())
out = []
for x in (data[0::2], data[1::2]):
    ups = [i - 1 + x[i - 1] / (x[i - 1] - x[i]) for i in range(1, len(x)) if x[i - 1] < 0.0 <= x[i]]
    if len(ups) < 10:
        print("error: no sine (fewer than 10 zero crossings)"); sys.exit()
    periods = sorted(ups[k] - ups[k - 1] for k in range(1, len(ups)))
    a, b = int(math.ceil(ups[0])), int(ups[-1])
    out += [rate / periods[len(periods) // 2], math.sqrt(sum(v * v for v in x[a:b]) / (b - a))]
print("%.3f %.4f %.3f %.4f %d" % (out[0], out[1], out[2], out[3], len(data) // 2))
'
}
MEASURED=$(analyse "$WORK/out.wav")
read -r FREQ_L RMS_L FREQ_R RMS_R FRAMES <<<"$MEASURED"
[ "$FREQ_L" = "error:" ] && fail "analysis: $MEASURED"
[ -n "${FRAMES:-}" ] || fail "analysis failed: $MEASURED $(cat "$WORK/sox.log")"
MEASURED64=$(analyse "$WORK/out64.wav")
read -r FREQ64_L RMS64_L FREQ64_R RMS64_R FRAMES64 <<<"$MEASURED64"
[ "$FREQ64_L" = "error:" ] && fail "analysis at period 64: $MEASURED64"
BUFFER_AFTER=$(sed -n 's/.* xruns [0-9]*  buffer \([0-9]*\)  callbacks.*/\1/p' "$WORK/kabel.log" | tail -n 1)
NUMBERS="lost_reported_after=${LOST_AFTER}s resumed_after=${BACK_AFTER}s lost_frame=${LOST_FRAME:-?} resumed_frame=${BACK_FRAME:-?}"
NUMBERS+=" freq=$FREQ_L/$FREQ_R Hz rms=$RMS_L/$RMS_R frames=$FRAMES"
NUMBERS+=" after_period_64: freq=$FREQ64_L/$FREQ64_R Hz rms=$RMS64_L/$RMS64_R frames=$FRAMES64 kabel_buffer=${BUFFER_AFTER:-?}"
# Between the two servers the dead clients' semaphores stay (only a server removes them); the
# returning clients reuse them, and the final check below requires that nothing is left.
NUMBERS+=" shm_between_servers=[${LEFT_BETWEEN:-none}]"
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
PROBLEMS=""
[ -n "$LOST_FRAME" ] && [ -n "$BACK_FRAME" ] && within $((BACK_FRAME - LOST_FRAME)) 0 48000 || PROBLEMS+=" engine-state-not-kept"
within "$FREQ_L" 439.5 440.5 && within "$FREQ_R" 439.5 440.5 || PROBLEMS+=" frequency"
within "$RMS_L" 0.349 0.359 && within "$RMS_R" 0.349 0.359 || PROBLEMS+=" rms"
within "$FRAMES" 86400 105600 || PROBLEMS+=" recording-length"
within "$FREQ64_L" 439.5 440.5 && within "$FREQ64_R" 439.5 440.5 || PROBLEMS+=" frequency-after-period-change"
within "$RMS64_L" 0.349 0.359 && within "$RMS64_R" 0.349 0.359 || PROBLEMS+=" rms-after-period-change"
[ "${BUFFER_AFTER:-0}" -eq 64 ] || PROBLEMS+=" status-buffer-not-64"
echo "$SUMMARY" | grep -q 'device lost 1 and restored 1 times' || PROBLEMS+=" summary($SUMMARY)"
[ -z "$LEFT" ] || PROBLEMS+=" left-in-/dev/shm:$LEFT"
[ -z "$PROBLEMS" ] || fail "$NUMBERS; wrong:$PROBLEMS"
grep -E 'audio lost|audio is back' "$WORK/kabel.log"
echo "PASS $E2E_NAME: $NUMBERS total=$(since "$E2E_T0")s"
