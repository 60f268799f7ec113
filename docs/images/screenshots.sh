#!/bin/bash
# Regenerates the editor screenshots in docs/images (used by README.md and docs/editor.md):
#   docs/images/screenshots.sh [BUILD_DIR]
# Runs the editor in a private Xvfb with no audio device and private settings/recovery folders,
# and ends only the processes it started.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KABEL=${1:-$ROOT/build}/kabel
OUT=$ROOT/docs/images
WORK=$(mktemp -d)
PIDS=()
cleanup() { for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; wait "${PIDS[i]}" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
exec 3>"$WORK/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
PIDS+=($!)
exec 3>&-
for i in $(seq 100); do [ -s "$WORK/display" ] && break; sleep 0.05; done
export DISPLAY=":$(cat "$WORK/display")" XDG_CONFIG_HOME="$WORK/config" XDG_STATE_HOME="$WORK/state"

# A patch as it opens.
shot() { "$KABEL" --no-audio --screenshot "$OUT/$2" "$ROOT/patches/$1" >/dev/null; echo "wrote docs/images/$2"; }
shot default.kabel editor-default.png
shot anatomy-of-a-voice.kabel editor-anatomy.png

# Windows opened with keys, then F12 (the editor writes kabel-screenshot.png in its folder).
keyshot() {  # keyshot PATCH OUTPUT KEY...
  local patch=$1 out=$2 pid
  shift 2
  (cd "$WORK" && exec "$KABEL" --no-audio --trace "$ROOT/patches/$patch" >"$WORK/log" 2>&1) &
  pid=$!
  PIDS+=("$pid")
  for i in $(seq 200); do grep -q '^LAYOUT done' "$WORK/log" 2>/dev/null && break; sleep 0.05; done
  xdotool mousemove 640 700
  for k in "$@"; do xdotool keydown "$k"; sleep 0.05; xdotool keyup "$k"; sleep 0.4; done
  sleep 1.0
  xdotool keydown F12; sleep 0.05; xdotool keyup F12
  for i in $(seq 100); do [ -s "$WORK/kabel-screenshot.png" ] && break; sleep 0.05; done
  sleep 0.2
  mv "$WORK/kabel-screenshot.png" "$OUT/$out"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "wrote docs/images/$out"
}
keyshot maqam-rast-drone.kabel editor-tuning.png t
keyshot gamelan-kotekan.kabel editor-browser.png Return f i l t
