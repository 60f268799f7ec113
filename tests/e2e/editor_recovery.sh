#!/bin/bash
# End to end: crash recovery in the editor (Xvfb + xdotool, no audio device needed).
#   A copy of a patch ("my patch.kabel": a space in the path) is opened and edited (an LFO added
#   through the browser); once the editor has autosaved, it is killed with SIGKILL. A corrupt
#   recovery file from another dead process is planted beside the good one. The next start
#   (`kabel` with no patch: the default) must set the corrupt file aside, offer the recovery,
#   and after "Recover" and Ctrl+S write the recovered document to the ORIGINAL file.
#   PASS needs: the original file untouched by the crash (same bytes until the save); the
#   corrupt file renamed *.corrupt and named in the log; the saved file holding the LFO; no
#   recovery file left after the clean exit; the default patch untouched.
KABEL=${1:?usage: editor_recovery.sh KABEL PATCH DEFAULT_PATCH}
PATCH=${2:?usage: editor_recovery.sh KABEL PATCH DEFAULT_PATCH}
DEFAULT=${3:?usage: editor_recovery.sh KABEL PATCH DEFAULT_PATCH}
source "$(dirname "$0")/lib.sh"

need Xvfb xvfb; need xdotool xdotool; need python3 python3
[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
ORIGINAL="$WORK/my patch.kabel"
cp "$PATCH" "$ORIGINAL"
BEFORE=$(md5sum <"$ORIGINAL")
DEFAULT_BEFORE=$(md5sum <"$DEFAULT")
RECOVERY="$WORK/state/kabel/recovery"

start_xvfb
export XDG_CONFIG_HOME="$WORK/config" XDG_STATE_HOME="$WORK/state"
cd "$WORK" || fail "cd $WORK"

# 1. Edit, wait for the autosave, crash.
"$KABEL" --trace --no-audio "$ORIGINAL" >"$WORK/kabel.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel.log" '^LAYOUT done' 20 "$KABEL_PID" || fail "the editor did not start"
xdotool mousemove 300 650; sleep 0.2; xdotool click --repeat 2 --delay 60 1; sleep 0.5
xdotool type --delay 40 lfo; sleep 0.3
key Return
wait_line "$WORK/kabel.log" '^ADDED lfo lfo' 5 "$KABEL_PID" || fail "the browser did not add an LFO"
wait_line "$WORK/kabel.log" '^AUTOSAVED ' 15 "$KABEL_PID" || fail "no autosave within 15 s of an edit"
kill -KILL "$KABEL_PID"; wait "$KABEL_PID" 2>/dev/null; forget "$KABEL_PID"
[ "$(md5sum <"$ORIGINAL")" = "$BEFORE" ] || fail "the crash changed the original file"
GOOD=$(ls "$RECOVERY" | grep -c '^kabel-recovery-.*\.json$')
[ "$GOOD" -eq 1 ] || fail "expected 1 recovery file after the crash, found $GOOD: $(ls "$RECOVERY")"
printf '{"format": "kabel-recovery", "version": 1, "pid": 4194999, "patch": {not json' >"$RECOVERY/kabel-recovery-4194999-deadbeef.json"

# 2. Start again (the default patch): recovery is offered for the original file.
"$KABEL" --trace --no-audio >"$WORK/kabel2.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel2.log" '^BUTTON Recover ' 20 "$KABEL_PID" || fail "no recovery offered at the next start"
grep -qF "RECOVERY offered $ORIGINAL" "$WORK/kabel2.log" || fail "recovery offered for the wrong file: $(grep -m1 '^RECOVERY' "$WORK/kabel2.log")"
read -r BX BY <<<"$(grep '^BUTTON Recover ' "$WORK/kabel2.log" | tail -n 1 | awk '{print $3, $4}')"
xdotool mousemove "$BX" "$BY"; sleep 0.2; xdotool click 1; sleep 0.3
wait_line "$WORK/kabel2.log" "^RECOVERED " 5 "$KABEL_PID" || fail "clicking Recover did not recover"
xdotool mousemove 700 500; sleep 0.2
xdotool keydown ctrl; sleep 0.05; key s; xdotool keyup ctrl
wait_line "$WORK/kabel2.log" '^SAVED ' 5 "$KABEL_PID" || fail "Ctrl+S did not save"
SAVED=$(grep -m1 '^SAVED ' "$WORK/kabel2.log" | cut -c7-)
[ "$SAVED" = "$ORIGINAL" ] || fail "saved to '$SAVED', not to the original '$ORIGINAL'"
stop_kabel "$KABEL_PID" 5

python3 -c '
import json, sys
mods = {m["id"]: m["type"] for m in json.load(open(sys.argv[1]))["modules"]}
sys.exit(0 if mods.get("lfo") == "lfo" and mods.get("osc") == "sine" else 1)' "$ORIGINAL" || fail "the saved file does not hold the recovered LFO"
ls "$RECOVERY" | grep -q 'deadbeef.json.corrupt' || fail "the corrupt recovery file was not set aside: $(ls "$RECOVERY")"
LEFT=$(ls "$RECOVERY" | grep -c '\.json$')
[ "$LEFT" -eq 0 ] || fail "recovery files left after the clean exit: $(ls "$RECOVERY")"
[ "$(md5sum <"$DEFAULT")" = "$DEFAULT_BEFORE" ] || fail "the default patch was changed"
echo "PASS $E2E_NAME: autosave after the edit, SIGKILL, recovery offered for '$ORIGINAL' (corrupt file set aside), recovered and saved to the original file; exit in ${TERM_SECONDS} s ($(since "$E2E_T0") s)"
