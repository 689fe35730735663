#!/usr/bin/env bash
# A screenshot of the labeling view at actual pixels (Ctrl+1) on a 4000 x 3000 photo with fine
# print, for docs/: the full-resolution decode swapped in behind the screen-size one.
# Needs: Xvfb, xdotool and the xcb libraries (see README), aldesk installed.
#   bash docs/make_zoom_screenshot.sh [OUT_DIR]   (default: docs/)
set -euo pipefail
docs="$(cd "$(dirname "$0")" && pwd)"
out="$(realpath "${1:-$docs}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" && mkdir -p "$HOME"   # fresh settings: no recent projects of yours
python - "$work" <<'PY'
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

folder = Path(sys.argv[1]) / "photos"
folder.mkdir()
photo = Image.new("RGB", (4000, 3000), (235, 230, 220))
draw = ImageDraw.Draw(photo)
for x in range(0, 4000, 40):
    draw.line([(x, 0), (x, 3000)], fill=(180, 170, 160))
for y in range(0, 3000, 40):
    draw.line([(0, y), (4000, y)], fill=(180, 170, 160))
font = ImageFont.load_default(size=14)
for y in range(1300, 1700, 20):
    draw.text((1700, y), f"fine print line {y}: 1 px lines and 14 px text, readable at full resolution", fill=(20, 20, 20), font=font)
photo.save(folder / "board.jpg", quality=92)
PY
aldesk new "$work/zoom.aldesk" --classes ok,defect >/dev/null
aldesk import "$work/zoom.aldesk" "$work/photos" >/dev/null
xvfb-run -a -s "-screen 0 1280x860x24" bash -c '
aldesk "$0/zoom.aldesk" >"$0/app.log" 2>&1 &
wid=$(timeout 60 xdotool search --sync --onlyvisible --name aldesk | head -1)
sleep 5 && xdotool windowfocus --sync "$wid" && sleep 1
xdotool key ctrl+1 && sleep 4
python -c "import sys; from PIL import ImageGrab; ImageGrab.grab().save(sys.argv[1])" "$1/screenshot-zoom-actual-pixels.png"
xdotool key ctrl+q && sleep 2' "$work" "$out"
echo "wrote $out/screenshot-zoom-actual-pixels.png"
