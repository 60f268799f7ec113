#!/bin/bash
# End to end: NaN/Inf containment in the editor (Xvfb + xdotool; no audio device needed: the
# editor's silent clock runs the engine in real time).
#   tests/data/patches/runaway-feedback.kabel: a tone, and a mixer/VCA loop that overflows within
#   ~0.1 s. The editor must log the loop module the engine muted (trace MUTED), draw it flagged
#   (a red border and a red "NaN: muted" badge in its header; the tone's node unflagged), and,
#   after right-click > "Reset (unmute)" on it, unmute it (trace UNMUTED) — whereupon the loop
#   overflows again and it is muted a second time (the state really started over).
KABEL=${1:?usage: editor_nan.sh KABEL PATCH}
PATCH=${2:?usage: editor_nan.sh KABEL PATCH}
source "$(dirname "$0")/lib.sh"

need Xvfb xvfb; need xdotool xdotool; need python3 python3
[ -x "$KABEL" ] || fail "no kabel executable at $KABEL"
KABEL=$(realpath "$KABEL")
cp "$PATCH" "$WORK/runaway.kabel" || fail "no patch at $PATCH"
start_xvfb
export XDG_CONFIG_HOME="$WORK/config" XDG_STATE_HOME="$WORK/state"
cd "$WORK" || fail "cd $WORK"

"$KABEL" --trace --no-audio "$WORK/runaway.kabel" >"$WORK/kabel.log" 2>&1 9<&- &
KABEL_PID=$!
PIDS+=("$KABEL_PID")
wait_line "$WORK/kabel.log" '^LAYOUT done' 20 "$KABEL_PID" || fail "the editor did not start"
wait_line "$WORK/kabel.log" '^MUTED loop_(mix|vca)$' 10 "$KABEL_PID" || fail "no loop module was muted within 10 s"
MUTED=$(sed -n 's/^MUTED //p' "$WORK/kabel.log" | head -n 1)
grep -q '^MUTED tone$' "$WORK/kabel.log" && fail "the tone was muted too"
sleep 0.6  # the next frame (the editor wakes at least every 0.5 s) draws the flag

xdotool mousemove 1200 760; sleep 0.2
key F12
wait_line "$WORK/kabel.log" '^SCREENSHOT ' 5 "$KABEL_PID" || fail "F12 wrote no screenshot"

# Right-click the muted node's header, then the menu's "Reset (unmute)".
read -r NX NY NW NH <<<"$(grep "^NODE $MUTED " "$WORK/kabel.log" | tail -n 1 | awk '{print $3, $4, $5, $6}')"
[ -n "$NX" ] || fail "no NODE trace for $MUTED"
xdotool mousemove $((NX + 20)) $((NY + 8)); sleep 0.2; xdotool click 3; sleep 0.4
wait_line "$WORK/kabel.log" '^MENU reset-unmute ' 5 "$KABEL_PID" || fail "the node menu has no Reset (unmute)"
read -r MX MY <<<"$(grep '^MENU reset-unmute ' "$WORK/kabel.log" | tail -n 1 | awk '{print $3, $4}')"
xdotool mousemove "$MX" "$MY"; sleep 0.2; xdotool click 1; sleep 0.3
wait_line "$WORK/kabel.log" "^UNMUTED $MUTED\$" 5 "$KABEL_PID" || fail "Reset (unmute) did not unmute $MUTED"
for i in $(seq 250); do [ "$(grep -c "^MUTED $MUTED\$" "$WORK/kabel.log")" -ge 2 ] && break; sleep 0.02; done
AGAIN=$(grep -c "^MUTED $MUTED\$" "$WORK/kabel.log")
[ "$AGAIN" -ge 2 ] || fail "after the reset the loop did not overflow again (muted $AGAIN times)"
stop_kabel "$KABEL_PID" 10

CHECK=$(PYTHONPATH="$E2E_DIR" python3 - "$WORK/kabel-screenshot.png" "$WORK/kabel.log" "$MUTED" <<'PY'
import sys
import png_pixels
shot, log, muted = sys.argv[1], sys.argv[2], sys.argv[3]
w, h, px = png_pixels.load(shot)
nodes = {}
for line in open(log):
    if line.startswith("NODE "):
        _, mid, x, y, nw, nh = line.split()
        nodes[mid] = (int(float(x)), int(float(y)), int(float(nw)), int(float(nh)))
red = lambda p: p[0] > 180 and p[1] < 90 and p[2] < 90  # the flag's (220, 50, 45)
def header_red(mid):  # red pixels in the right half of the node's header
    x, y, nw, nh = nodes[mid]
    return sum(red(px(xx, yy)) for xx in range(x + nw // 2, x + nw - 2) for yy in range(y + 3, y + 18))
def border_red(mid):  # the node's left edge, below the header
    x, y, nw, nh = nodes[mid]
    return sum(red(px(xx, yy)) for xx in range(x - 1, x + 2) for yy in range(y + 24, y + nh - 4))
problems = []
if header_red(muted) < 100: problems.append("%s has no red badge in its header (%d red pixels)" % (muted, header_red(muted)))
if border_red(muted) < 20: problems.append("%s has no red border (%d red pixels)" % (muted, border_red(muted)))
for other in ("tone", "out"):
    if header_red(other) or border_red(other): problems.append(other + " is drawn flagged")
print("; ".join(problems) if problems else "ok %d %d" % (header_red(muted), border_red(muted)))
PY
)
case "$CHECK" in ok*) ;; *) fail "$CHECK" ;; esac
echo "PASS $E2E_NAME: $MUTED muted, flagged (red pixels badge/border: ${CHECK#ok }), reset by the menu, muted again $((AGAIN - 1))x; $(since "$E2E_T0")s"
