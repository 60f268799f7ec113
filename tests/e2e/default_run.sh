#!/bin/bash
# What `make run` does on a machine with no display and no sound card: `kabel` with no arguments
# says so and renders patches/default.kabel to default.wav (in the current directory), 30 s of
# audio, with a sound level worth listening to.
# usage: default_run.sh KABEL
source "$(dirname "$0")/lib.sh"
KABEL=${1:?kabel executable}
need sox sox
clean_jack_db_on_exit
cd "$WORK" || fail "cannot enter $WORK"
# No display, and a JACK server name nobody runs: no audio device.
env -u DISPLAY -u WAYLAND_DISPLAY JACK_DEFAULT_SERVER=kabel-none-$$ JACK_NO_START_SERVER=1 "$KABEL" >out.log 2>&1
rc=$?
cat out.log
[ $rc -eq 0 ] || fail "exit $rc"
grep -q "no display found" out.log || fail "does not say there is no display"
grep -q "no audio device found" out.log || fail "does not say there is no audio device"
[ -f default.wav ] || fail "no default.wav"
read -r SECONDS_ RMS < <(sox default.wav -n stat 2>&1 | awk '/Length \(seconds\)/ {l=$3} /RMS +amplitude/ {r=$3} END {print l, r}')
CHANNELS=$(soxi -c default.wav 2>/dev/null)
echo "default.wav: ${SECONDS_} s, ${CHANNELS} channels, RMS ${RMS}"
awk -v s="$SECONDS_" 'BEGIN { exit !(s > 29.99 && s < 30.01) }' || fail "length $SECONDS_ s"
[ "$CHANNELS" = 2 ] || fail "$CHANNELS channels"
awk -v r="$RMS" 'BEGIN { exit !(r > 0.03 && r < 0.5) }' || fail "RMS $RMS"
echo "PASS $E2E_NAME"
