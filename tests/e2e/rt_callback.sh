#!/bin/bash
# End to end: the real PortAudio callback on a JACK dummy server neither allocates nor locks while
# the patch is edited live. rt_probe plays PATCH through AudioOutput with a render hook that arms
# an RtGuard around engine.process(), and makes EDITS random edits (add/remove modules, rewire,
# param jumps, undo) a few ms apart through the Session.
#   PASS needs: allocations == 0, locks == 0, callbacks > 100, plan swaps > 50, every callback
#   went through the hook — and a short negative control (the hook mallocs and locks on purpose)
#   that must count both, proving the counter works on PortAudio's thread.
# Skipped (exit 77) in sanitizer builds, where the counter is compiled out.
# Usage: rt_callback.sh RT_PROBE PATCH [EDITS]
PROBE=${1:?usage: rt_callback.sh RT_PROBE PATCH [EDITS]}
PATCH=${2:?usage: rt_callback.sh RT_PROBE PATCH [EDITS]}
EDITS=${3:-300}
source "$(dirname "$0")/lib.sh"

need jackd jackd2; need jack_lsp jackd2
[ -x "$PROBE" ] || fail "no probe executable at $PROBE"
lock_jack
start_jackd

# run_probe LOG ARGS...: runs the probe to its end (bounded); sets PROBE_RC.
run_probe() {
  local log=$1; shift
  "$PROBE" "$PATCH" "$@" >"$WORK/$log" 2>&1 9<&- &
  local pid=$!
  PIDS+=("$pid")
  wait_exit "$pid" 20 || fail "rt_probe $* did not finish within 20 s"
  forget "$pid"
  PROBE_RC=$EXIT_RC
  [ "$PROBE_RC" -eq 77 ] && skip "$(sed -n "s/^SKIP: //p" "$WORK/$log" | head -n 1)"
  [ "$PROBE_RC" -eq 0 ] || fail "rt_probe $* exited with $PROBE_RC"
}
# value LOG KEY: KEY=value from the probe's RESULT line.
value() { grep -m1 '^RESULT ' "$WORK/$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

run_probe probe.log --edits "$EDITS" --interval-ms 3
run_probe control.log --edits 20 --interval-ms 3 --negative-control
stop_all
LEFT=$(shm_leftovers)

CALLBACKS=$(value probe.log callbacks); HOOK=$(value probe.log hook_calls); SWAPS=$(value probe.log swaps)
ALLOCS=$(value probe.log allocations); LOCKS=$(value probe.log locks); DONE=$(value probe.log edits)
XRUNS=$(value probe.log xruns); SECONDS_=$(value probe.log seconds)
C_ALLOCS=$(value control.log allocations); C_LOCKS=$(value control.log locks); C_CALLBACKS=$(value control.log callbacks)
[ -n "$CALLBACKS" ] && [ -n "$C_ALLOCS" ] || fail "no RESULT line from rt_probe"

NUMBERS="callbacks=$CALLBACKS hook_calls=$HOOK swaps=$SWAPS edits=$DONE allocations=$ALLOCS locks=$LOCKS xruns=$XRUNS"
NUMBERS+=" play=${SECONDS_}s; control: callbacks=$C_CALLBACKS allocations=$C_ALLOCS locks=$C_LOCKS"
PROBLEMS=""
[ "$ALLOCS" -eq 0 ] || PROBLEMS+=" allocations"
[ "$LOCKS" -eq 0 ] || PROBLEMS+=" locks"
[ "$CALLBACKS" -gt 100 ] || PROBLEMS+=" too-few-callbacks"
[ "$SWAPS" -gt 50 ] || PROBLEMS+=" too-few-plan-swaps"
[ "$HOOK" -eq "$CALLBACKS" ] || PROBLEMS+=" hook-skipped"
[ "$DONE" -eq "$EDITS" ] || PROBLEMS+=" edits-missing"
# The control allocates (malloc + free) and locks once per callback.
[ "$C_ALLOCS" -ge $((2 * C_CALLBACKS)) ] && [ "$C_CALLBACKS" -gt 0 ] || PROBLEMS+=" control-allocations-not-seen"
[ "$C_LOCKS" -ge "$C_CALLBACKS" ] && [ "$C_LOCKS" -gt 0 ] || PROBLEMS+=" control-locks-not-seen"
[ -z "$LEFT" ] || PROBLEMS+=" left-in-/dev/shm:$LEFT"
[ -z "$PROBLEMS" ] || fail "$NUMBERS; wrong:$PROBLEMS"
echo "PASS $E2E_NAME: $NUMBERS total=$(since "$E2E_T0")s"
