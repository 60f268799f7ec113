#!/bin/bash
# End to end: no sound card and no JACK server. `kabel play` must exit 2 within 5 s with the clear
# message and nothing else on stderr (no ALSA/JACK noise); `kabel devices` must exit 0 saying
# there are no devices. Skipped on a machine that has a sound card.
# Usage: no_device.sh KABEL PATCH
KABEL=${1:?usage: no_device.sh KABEL PATCH}
PATCH=${2:?usage: no_device.sh KABEL PATCH}
source "$(dirname "$0")/lib.sh"

[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
if [ -r /proc/asound/cards ] && ! grep -q 'no soundcards' /proc/asound/cards; then
  skip "this machine has a sound card, so the no-device path cannot be tested here"
fi
clean_jack_db_on_exit
# A server name nobody uses: no JACK server to find, and none may be started for us.
export JACK_DEFAULT_SERVER=kabel-e2e-no-such-server JACK_NO_START_SERVER=1
if command -v jack_lsp >/dev/null 2>&1 && jack_lsp >/dev/null 2>&1; then
  fail "a JACK server named $JACK_DEFAULT_SERVER is running"
fi
MESSAGE='no audio output device (no sound card, and no JACK server running)'

T0=$EPOCHREALTIME
timeout 10 "$KABEL" play "$PATCH" --seconds 3 >"$WORK/play.out.log" 2>"$WORK/play.err.log" 9<&-
PLAY_RC=$?
PLAY_SECONDS=$(since "$T0")
grep -q 'this command is being built' "$WORK/play.err.log" && skip "kabel play is not wired into gui/main.cpp yet"

T0=$EPOCHREALTIME
timeout 10 "$KABEL" devices >"$WORK/devices.out.log" 2>"$WORK/devices.err.log" 9<&-
DEVICES_RC=$?
DEVICES_SECONDS=$(since "$T0")

PLAY_ERR_LINES=$(wc -l <"$WORK/play.err.log")
NUMBERS="play: rc=$PLAY_RC in ${PLAY_SECONDS}s, stderr $PLAY_ERR_LINES line(s); devices: rc=$DEVICES_RC in ${DEVICES_SECONDS}s"
PROBLEMS=""
[ "$PLAY_RC" -eq 2 ] || PROBLEMS+=" play-exit-code"
awk -v s="$PLAY_SECONDS" 'BEGIN { exit !(s < 5) }' || PROBLEMS+=" play-too-slow"
grep -qF "$MESSAGE" "$WORK/play.err.log" || PROBLEMS+=" play-message"
[ "$PLAY_ERR_LINES" -eq 1 ] || PROBLEMS+=" play-stderr-noise"
[ -s "$WORK/play.out.log" ] && PROBLEMS+=" play-stdout"
[ "$DEVICES_RC" -eq 0 ] || PROBLEMS+=" devices-exit-code"
grep -q '^no audio devices found' "$WORK/devices.out.log" || PROBLEMS+=" devices-message"
grep -q 'JACK' "$WORK/devices.out.log" || PROBLEMS+=" devices-hint"
[ -s "$WORK/devices.err.log" ] && PROBLEMS+=" devices-stderr-noise"
[ -z "$PROBLEMS" ] || fail "$NUMBERS; wrong:$PROBLEMS"
echo "play stderr: $(cat "$WORK/play.err.log")"
echo "PASS $E2E_NAME: $NUMBERS total=$(since "$E2E_T0")s"
