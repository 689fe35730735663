#!/usr/bin/env bash
# Run by check_bundle.sh under xvfb-run: open the demo in the app's window, press 1, quit with
# Ctrl+Q; fail unless the window appears with aldesk's icon and class and the app exits with 0.
set -uo pipefail
APP="$1" DEMO_DIR="$2" LOG="$3"

QT_QPA_PLATFORM=xcb "$APP" demo --out "$DEMO_DIR" > "$LOG" 2>&1 &
pid=$!
since() { python3 -c 'import sys, time; print(time.time() - float(sys.argv[1]))' "$1"; }
fail() { echo "FAIL: $*" >&2; kill "$pid" 2>/dev/null; echo "--- app output:" >&2; cat "$LOG" >&2; exit 1; }

started=$(date +%s.%N)
window=$(timeout 180 xdotool search --sync --onlyvisible --name aldesk | head -n 1)
[ -n "$window" ] || fail "no aldesk window within 180 s"
printf 'window %s shown after %.1f s\n' "$window" "$(since "$started")"
xprop -id "$window" WM_CLASS
# The .desktop file's StartupWMClass and the icon must match what the window reports.
xprop -id "$window" WM_CLASS | grep -q '"aldesk"' || fail "WM_CLASS is not aldesk (StartupWMClass in aldesk.desktop)"
icon_sizes=$(xprop -id "$window" _NET_WM_ICON | grep -o "Icon ([0-9]* x [0-9]*)" | sed 's/Icon (\(.*\))/\1/' | paste -sd,)
case ",$icon_sizes," in *",48 x 48,"*) ;; *) fail "the window has no 48 px icon (_NET_WM_ICON: $icon_sizes)" ;; esac
echo "window icon sizes (_NET_WM_ICON): $icon_sizes"

# The learning worker runs in a child process that the frozen app starts by running itself again
# (multiprocessing "spawn"); it must start and stay up, not die on an import the bundle lacks.
child=""
for _ in $(seq 90); do
  child=$(pgrep -P "$pid" -f -- "--multiprocessing-fork" | head -n 1 || true)
  [ -n "$child" ] && break
  sleep 1
done
[ -n "$child" ] || fail "the learning worker's process did not start within 90 s"
sleep 5
kill -0 "$child" 2>/dev/null || fail "the learning worker's process $child died"
echo "learning worker process $child running"

xdotool windowfocus --sync "$window"
sleep 1
xdotool key 1
sleep 1
xdotool key ctrl+q
for _ in $(seq 120); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
kill -0 "$pid" 2>/dev/null && fail "the app did not exit within 120 s of Ctrl+Q"
wait "$pid"
code=$?
echo "exit code $code"
[ "$code" = 0 ] || fail "the app exited with $code"
