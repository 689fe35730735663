#!/usr/bin/env bash
# Put aldesk in the desktop's application menu for this user: the .desktop entry, the icons and
# the .aldesk file type, under ~/.local/share (or $XDG_DATA_HOME). No root needed.
#
#   packaging/install_desktop_entry.sh [PATH/TO/aldesk]     # from a checkout (pipx or venv install)
#   ./install-desktop-entry.sh                              # from inside the built app's folder
#   ... --uninstall                                         # remove what it installed
#
# Without a path it uses the app beside this script (the PyInstaller folder), else `aldesk` on PATH.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
SIZES="16 24 32 48 64 128 256 512"

if [ -d "$HERE/_internal/aldesk/resources" ]; then
  RESOURCES="$HERE/_internal/aldesk/resources"  # inside the built app
else
  RESOURCES="$HERE/../resources"  # in a checkout
fi

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$DATA/applications/aldesk.desktop" "$DATA/mime/packages/aldesk.xml" \
        "$DATA/icons/hicolor/scalable/apps/aldesk.svg"
  for size in $SIZES; do rm -f "$DATA/icons/hicolor/${size}x${size}/apps/aldesk.png"; done
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" || true
  command -v update-mime-database >/dev/null && [ -d "$DATA/mime" ] && update-mime-database "$DATA/mime" || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" 2>/dev/null || true
  echo "removed aldesk's menu entry, icons and file type from $DATA"
  exit 0
fi

if [ -n "${1:-}" ]; then
  APP="$1"
elif [ -x "$HERE/aldesk" ] && [ -f "$HERE/aldesk" ]; then
  APP="$HERE/aldesk"
else
  APP="$(command -v aldesk || true)"
fi
if [ -z "$APP" ] || [ ! -x "$APP" ] || [ -d "$APP" ]; then
  echo "Cannot find the aldesk program: pass its path, e.g. $0 ~/.local/bin/aldesk" >&2
  exit 1
fi
APP="$(realpath "$APP")"
case "$APP" in
  *[\"\`\$\\%]*) echo "The path $APP has characters a .desktop file cannot hold; move the app" >&2; exit 1 ;;
esac

for size in $SIZES; do
  install -D -m 644 "$RESOURCES/icons/hicolor/${size}x${size}/apps/aldesk.png" \
    "$DATA/icons/hicolor/${size}x${size}/apps/aldesk.png"
done
install -D -m 644 "$RESOURCES/icons/hicolor/scalable/apps/aldesk.svg" "$DATA/icons/hicolor/scalable/apps/aldesk.svg"
# The .aldesk file type (beside this script in a checkout and in the built app's folder).
install -D -m 644 "$HERE/linux/aldesk-mime.xml" "$DATA/mime/packages/aldesk.xml"

# Exec and TryExec name the program by its absolute path (quoted: it may hold spaces), so the
# menu entry works without aldesk on the desktop session's PATH.
mkdir -p "$DATA/applications"
sed -e "s|^Exec=aldesk |Exec=\"$APP\" |" -e "s|^TryExec=aldesk\$|TryExec=$APP|" \
  "$RESOURCES/aldesk.desktop" > "$DATA/applications/aldesk.desktop"
chmod 644 "$DATA/applications/aldesk.desktop"

# Refresh the desktop's caches where the tools exist; a desktop without them rescans on login.
command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" || true
command -v update-mime-database >/dev/null && [ -d "$DATA/mime/packages" ] && update-mime-database "$DATA/mime" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" 2>/dev/null || true
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$DATA/applications/aldesk.desktop"
fi
echo "installed aldesk's menu entry ($DATA/applications/aldesk.desktop, running $APP), icons and file type"
