#!/usr/bin/env bash
# Check a built aldesk app as a colleague would use it: `--help`, the default backbone's weights
# inside the app, and the demo in a real X window (Xvfb): press 1, quit with Ctrl+Q, and find the
# label in the demo project. Nothing outside a scratch HOME is touched.
#
#   bash packaging/check_bundle.sh dist/aldesk/aldesk
#
# Needs xvfb-run, xdotool and xprop (apt-get install xvfb xdotool x11-utils) and the X libraries
# Qt's xcb plugin loads (see README.md, "Set up").
set -euo pipefail

APP="$(realpath "${1:?usage: check_bundle.sh PATH/TO/aldesk}")"
HERE="$(cd "$(dirname "$0")" && pwd)"
for tool in xvfb-run xdotool xprop python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed for the check" >&2; exit 1; }
done
CHECK="$(mktemp -d /tmp/aldesk-check.XXXXXX)"
trap 'rm -rf "$CHECK"' EXIT
export HOME="$CHECK/home"  # the demo, settings and log land here, not in the user's folders
unset XDG_DATA_HOME XDG_CONFIG_HOME XDG_STATE_HOME XDG_CACHE_HOME QT_QPA_PLATFORM
mkdir -p "$HOME"
since() { python3 -c 'import sys, time; print(time.time() - float(sys.argv[1]))' "$1"; }

echo "== aldesk --help"
"$APP" --help > "$CHECK/help.txt"
head -n 2 "$CHECK/help.txt"
grep -q "^usage: aldesk" "$CHECK/help.txt" || { echo "FAIL: --help printed no usage line" >&2; exit 1; }

echo "== aldesk weights list: the default backbone's weights come with the app"
"$APP" weights list > "$CHECK/weights.txt"
grep "^efficientnet-lite0" "$CHECK/weights.txt" | cut -c1-110
if ! grep "^efficientnet-lite0" "$CHECK/weights.txt" | grep -q "/_internal/"; then
  echo "FAIL: efficientnet-lite0's weights are not inside the app" >&2; exit 1
fi

echo "== aldesk demo --no-gui"
start=$(date +%s.%N)
"$APP" demo --no-gui --out "$CHECK/demo" | tail -n 1
PROJECT="$CHECK/demo/fashion-mnist-demo.aldesk"
printf 'built in %.1f s\n' "$(since "$start")"

echo "== torch inside the app: a 20-image project embedded with efficientnet-lite0"
mkdir -p "$CHECK/tiny-images"
find "$CHECK/demo" -name "*.png" | sort > "$CHECK/pngs.txt"  # not piped into head: pipefail
head -n 20 "$CHECK/pngs.txt" | xargs -I{} cp {} "$CHECK/tiny-images/"
"$APP" new "$CHECK/tiny.aldesk" --classes "a,b" > /dev/null
"$APP" import "$CHECK/tiny.aldesk" "$CHECK/tiny-images" | tail -n 1
start=$(date +%s.%N)
"$APP" embed "$CHECK/tiny.aldesk" --backbone efficientnet-lite0 --device cpu > "$CHECK/embed.txt" 2>&1 \
  || { cat "$CHECK/embed.txt" >&2; echo "FAIL: aldesk embed" >&2; exit 1; }
printf 'embedded in %.1f s\n' "$(since "$start")"
"$APP" info "$CHECK/tiny.aldesk" --json > "$CHECK/tiny.json"
python3 - "$CHECK/tiny.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
print(f"backbone {info['backbone']}, embedded {info['embedded']} of {info['items']}")
if info["backbone"] != "efficientnet-lite0" or info["embedded"] != info["items"] or info["items"] != 20:
    sys.exit("FAIL: the tiny project was not embedded with efficientnet-lite0")
PY

echo "== the demo in a window under Xvfb: press 1, then Ctrl+Q"
xvfb-run -a -s "-screen 0 1280x800x24" bash "$HERE/check_window.sh" "$APP" "$CHECK/demo" "$CHECK/window.log"

echo "== the label is in the project file"
"$APP" info "$PROJECT" --json > "$CHECK/info.json"
python3 - "$CHECK/info.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
print(f"items {info['items']}, labeled {info['labeled']}, per class {info['per_class']}")
# Key 1 is the first class's default hotkey (t-shirt).
if info["labeled"] != 1 or info["per_class"].get("t-shirt") != 1:
    sys.exit("FAIL: expected exactly one t-shirt label from the key press")
PY
echo "== PASS"
