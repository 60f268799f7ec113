#!/bin/bash
# End to end: MIDI clock out of `kabel play` on a real JACK server (dummy driver), frame-exact.
#   jackd -d dummy -r 48000 -p PERIOD; `kabel play PATCH` (clock at 120 BPM -> midiclockout:
#   24 ppqn = one 0xF8 every 1000 frames); jack_midi_dump (a real JACK MIDI client, absolute
#   timestamps in frames) records kabel:midi_out — the alias of kabel-midi:midi_out.
#   PASS needs: kabel's "midi output: kabel-midi:midi_out (alias kabel:midi_out)" line; at least
#   RECORD_SECONDS x 48 - 2 timing clocks recorded; every interval between consecutive clocks
#   exactly 1000 frames (jitter 0) in a take without xruns (a take with one is retaken, up to 3
#   times); no other message than 0xF8 after the first (the Start went out before the recorder
#   connected); no lost output message, none late unless jackd logged an xrun; kabel exits 0 within 5 s of SIGTERM; every
#   process stopped by PID, newest first; nothing left in /dev/shm.
KABEL=${1:?usage: midi_clock_out.sh KABEL PATCH [PERIOD] [RECORD_SECONDS]}
PATCH=${2:?usage: midi_clock_out.sh KABEL PATCH [PERIOD] [RECORD_SECONDS]}
PERIOD=${3:-256}
DUR=${4:-2}
source "$(dirname "$0")/lib.sh"

need jackd jackd2; need jack_lsp jackd2; need jack_midi_dump jackd2; need jack_connect jackd2; need python3 python3
[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
lock_jack

start_jackd "$PERIOD"

"$KABEL" play "$PATCH" --seconds $((DUR * 3 + 20)) >"$WORK/kabel.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel.log" '^midi output' 10 "$KABEL_PID" || fail "kabel did not report its MIDI output within 10 s"
grep -q '^midi output: kabel-midi:midi_out (alias kabel:midi_out), latency [0-9]* frames' "$WORK/kabel.log" || fail "no MIDI output line"

TAKES=0
while :; do
  TAKES=$((TAKES + 1))
  : >"$WORK/dump.log"
  jack_midi_dump -a clockdump >"$WORK/dump.log" 2>&1 9<&- &
  DUMP_PID=$!
  PIDS+=("$DUMP_PID")
  for i in $(seq 100); do  # kabel's clients are up: short-lived JACK clients are safe now
    jack_lsp 2>/dev/null 9<&- | grep -qx 'clockdump:input' && break
    sleep 0.05
  done
  XRUNS_BEFORE=$(grep -c 'XRun' "$WORK/jackd.log")
  jack_connect kabel:midi_out clockdump:input 9<&- >/dev/null 2>&1 || fail "jack_connect kabel:midi_out clockdump:input (the alias)"
  sleep "$DUR"
  stop_pid "$DUMP_PID"
  forget "$DUMP_PID"
  XRUNS_TAKE=$(( $(grep -c 'XRun' "$WORK/jackd.log") - XRUNS_BEFORE ))
  [ "$XRUNS_TAKE" -eq 0 ] && break
  [ "$TAKES" -ge 3 ] && break
  echo "note: take $TAKES: jackd reported $XRUNS_TAKE xrun(s); recording again"
done
kill -0 "$KABEL_PID" 2>/dev/null || fail "kabel stopped playing during the recording"

stop_kabel "$KABEL_PID" 5
stop_all
LEFT=$(shm_leftovers)
OUT_SUMMARY=$(grep -m1 '^midi out: ' "$WORK/kabel.log")
OUT_LATE=$(sed -n 's/^midi out: [0-9]* sent, \([0-9]*\) late, \([0-9]*\) lost.*/\1 \2/p' "$WORK/kabel.log")

# jack_midi_dump -a prints "<frames>: <status> [<data>...]" per message (hex bytes); frames count
# from the recorder's start, so intervals are exact JACK frame differences.
MEASURED=$(python3 -c '
import re, sys
times, others = [], 0
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\d+)\s*:\s*(?:0x)?([0-9a-fA-F]{2})\b", line)
    if not m: continue
    t, status = int(m.group(1)), int(m.group(2), 16)
    if status == 0xF8: times.append(t)
    else: others += 1
if len(times) < 3:
    print("error: %d clocks recorded" % len(times)); sys.exit()
gaps = [b - a for a, b in zip(times, times[1:])]
print("%d %.3f %d %d %d %d" % (len(times), sum(gaps) / len(gaps), max(abs(g - 1000) for g in gaps), min(gaps), max(gaps), others))
' "$WORK/dump.log")
read -r CLOCKS MEAN JITTER GMIN GMAX OTHERS <<<"$MEASURED"
[ "$CLOCKS" = "error:" ] && fail "analysis: $MEASURED; dump: $(head -c 300 "$WORK/dump.log")"
NUMBERS="period=$PERIOD clocks=$CLOCKS frames_per_tick=$MEAN jitter=${JITTER}frames (min $GMIN max $GMAX) other_messages=$OTHERS"
NUMBERS+=" takes=$TAKES xruns_in_take=$XRUNS_TAKE late/lost=${OUT_LATE// //}"
PROBLEMS=""
[ "$CLOCKS" -ge $((DUR * 48 - 2)) ] || PROBLEMS+=" too-few-clocks"
if [ "$XRUNS_TAKE" -eq 0 ]; then
  [ "$JITTER" -eq 0 ] || PROBLEMS+=" jitter"
else
  echo "WARN: every take had xruns (machine overloaded): the jitter check is skipped"
fi
[ "$OTHERS" -eq 0 ] || PROBLEMS+=" unexpected-messages"
# A message goes out late only when a cycle was missed (an xrun); lost never. On a loaded 2-core
# VM at -p 64 xruns happen now and then outside the take: late is asserted only without them.
JACKD_XRUNS=$(grep -c 'XRun' "$WORK/jackd.log")
read -r LATE_N LOST_N <<<"$OUT_LATE"
[ "${LOST_N:-x}" = 0 ] || PROBLEMS+=" lost"
if [ "$JACKD_XRUNS" -eq 0 ]; then
  [ "${LATE_N:-x}" = 0 ] || PROBLEMS+=" late"
elif [ "${LATE_N:-x}" != 0 ]; then
  echo "note: ${LATE_N:-?} message(s) went out late; jackd logged $JACKD_XRUNS xrun(s) over the run"
fi
[ -z "$LEFT" ] || PROBLEMS+=" left-in-/dev/shm:$LEFT"
[ -z "$PROBLEMS" ] || fail "$NUMBERS; wrong:$PROBLEMS"
echo "$OUT_SUMMARY"
echo "PASS $E2E_NAME: $NUMBERS total=$(since "$E2E_T0")s"
