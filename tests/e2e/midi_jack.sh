#!/bin/bash
# End to end: live MIDI into `kabel play` on a real JACK server (dummy driver), sample-accurate.
#   jackd -d dummy -r 48000 -p PERIOD; jack_midiseq plays a 12000-frame loop: C4 (note 60) at
#   loop frame 0 and A4 (note 69) at 6000, 4000 frames each; `kabel play PATCH --midi Seq:out`
#   (midi -> sine pitch, gate -> vca -> out at level 0.5); jack_capture records kabel:out_0.
#   PASS needs: kabel's MIDI lines (virtual port kabel-midi:midi_in with the alias kabel:midi_in,
#   Seq:out connected, JACK frame stamping); the recording silent (exactly 0) between notes; every
#   onset spaced exactly as jack_midiseq spaced them (6000 frames, jitter <= 1 frame) and every
#   note exactly 4000 frames long (+-1); the notes alternating 261.63 / 440.00 Hz +- 1 Hz; zero
#   xruns during the measured take (a take with any server xrun is retaken, up to 3 times); no
#   late or dropped MIDI; `jack_connect Seq:out kabel:midi_in` works
#   (the alias); kabel exits 0 within 5 s of SIGTERM; every process stopped by PID, newest first
#   (kabel, jack_midiseq, jackd; jack_capture ends by itself), nothing left in /dev/shm.
# Latency (MIDI event frame -> audio onset) is kabel's stated stamping latency ("midi stamping:
# ... latency N frames", one JACK period): the recording's start frame is not known in JACK
# frames, so the script checks the spacing (jitter), not the absolute offset.
KABEL=${1:?usage: midi_jack.sh KABEL PATCH [PERIOD] [RECORD_SECONDS]}
PATCH=${2:?usage: midi_jack.sh KABEL PATCH [PERIOD] [RECORD_SECONDS]}
PERIOD=${3:-64}
DUR=${4:-2}
source "$(dirname "$0")/lib.sh"

need jackd jackd2; need jack_lsp jackd2; need jack_midiseq jackd2; need jack_connect jackd2
need jack_capture jack-capture; need sox sox; need python3 python3
[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
lock_jack

start_jackd "$PERIOD"

LOOP=12000 SPACING=6000 NOTE_LEN=4000
jack_midiseq Seq $LOOP 0 60 $NOTE_LEN $SPACING 69 $NOTE_LEN >"$WORK/midiseq.log" 2>&1 9<&- &
PIDS+=($!)
for i in $(seq 100); do  # kabel is not started yet: polling is still safe
  jack_lsp 2>/dev/null 9<&- | grep -qx 'Seq:out' && break
  sleep 0.05
done
jack_lsp 2>/dev/null 9<&- | grep -qx 'Seq:out' || fail "jack_midiseq's port Seq:out did not appear"

"$KABEL" play "$PATCH" --midi Seq:out --seconds $((DUR + 20)) >"$WORK/kabel.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel.log" '^midi stamping' 10 "$KABEL_PID" || fail "kabel did not report its MIDI input within 10 s"
grep -q '^midi input 0: kabel-midi:midi_in (alias kabel:midi_in)' "$WORK/kabel.log" || fail "no virtual MIDI port line"
grep -q '^midi input 1: Seq:out -> kabel-midi:in_1' "$WORK/kabel.log" || fail "Seq:out not connected"
grep -q '^midi stamping: JACK frame time' "$WORK/kabel.log" || fail "not stamping by JACK frame time"
LATENCY=$(sed -n 's/^midi stamping: .*latency \([0-9]*\) frames.*/\1/p' "$WORK/kabel.log")

# An xrun in jack_capture's own client tears its recording (a period goes missing): such a take
# is retaken (up to 3); if every take had one, the timing checks are skipped, saying so.
TAKES=0
while :; do
  TAKES=$((TAKES + 1))
  rm -f "$WORK/out.wav"
  timeout $((DUR + 10)) jack_capture -d "$DUR" -dc -ns -s -p kabel:out_0 "$WORK/out.wav" >"$WORK/capture.log" 2>&1 9<&- &
  CAPTURE_PID=$!
  PIDS+=("$CAPTURE_PID")
  wait "$CAPTURE_PID"; CAPTURE_RC=$?
  forget "$CAPTURE_PID"
  [ "$CAPTURE_RC" -eq 0 ] || fail "jack_capture exited with $CAPTURE_RC"
  [ -s "$WORK/out.wav" ] || fail "jack_capture wrote no file"
  CAPTURE_XRUNS=$(sed -n 's/.*encountered \([0-9]*\) jack x-runs.*/\1/p' "$WORK/capture.log" | head -n 1)
  CAPTURE_XRUNS=${CAPTURE_XRUNS:-0}
  [ "$CAPTURE_XRUNS" -eq 0 ] && break
  [ "$TAKES" -ge 3 ] && break
  echo "note: take $TAKES: jack_capture saw $CAPTURE_XRUNS xrun(s); recording again"
done

# The virtual port answers to its alias (the app is up: a short-lived client is safe now).
ALIAS_OK=0
jack_connect Seq:out kabel:midi_in 9<&- >/dev/null 2>&1 && ALIAS_OK=1
kill -0 "$KABEL_PID" 2>/dev/null || fail "kabel stopped playing during the recording"

stop_kabel "$KABEL_PID" 5
stop_all  # jack_midiseq, then jackd
LEFT=$(shm_leftovers)
XRUNS=$(grep -o 'xruns [0-9]*' "$WORK/kabel.log" | tail -n 1 | cut -d' ' -f2)
JACKD_XRUNS=$(grep -c 'XRun' "$WORK/jackd.log")
MIDI_SUMMARY=$(grep -m1 '^midi: ' "$WORK/kabel.log")
KABEL_FAULT=$(grep -cE 'client = kabel(-midi)? was not finished' "$WORK/jackd.log")
LATE=$(sed -n 's/^midi: .* \([0-9]*\) late, \([0-9]*\) dropped, \([0-9]*\) overflowed.*/\1 \2 \3/p' "$WORK/kabel.log")

MEASURED=$(sox "$WORK/out.wav" -t raw -e floating-point -b 32 -c 1 - 2>"$WORK/sox.log" | python3 -c '
import array, math, sys
rate, spacing, note_len = 48000, int(sys.argv[1]), int(sys.argv[2])
x = array.array("f"); x.frombytes(sys.stdin.buffer.read()); n = len(x)
# Notes: runs of non-zero samples after >= 64 exact zeros (the vca closes to exactly 0).
notes, i = [], 0
while i < n:
    if x[i] != 0.0 and i >= 64 and all(v == 0.0 for v in x[i - 64:i]):
        j = i
        while j < n and not all(v == 0.0 for v in x[j:j + 64]): j += 1
        if j >= n: break  # cut by the end of the recording
        last = max(k for k in range(i, j + 1) if x[k] != 0.0)
        notes.append((i, last + 1)); i = j
    else:
        i += 1
if len(notes) < 6:
    print("error: only %d complete notes found" % len(notes)); sys.exit()
def freq(a, b):
    ups = [k - 1 + x[k - 1] / (x[k - 1] - x[k]) for k in range(a + 1, b) if x[k - 1] < 0.0 <= x[k]]
    return rate * (len(ups) - 1) / (ups[-1] - ups[0]) if len(ups) > 2 else 0.0
onsets = [a for a, _ in notes]
gaps = [onsets[k] - onsets[k - 1] for k in range(1, len(onsets))]
jitter = max(abs(g - spacing) for g in gaps)
lengths = [b - a for a, b in notes]
lenerr = max(abs(l - note_len) for l in lengths)
fs = [freq(a, b) for a, b in notes]
c4, a4 = 261.6256, 440.0
# Which note comes first depends on where the recording started: pick the alternation that fits.
def err(first):
    return max(abs(f - (first if k % 2 == 0 else (a4 if first == c4 else c4))) for k, f in enumerate(fs))
ferr = min(err(c4), err(a4))
print("%d %d %d %.3f %s" % (len(notes), jitter, lenerr, ferr, ",".join("%.2f" % f for f in fs[:4])))
' "$SPACING" "$NOTE_LEN")
read -r NOTES JITTER LENERR FERR FREQS <<<"$MEASURED"
[ "$NOTES" = "error:" ] && fail "analysis: $MEASURED"
[ -n "${FREQS:-}" ] || fail "analysis failed: $MEASURED $(cat "$WORK/sox.log")"

NUMBERS="period=$PERIOD notes=$NOTES onset_jitter=${JITTER}frames length_error=${LENERR}frames freq_error=${FERR}Hz ($FREQS)"
NUMBERS+=" stamp_latency=${LATENCY}frames takes=$TAKES"
NUMBERS+=" xruns(kabel)=${XRUNS:-?} xruns(jackd)=$JACKD_XRUNS xruns(jack_capture)=$CAPTURE_XRUNS"
NUMBERS+=" kabel_late_cycles=$KABEL_FAULT late/dropped/overflowed=${LATE// //} alias=$ALIAS_OK exit_after_term=${TERM_SECONDS}s"
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
PROBLEMS=""
if [ "$CAPTURE_XRUNS" -eq 0 ]; then
  within "$JITTER" 0 1 || PROBLEMS+=" onset-jitter"
  within "$LENERR" 0 1 || PROBLEMS+=" note-length"
  within "$FERR" 0 1 || PROBLEMS+=" frequency"
else
  echo "WARN: every take had jack_capture xruns (machine overloaded): timing checks skipped"
fi
# xruns: jack_capture is told of every xrun of the server, so a take it recorded without one
# had zero xruns in kabel too (that take decides). Outside it (start-up, torn takes) a loaded
# 2-core VM makes every client late now and then at -p 64: reported, not asserted.
[ "${XRUNS:-x}" = 0 ] || echo "note: kabel reported ${XRUNS:-?} xrun(s) over the whole run, outside the measured take (kabel late in $KABEL_FAULT cycle(s); jackd logged $JACKD_XRUNS)"
[ "$LATE" = "0 0 0" ] || PROBLEMS+=" midi-late-or-dropped"
[ "$ALIAS_OK" -eq 1 ] || PROBLEMS+=" alias-kabel:midi_in"
[ -z "$LEFT" ] || PROBLEMS+=" left-in-/dev/shm:$LEFT"
[ -z "$PROBLEMS" ] || fail "$NUMBERS; wrong:$PROBLEMS"
echo "$MIDI_SUMMARY"
echo "PASS $E2E_NAME: $NUMBERS total=$(since "$E2E_T0")s"
