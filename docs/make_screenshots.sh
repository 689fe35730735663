#!/usr/bin/env bash
# Screenshots of the main views for docs/, taken from the real app on a virtual X screen.
# Needs: Xvfb, xdotool and the xcb libraries (see README), aldesk installed, efficientnet weights.
#   bash docs/make_screenshots.sh
set -euo pipefail
docs="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" && mkdir -p "$HOME"   # fresh settings: no recent projects of yours
cd "$work"
python -m aldesk demo --out "$work" --no-gui
project="$work/fashion-mnist-demo.aldesk"
python -m aldesk embed "$project"
# 200 labels given through a labeling session by an oracle that knows the sample's hidden truth,
# so one in ten are audit items as in the app, with a model trained after every 40: the learning
# curve then shows real audit estimates with their interval. Like a person, the oracle slips now
# and then (one label in 20, seeded), so the suspects review has real suspects to show.
for round in 1 2 3 4 5; do
python - "$project" "$round" <<'PY'
import random
import sys
from aldesk.core.classes import list_classes
from aldesk.core.session import LabelingSession
from aldesk.core.store import open_project
slips = random.Random(int(sys.argv[2]))
with open_project(sys.argv[1]) as project:
    ids = {c.name: c.id for c in list_classes(project)}
    truth = dict(project.conn.execute("SELECT item_id, class_name FROM item_truth"))
    session = LabelingSession(project)
    for _ in range(40):
        right = ids[truth[session.current.item_id]]
        wrong = slips.choice([i for i in ids.values() if i != right])
        session.label(wrong if slips.random() < 0.05 else right)
PY
python -m aldesk train "$project"
done

# The session runs on a bare X server: no desktop tells Qt a colour scheme, so the app starts
# light; ALDESK_COLOR_SCHEME=dark asks for the dark theme (see aldesk/gui/theme.py).
cat > "$work/session.sh" <<SH
set -e
grab() { python -c "import os,sys; from PIL import ImageGrab; ImageGrab.grab(xdisplay=os.environ['DISPLAY']).save(sys.argv[1])" "\$1"; }
# A crash at quit is reported, but the screenshots already taken are kept and the next run goes on.
finish() { wait \$app || echo "make_screenshots: aldesk exited with status \$? at quit" >&2; }
place() {
  wid=\$(xdotool search --sync --onlyvisible --name aldesk | head -1)
  xdotool windowsize \$wid 1280 860; xdotool windowmove \$wid 0 0; xdotool windowfocus --sync \$wid
}
python -m aldesk "$project" & app=\$!
place; sleep 12
for k in 1 2 3 space 4 5 6 7; do xdotool key \$k; sleep 0.4; done
sleep 8; grab "$docs/screenshot-labeling.png"
xdotool key ctrl+b; sleep 4; grab "$docs/screenshot-review.png"
# Enter on a tile shows it large; Esc gives the keys back to the grid.
xdotool key Home Return; sleep 3; grab "$docs/screenshot-review-large.png"
xdotool key Escape; sleep 1
xdotool key Escape; sleep 1
# The suspects: labels the other labels contradict, each with the given label, the guess and why.
xdotool key ctrl+shift+r; sleep 4; grab "$docs/screenshot-suspects.png"
xdotool key Escape; sleep 1
# The learning curve is a panel beside the image; Ctrl+L shows and hides it.
xdotool key ctrl+l; sleep 3; grab "$docs/screenshot-learning-curve.png"
xdotool key ctrl+l; sleep 1
xdotool windowfocus --sync \$wid; xdotool key ctrl+q; finish
# Without a project: the start screen offers the project just closed (Reopen, Enter).
python -m aldesk & app=\$!
place; sleep 3; grab "$docs/screenshot-start.png"
xdotool key ctrl+n; sleep 3; grab "$docs/screenshot-new-project.png"
xdotool key Escape; sleep 1; xdotool windowfocus --sync \$wid
xdotool key ctrl+q; finish
ALDESK_COLOR_SCHEME=dark python -m aldesk "$project" & app=\$!
place; sleep 12
for k in 8 9 0 u; do xdotool key \$k; sleep 0.4; done
sleep 6; grab "$docs/screenshot-dark.png"
xdotool key ctrl+q; finish
SH
xvfb-run -a -s "-screen 0 1280x860x24" bash "$work/session.sh"
echo "wrote $docs/screenshot-*.png"
