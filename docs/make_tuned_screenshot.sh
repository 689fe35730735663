#!/usr/bin/env bash
# A screenshot of a text project whose encoder the app fine-tuned on the labels, for docs/: the
# text demo (600 SpamAssassin mails) with 85 labels given from its truth, one in eight drawn as an
# audit item as the app draws them; the window then embeds, trains, fine-tunes the encoder,
# compares it on the audits and adopts it, and the status bar names it.
# Needs: Xvfb, xdotool and the xcb libraries (see README), aldesk installed with the text extra.
#   bash docs/make_tuned_screenshot.sh [OUT_DIR]   (default: docs/)
set -euo pipefail
docs="$(cd "$(dirname "$0")" && pwd)"
out="$(realpath "${1:-$docs}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" && mkdir -p "$HOME"   # fresh settings: no recent projects of yours
python - "$work" <<'PY'
import sys
from pathlib import Path

from aldesk.core.classes import list_classes
from aldesk.core.demo import build_demo
from aldesk.core.labels import QueryContext, record
from aldesk.core.store import open_project

path = build_demo(Path(sys.argv[1]), text=True)
with open_project(path) as project:
    ids = {c.name: c.id for c in list_classes(project)}
    truth = project.conn.execute("SELECT item_id, class_name FROM item_truth ORDER BY item_id").fetchall()
    for n, (item, name) in enumerate(truth[:85]):
        record(project, item, "label", ids[name], context=QueryContext(strategy="audit" if n % 8 == 7 else "margin"))
print(path)
PY
project="$(ls "$work"/*.aldesk)"
cat > "$work/session.sh" <<SH
set -e
grab() { python -c "import os,sys; from PIL import ImageGrab; ImageGrab.grab(xdisplay=os.environ['DISPLAY']).save(sys.argv[1])" "\$1"; }
aldesk "$project" & app=\$!
wid=\$(xdotool search --sync --onlyvisible --name aldesk | head -1)
xdotool windowsize \$wid 1280 860; xdotool windowmove \$wid 0 0; xdotool windowfocus --sync \$wid
for i in \$(seq 1 60); do   # until the tuned encoder is in use (at most ten minutes)
  sleep 10
  python -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(\"SELECT m.set_id FROM models m JOIN embedding_sets s ON s.id=m.set_id WHERE s.identity LIKE '%-tuned-%'\").fetchone(); sys.exit(0 if r else 1)" "$project" && break
done
sleep 5
grab "$out/screenshot-text-tuned.png"
xdotool key ctrl+q; wait \$app
SH
xvfb-run -a -s "-screen 0 1280x860x24" bash "$work/session.sh"
echo "wrote $out/screenshot-text-tuned.png"
