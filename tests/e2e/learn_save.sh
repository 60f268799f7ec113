#!/bin/bash
# End to end: MIDI learn without the editor. `kabel play COPY --osc PORT --save-map` on a copy of a
# patch; oscsend arms learn for out.level; jack_midiseq (a real JACK MIDI client) plays note 60
# into kabel:midi_in; SIGTERM. PASS needs: exit code 0, "midi map: 1 mapping(s) saved", the file
# now holding exactly one mapping {source note, number 60, module out, param level}, and every
# other part of the patch (modules, cables, meta) equal to what it was (the file is rewritten in
# canonical form, so default module positions [0, 0] may appear).
KABEL=${1:?usage: learn_save.sh KABEL PATCH}
PATCH=${2:?usage: learn_save.sh KABEL PATCH}
source "$(dirname "$0")/lib.sh"

need jackd jackd2; need jack_midiseq jackd2; need jack_connect jackd2; need oscsend liblo-tools; need python3 python3
[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
cp "$PATCH" "$WORK/song.kabel" || fail "cannot copy $PATCH"
lock_jack
start_jackd 256

PORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$KABEL" play "$WORK/song.kabel" --osc "$PORT" --save-map --seconds 40 -q >"$WORK/kabel.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel.log" '^osc: listening' 10 "$KABEL_PID" || fail "kabel did not print its 'osc: listening' line within 10 s"
oscsend localhost "$PORT" /kabel/learn ss out level || fail "oscsend failed"
sleep 0.3

# Note 60 every half second (period 24000 frames), held for 8000 frames.
jack_midiseq ms 24000 0 60 8000 >"$WORK/midiseq.log" 2>&1 9<&- &
SEQ_PID=$!
PIDS+=("$SEQ_PID")
sleep 0.5
jack_connect ms:out kabel:midi_in 9<&- || fail "jack_connect ms:out kabel:midi_in failed"
sleep 1.5
stop_pid "$SEQ_PID"; forget "$SEQ_PID"

stop_kabel "$KABEL_PID" 10
stop_all
grep -q 'midi map: 1 mapping(s) saved' "$WORK/kabel.log" || fail "no 'midi map: 1 mapping(s) saved' line"

RESULT=$(python3 - "$PATCH" "$WORK/song.kabel" <<'PY'
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
for patch in (before, after):  # the saved file is written in canonical form: default positions appear
    for module in patch.get("modules", []):
        if module.get("position") == [0, 0]:
            del module["position"]
m = after.get("midi_map", [])
rest_equal = {k: v for k, v in before.items() if k != "midi_map"} == {k: v for k, v in after.items() if k != "midi_map"}
ok = len(m) == 1 and m[0].get("source") == "note" and m[0].get("number") == 60 and m[0].get("module") == "out" and m[0].get("param") == "level"
print("%s %s %s" % ("ok" if ok else "wrong", "same" if rest_equal else "changed", json.dumps(m, separators=(",", ":"))))
PY
)
read -r MAP_OK REST MAP <<<"$RESULT"
[ "$MAP_OK" = ok ] || fail "saved map: $MAP"
[ "$REST" = same ] || fail "the rest of the patch changed on save: $(cat "$WORK/song.kabel")"
echo "PASS $E2E_NAME: saved midi_map=$MAP rest_of_patch=unchanged total=$(since "$E2E_T0")s"
