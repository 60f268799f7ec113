# Shared by the end-to-end scripts (sourced by bash). What makes them robust (see
# ../shared/recipes/README.md, sections 3 and 5, for the traps behind each rule):
#   - one JACK server at a time under a FIXED name (a crashed run's registry slot is reclaimed;
#     a name per run leaks one of only 8 slots); concurrent runs of the scripts queue on a lock
#     (flock on this directory: no lock file is created);
#   - processes are ended by PID, one at a time, in reverse start order, jackd LAST (killing
#     jackd together with its clients kills it with SIGPIPE and leaks ~100 MB of /dev/shm);
#   - readiness comes from the app's own log, never from jack_lsp polling while the app's JACK
#     client is being created (that made Pa_OpenStream hang in 8 of 40 runs);
#   - every wait is bounded; cleanup runs on any exit (EXIT trap; INT/TERM/HUP exit through it)
#     and removes the work directory, so nothing stays in /tmp or /dev/shm but jack-shm-registry.
# Exit codes: 0 PASS, 1 FAIL, 77 SKIP (ctest: SKIP_RETURN_CODE 77).

set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_NAME=$(basename "$0" .sh)
E2E_SERVER=kabel-e2e
E2E_T0=$EPOCHREALTIME
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kabel-e2e.XXXXXX") || { echo "FAIL $E2E_NAME: mktemp"; exit 1; }
PIDS=()  # started processes, in start order (jackd first)

since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# TERM, wait up to 5 s, then KILL. Only for our own children.
stop_pid() {
  local p=$1 t rc
  if kill -TERM "$p" 2>/dev/null; then
    for t in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$p" 2>/dev/null; then
      kill -KILL "$p" 2>/dev/null && echo "WARN: had to SIGKILL pid $p"
    fi
  fi
  wait "$p" 2>/dev/null; rc=$?
  return 0
}

# Stops everything this script started, newest first, jackd last.
stop_all() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
}

cleanup() {
  stop_all
  [ -n "${E2E_KEEP:-}" ] && cp -r "$WORK" "$E2E_KEEP" 2>/dev/null  # E2E_KEEP=DIR keeps the logs for debugging
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "$E2E_NAME: interrupted"; exit 130' INT TERM HUP

show_logs() {
  local f
  for f in "$WORK"/*.log; do
    [ -s "$f" ] || continue
    echo "--- $(basename "$f") (last lines)"
    tail -n 8 "$f"
  done
}
fail() { echo "FAIL $E2E_NAME: $* ($(since "$E2E_T0") s)"; show_logs; exit 1; }
skip() { echo "SKIP $E2E_NAME: $*"; exit 77; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (Debian package $2)"; }

# Serialises the JACK scripts (ctest -j, or two developers' runs) on one lock. Children do not
# inherit fd 9 (each spawn closes it), so an orphan can never hold the lock.
lock_jack() {
  exec 9<"$E2E_DIR" || fail "cannot open $E2E_DIR for locking"
  flock -w 90 9 || fail "another end-to-end run kept the JACK lock for 90 s"
}

# Starts jackd (dummy driver, no sound card needed) as $E2E_SERVER and waits until it answers.
# start_jackd [PERIOD]: a dummy-driver server at 48 kHz (period 256 frames unless given).
start_jackd() {
  local period=${1:-256}
  export JACK_DEFAULT_SERVER=$E2E_SERVER JACK_NO_AUDIO_RESERVATION=1 JACK_NO_START_SERVER=1
  if jack_lsp >/dev/null 2>&1; then
    fail "a JACK server named $E2E_SERVER is already running, not started by this test (stop it first)"
  fi
  jackd -n "$E2E_SERVER" --port-max 128 -d dummy -r 48000 -p "$period" >"$WORK/jackd.log" 2>&1 9<&- &
  JACKD_PID=$!
  PIDS+=("$JACKD_PID")
  local i
  for i in $(seq 100); do  # nothing else talks to JACK yet, so polling is safe here
    jack_lsp >/dev/null 2>&1 9<&- && return 0
    kill -0 "$JACKD_PID" 2>/dev/null || fail "jackd exited at start-up"
    sleep 0.05
  done
  fail "jackd did not answer within 5 s"
}

# wait_line FILE REGEX SECONDS PID: until FILE has a line matching REGEX; 1 if PID exits or time
# runs out first.
wait_line() {
  local file=$1 regex=$2 seconds=$3 pid=$4 i
  for i in $(seq $((seconds * 50))); do
    grep -qE "$regex" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { grep -qE "$regex" "$file" 2>/dev/null; return $?; }
    sleep 0.02
  done
  return 1
}

# wait_exit PID SECONDS: waits for our child PID; sets EXIT_RC and EXIT_SECONDS. 1 on time-out.
wait_exit() {
  local pid=$1 seconds=$2 t0=$EPOCHREALTIME i
  for i in $(seq $((seconds * 50))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  EXIT_SECONDS=$(since "$t0")
  kill -0 "$pid" 2>/dev/null && return 1
  wait "$pid"; EXIT_RC=$?
  return 0
}

# start_xvfb: a private X server (1280x800, no TCP; -displayfd picks a free display number) for
# the editor; exports DISPLAY, sets XVFB_PID.
start_xvfb() {
  local i
  exec 3>"$WORK/xvfb.display"
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 9<&- &
  XVFB_PID=$!
  PIDS+=("$XVFB_PID")
  exec 3>&-
  for i in $(seq 100); do [ -s "$WORK/xvfb.display" ] && break; sleep 0.05; done
  [ -s "$WORK/xvfb.display" ] || fail "Xvfb did not start"
  export DISPLAY=":$(cat "$WORK/xvfb.display")"
}

# key NAME: one key press in the X server, held long enough for the editor to see it.
key() { xdotool keydown "$1"; sleep 0.05; xdotool keyup "$1"; sleep 0.15; }

# record SECONDS FILE PORT...: records the JACK ports with jack_capture into FILE (float WAV, one
# channel per port), waited for interruptibly; fails the test when it fails. Sets CAPTURE_XRUNS
# (the xruns jack_capture saw; its log is FILE.log).
record() {
  local seconds=$1 file=$2 port args=() pid rc
  shift 2
  for port in "$@"; do args+=(-p "$port"); done
  timeout $((seconds + 10)) jack_capture -d "$seconds" -dc -ns -s "${args[@]}" "$file" >"$file.log" 2>&1 9<&- &
  pid=$!
  PIDS+=("$pid")
  wait "$pid"; rc=$?
  forget "$pid"
  [ "$rc" -eq 0 ] && [ -s "$file" ] || fail "jack_capture of $* exited with $rc"
  CAPTURE_XRUNS=$(sed -n 's/.*encountered \([0-9]*\) jack x-runs.*/\1/p' "$file.log" | head -n 1)
  CAPTURE_XRUNS=${CAPTURE_XRUNS:-0}
}

# stop_kabel PID SECONDS: SIGTERM to our kabel, which must exit with code 0 within SECONDS;
# sets TERM_SECONDS (how long it took).
stop_kabel() {
  kill -TERM "$1"
  wait_exit "$1" "$2" || fail "kabel did not exit within $2 s of SIGTERM"
  forget "$1"
  [ "$EXIT_RC" -eq 0 ] || fail "kabel exited with $EXIT_RC after SIGTERM"
  TERM_SECONDS=$EXIT_SECONDS
}

# forget PID: it has exited and been waited for.
forget() {
  local p keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# Anything this run's server or clients left in /dev/shm (jackd and libjack name their
# semaphores and segments after the server).
shm_leftovers() { ls /dev/shm 2>/dev/null | grep -F -- "$E2E_SERVER" | tr '\n' ' '; }

# libjack creates its metadata database /dev/shm/jack_db-UID even when it finds no server (jackd
# removes it when it exits). For scripts that probe with no server: on exit, remove it if this
# script made it and no jackd runs now.
clean_jack_db_on_exit() {
  JACK_DB=/dev/shm/jack_db-$(id -u)
  [ -e "$JACK_DB" ] && JACK_DB_BEFORE=1 || JACK_DB_BEFORE=0
  trap 'remove_jack_db; cleanup' EXIT
}
remove_jack_db() {
  [ "$JACK_DB_BEFORE" -eq 0 ] && [ -d "$JACK_DB" ] && command -v pgrep >/dev/null && ! pgrep -u "$(id -u)" -x jackd >/dev/null && rm -rf "$JACK_DB"
  return 0
}
