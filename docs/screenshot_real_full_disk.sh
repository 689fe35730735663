#!/usr/bin/env bash
# The window on a really full disk: a copy of a project folder on a tmpfs with 600 kB to spare
# (a private mount namespace: needs root and unshare), the app under Xvfb, 60 presses of "1",
# a screenshot, then the file's labels and integrity_check. Not simulated: SQLite meets ENOSPC.
#   sudo bash docs/screenshot_real_full_disk.sh PROJECT_FOLDER PROJECT.aldesk OUT.png
set -euo pipefail
folder="$(realpath "$1")"; name="$(basename "$2")"; out="$(realpath "$3")"
mnt="$(mktemp -d)"; log="$(mktemp)"
python="$(command -v python)"
size=$(( $(du -sk "$folder" | cut -f1) + 600 ))
unshare -m bash -s <<SH
set -e
mount -t tmpfs -o size=${size}k tmpfs "$mnt"
cp -r "$folder"/. "$mnt"/
cd "$mnt"
xvfb-run -a -s '-screen 0 1280x860x24' bash -c '
"$python" -m aldesk "$mnt/$name" > "$log" 2>&1 & app=\$!
wid=\$(xdotool search --sync --onlyvisible --name aldesk | head -1)
xdotool windowsize \$wid 1280 860; xdotool windowfocus --sync \$wid
sleep 25
for i in \$(seq 1 60); do xdotool key 1; sleep 0.15; done
sleep 2
"$python" -c "import os, sys; from PIL import ImageGrab; ImageGrab.grab(xdisplay=os.environ[\"DISPLAY\"]).save(sys.argv[1])" "$out"
xdotool key ctrl+q; wait \$app
'
"$python" - "$mnt/$name" <<'PY'
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
print("labels:", conn.execute("SELECT status, count(*) FROM items GROUP BY status").fetchall(),
      "integrity:", conn.execute("PRAGMA integrity_check").fetchone()[0])
PY
SH
echo "tracebacks in the app's output: $(grep -c Traceback "$log" || true)"
rm -rf "$mnt" "$log"
