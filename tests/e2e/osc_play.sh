#!/bin/bash
# End to end: OSC control of a live patch. jackd (dummy driver) + `kabel play PATCH --osc PORT`
# on a 440 Hz sine (module "osc") into out; jack_capture records kabel:out_0 while
#   oscsend localhost PORT /kabel/osc/freq f 880
# (liblo-tools) is sent about a second into the recording.
#   PASS needs: the "osc: listening on udp 127.0.0.1:PORT" line; the recording starts at
#   440 +- 1 Hz and ends at 880 +- 1 Hz (median period between rising zero crossings in the first
#   and in the last 0.5 s), and every 50 ms window is one or the other except at most two (the
#   switch: the param's smoothed glide can straddle a window boundary); kabel's summary counts 1 OSC message received and 1 applied; exit 0 within 5 s of
#   SIGTERM; nothing of the server left in /dev/shm.
# Processes are stopped by PID in reverse start order, jackd last (lib.sh).
KABEL=${1:?usage: osc_play.sh KABEL PATCH [RECORD_SECONDS]}
PATCH=${2:?usage: osc_play.sh KABEL PATCH [RECORD_SECONDS]}
DUR=${3:-3}
source "$(dirname "$0")/lib.sh"

need jackd jackd2; need jack_lsp jackd2; need jack_capture jack-capture; need sox sox; need python3 python3
need oscsend liblo-tools
[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
lock_jack
start_jackd

# A free UDP port on localhost (bound and released by python: nothing else here takes ports).
PORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$KABEL" play "$PATCH" --osc "$PORT" --seconds $((3 * DUR + 20)) >"$WORK/kabel.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel.log" '^osc: listening' 10 "$KABEL_PID" || fail "kabel did not print its 'osc: listening' line within 10 s"
LISTEN=$(grep -m1 '^osc: listening' "$WORK/kabel.log")
case "$LISTEN" in
  *"udp 127.0.0.1:$PORT "*) ;;
  *) fail "expected to listen on 127.0.0.1:$PORT, got: $LISTEN" ;;
esac

rm -f "$WORK/out.wav"
timeout $((DUR + 10)) jack_capture -d "$DUR" -dc -ns -s -p kabel:out_0 "$WORK/out.wav" >"$WORK/capture.log" 2>&1 9<&- &
CAPTURE_PID=$!
PIDS+=("$CAPTURE_PID")
sleep 1.2
oscsend localhost "$PORT" /kabel/osc/freq f 880 || fail "oscsend failed"
wait "$CAPTURE_PID"; CAPTURE_RC=$?
forget "$CAPTURE_PID"
[ "$CAPTURE_RC" -eq 0 ] || fail "jack_capture exited with $CAPTURE_RC"
[ -s "$WORK/out.wav" ] || fail "jack_capture wrote no file"
kill -0 "$KABEL_PID" 2>/dev/null || fail "kabel stopped playing during the recording"

stop_kabel "$KABEL_PID" 5
stop_all  # jackd, now that its client has gone
LEFT=$(shm_leftovers)
OSC_SUMMARY=$(grep -m1 '^osc: [0-9]* received' "$WORK/kabel.log")

MEASURED=$(sox "$WORK/out.wav" -t raw -e floating-point -b 32 - 2>"$WORK/sox.log" | python3 -c '
import array, sys
rate = 48000
x = array.array("f")
x.frombytes(sys.stdin.buffer.read())
if len(x) < rate:
    print("error: only %d frames recorded" % len(x)); sys.exit()
ups = [i - 1 + x[i - 1] / (x[i - 1] - x[i]) for i in range(1, len(x)) if x[i - 1] < 0.0 <= x[i]]
def freq(lo, hi):
    p = sorted(ups[k] - ups[k - 1] for k in range(1, len(ups)) if lo <= ups[k - 1] and ups[k] < hi)
    return rate / p[len(p) // 2] if len(p) >= 5 else 0.0
n = len(x)
first, last = freq(0, rate // 2), freq(n - rate // 2, n)
win = rate // 20
labels = []
for a in range(0, n - win, win):
    f = freq(a, a + win)
    labels.append("A" if abs(f - 440) < 2 else "B" if abs(f - 880) < 2 else "?")
s = "".join(labels)
switch = s.find("B")
print("%.3f %.3f %d %d %.3f %d" % (first, last, s.count("?"), int("BA" in s.replace("?", "")), switch * win / rate, n))
')
read -r FIRST LAST MIXED BACK SWITCH_AT FRAMES <<<"$MEASURED"
[ "$FIRST" = "error:" ] && fail "analysis: $MEASURED"
[ -n "${FRAMES:-}" ] || fail "analysis failed: $MEASURED $(cat "$WORK/sox.log")"

NUMBERS="first=$FIRST Hz last=$LAST Hz mixed_windows=$MIXED switch_at=${SWITCH_AT}s frames=$FRAMES"
NUMBERS+=" [$OSC_SUMMARY] exit_after_term=${TERM_SECONDS}s"
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
PROBLEMS=""
within "$FIRST" 439 441 || PROBLEMS+=" start-frequency"
within "$LAST" 879 881 || PROBLEMS+=" end-frequency"
[ "$MIXED" -le 2 ] || PROBLEMS+=" more-than-two-switch-windows"
[ "$BACK" -eq 0 ] || PROBLEMS+=" went-back-to-440"
case "$OSC_SUMMARY" in
  "osc: 1 received, 1 applied,"*) ;;
  *) PROBLEMS+=" osc-counts" ;;
esac
[ -z "$LEFT" ] || PROBLEMS+=" left-in-/dev/shm:$LEFT"
[ -z "$PROBLEMS" ] || fail "$NUMBERS; wrong:$PROBLEMS"
echo "$LISTEN"
echo "PASS $E2E_NAME: $NUMBERS total=$(since "$E2E_T0")s"
