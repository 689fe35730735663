#!/usr/bin/env bash
# Build aldesk as a one-folder Linux app with PyInstaller in a throwaway venv, then check it:
# the app's --help, its bundled weights, and the demo in a real window under Xvfb.
#
#   bash packaging/build_linux.sh            # app in dist/aldesk/, run dist/aldesk/aldesk
#
# Settings (environment):
#   ALDESK_TORCH_SPEC   what pip installs for torch (default "torch==2.14.1 torchvision==0.29.1";
#                       for a small CPU-only app use the CPU wheels, see packaging/README.md)
#   ALDESK_DIST         where the app goes (default: dist/ in the checkout)
#   ALDESK_BUILD_WORK   scratch folder for the venv and PyInstaller's work files (default: a new
#                       folder under /tmp, removed at the end unless ALDESK_KEEP_WORK=1)
#   ALDESK_SKIP_CHECK=1 build only
#   PYTHON              the Python to build with (default python3; 3.11 or newer)
# It is slow (torch is large): run it under `nice -n 10` on a shared machine.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIST="${ALDESK_DIST:-$ROOT/dist}"
TORCH_SPEC="${ALDESK_TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"
PYTHON="${PYTHON:-python3}"
WORK="${ALDESK_BUILD_WORK:-$(mktemp -d /tmp/aldesk-build.XXXXXX)}"
mkdir -p "$WORK"
if [ -z "${ALDESK_BUILD_WORK:-}" ] && [ "${ALDESK_KEEP_WORK:-0}" != 1 ]; then
  trap 'rm -rf "$WORK"' EXIT
fi

started=$(date +%s)
echo "== venv in $WORK/venv, torch: $TORCH_SPEC"
"$PYTHON" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip install --quiet)
# shellcheck disable=SC2086  # TORCH_SPEC is a list of requirements
"${PIP[@]}" $TORCH_SPEC
# aldesk itself from the checkout, as a wheel would install it (resources inside the package).
"${PIP[@]}" "$ROOT[weights]" "pyinstaller==6.22.*"
installed=$(date +%s)

echo "== PyInstaller"
# Run from the scratch folder so the checkout's aldesk/ can never shadow the installed package.
(cd "$WORK" && "$WORK/venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --workpath "$WORK/build" --distpath "$DIST" "$ROOT/packaging/pyinstaller/aldesk.spec")
built=$(date +%s)
# So a colleague can add the app to the desktop's menu from the unpacked folder.
install -m 755 "$ROOT/packaging/install_desktop_entry.sh" "$DIST/aldesk/install-desktop-entry.sh"
install -D -m 644 "$ROOT/packaging/linux/aldesk-mime.xml" "$DIST/aldesk/linux/aldesk-mime.xml"
echo "== built $DIST/aldesk: $(du -sh "$DIST/aldesk" | cut -f1), $(find "$DIST/aldesk" -type f | wc -l) files;" \
     "install $((installed - started)) s, PyInstaller $((built - installed)) s"

if [ "${ALDESK_SKIP_CHECK:-0}" = 1 ]; then
  exit 0
fi
bash "$ROOT/packaging/check_bundle.sh" "$DIST/aldesk/aldesk"
echo "== total $(( $(date +%s) - started )) s"
