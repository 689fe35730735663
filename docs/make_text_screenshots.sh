#!/usr/bin/env bash
# Screenshots of a project of texts for docs/, from the real app on a virtual X screen: 50 support
# tickets and one long incident report (docs/screenshot_texts.py), a few labeled.
# Needs: Xvfb, xdotool and the xcb libraries (see README), aldesk installed with the text extra.
#   bash docs/make_text_screenshots.sh [OUT_DIR]   (default: docs/)
set -euo pipefail
docs="$(cd "$(dirname "$0")" && pwd)"
out="$(realpath "${1:-$docs}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" && mkdir -p "$HOME"   # fresh settings: no recent projects of yours
cd "$work"
python "$docs/screenshot_texts.py" make "$work"
project="$work/support-tickets.aldesk"

cat > "$work/session.sh" <<SH
set -e
grab() { python -c "import os,sys; from PIL import ImageGrab; ImageGrab.grab(xdisplay=os.environ['DISPLAY']).save(sys.argv[1])" "\$1"; }
finish() { wait \$app || echo "make_text_screenshots: aldesk exited with status \$? at quit" >&2; }
place() {
  wid=\$(xdotool search --sync --onlyvisible --name aldesk | head -1)
  xdotool windowsize \$wid 1280 860; xdotool windowmove \$wid 0 0; xdotool windowfocus --sync \$wid
}
python "$docs/screenshot_texts.py" show "$project" & app=\$!
place; sleep 25   # the worker embeds the texts and trains on the labels given: the guess shows
xdotool key Next; sleep 1   # Page Down: the report scrolls
grab "$out/screenshot-text-labeling.png"
xdotool key ctrl+b; sleep 3; grab "$out/screenshot-text-review.png"
# The fifth bug ticket keeps its line breaks when shown whole (a card folds them).
xdotool key Home Right Right Right Right space; sleep 2; grab "$out/screenshot-text-review-large.png"
xdotool key space; sleep 1
xdotool key Escape; sleep 1
xdotool windowfocus --sync \$wid; xdotool key ctrl+q; finish
ALDESK_COLOR_SCHEME=dark python "$docs/screenshot_texts.py" show "$project" & app=\$!
place; sleep 25   # the worker embeds the texts and trains on the labels given: the guess shows
grab "$out/screenshot-text-dark.png"
xdotool key ctrl+q; finish
SH
xvfb-run -a -s "-screen 0 1280x860x24" bash "$work/session.sh"
echo "wrote $out/screenshot-text-*.png"
