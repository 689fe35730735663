"""The desktop entry, icons and file type that packaging ships: the keys a desktop needs, names
that match the installed command, the frozen app and the icon files, every PNG at its size, and
the install script putting a valid entry under XDG_DATA_HOME."""

from __future__ import annotations

import configparser
import importlib.util
import re
import shlex
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from aldesk.core.store import PROJECT_SUFFIX

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "resources" / "aldesk.desktop"
HICOLOR = ROOT / "resources" / "icons" / "hicolor"
SPEC = ROOT / "packaging" / "pyinstaller" / "aldesk.spec"
MIME = ROOT / "packaging" / "linux" / "aldesk-mime.xml"
INSTALL = ROOT / "packaging" / "install_desktop_entry.sh"
RENDER = ROOT / "packaging" / "icons" / "render_icons.py"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # desktop keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def listed_sizes() -> tuple[int, ...]:
    """The PNG sizes the renderer writes (the one list the others must agree with)."""
    text = RENDER.read_text(encoding="utf-8")
    match = re.search(r"^SIZES = \(([\d, ]+)\)", text, re.MULTILINE)
    assert match, f"no SIZES tuple in {RENDER}"
    return tuple(int(s) for s in match.group(1).split(",") if s.strip())


def test_the_entry_has_the_keys_a_desktop_needs():
    entry = read_entry(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Name"].strip() and entry["Comment"].strip()
    assert entry["Terminal"] == "false"  # a colleague starts it from the menu, not a terminal
    assert entry["Categories"].endswith(";") and entry["MimeType"].endswith(";")
    for key in ("Exec", "Icon", "StartupWMClass"):
        assert entry[key].strip(), key


def test_exec_names_the_installed_command_and_the_frozen_app():
    entry = read_entry(DESKTOP)
    program, *codes = shlex.split(entry["Exec"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert program in scripts, f"Exec runs {program!r}, but pyproject installs {sorted(scripts)}"
    spec = SPEC.read_text(encoding="utf-8")
    for step in ("EXE", "COLLECT"):  # the program's file name and its folder's name
        call = re.search(rf"= {step}\((.*?)^\S", spec, re.DOTALL | re.MULTILINE)
        assert call, f"no {step} step in {SPEC}"
        names = re.findall(r'\bname="([^"]+)"', call.group(1))
        assert names == [program], f"the PyInstaller {step} is named {names}, Exec runs {program!r}"
    assert entry["TryExec"] == program
    # One file argument at most: aldesk opens one project.
    assert all(code in {"%f", "%u"} for code in codes), codes


def test_the_window_class_and_icon_name_match_what_the_app_sets():
    from aldesk.gui.app_icon import ICON_NAME

    entry = read_entry(DESKTOP)
    assert entry["Icon"] == ICON_NAME
    # Qt reports the application name as WM_CLASS; run_app sets it and the desktop file name.
    app_source = (ROOT / "aldesk" / "gui" / "app.py").read_text(encoding="utf-8")
    assert f'setApplicationName("{entry["StartupWMClass"]}")' in app_source
    assert f'setDesktopFileName("{DESKTOP.stem}")' in app_source


def test_the_file_type_matches_the_project_suffix():
    entry = read_entry(DESKTOP)
    root = ET.parse(MIME).getroot()
    types = root.findall(f"{MIME_NS}mime-type")
    assert [t.get("type") for t in types] == [entry["MimeType"].rstrip(";")]
    globs = [g.get("pattern") for g in types[0].findall(f"{MIME_NS}glob")]
    assert globs == [f"*{PROJECT_SUFFIX}"]
    assert types[0].find(f"{MIME_NS}generic-icon").get("name") == entry["Icon"]


def test_the_icon_is_shipped_at_every_listed_size_and_only_those():
    icon = read_entry(DESKTOP)["Icon"]
    sizes = listed_sizes()
    assert sizes[0] == 16 and sizes[-1] == 512
    present = sorted(int(p.parent.parent.name.split("x")[0]) for p in HICOLOR.glob(f"*x*/apps/{icon}.png"))
    assert present == sorted(sizes)
    install_sizes = re.search(r'^SIZES="([\d ]+)"', INSTALL.read_text(encoding="utf-8"), re.MULTILINE)
    assert install_sizes and tuple(int(s) for s in install_sizes.group(1).split()) == sizes


@pytest.mark.parametrize("size", listed_sizes())
def test_each_png_has_its_size_a_transparent_corner_and_an_opaque_centre(size):
    path = HICOLOR / f"{size}x{size}" / "apps" / f"{read_entry(DESKTOP)['Icon']}.png"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        rgba = image.convert("RGBA")
    assert rgba.getpixel((0, 0))[3] == 0  # rounded corners: no square box on a dark panel
    assert rgba.getpixel((size // 2, size // 2))[3] == 255


def test_the_scalable_icon_is_a_square_svg():
    path = HICOLOR / "scalable" / "apps" / f"{read_entry(DESKTOP)['Icon']}.svg"
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    assert width == height


def test_the_frozen_app_puts_resources_where_resources_dir_looks(tmp_path):
    """Rebuild the bundle's layout from the spec's destination and ask resources_dir() there."""
    spec = SPEC.read_text(encoding="utf-8")
    match = re.search(r'\(str\(RESOURCES\), "([^"]+)"\)', spec)
    assert match, "the spec no longer adds the resources folder"
    bundle = tmp_path / "_internal"
    (bundle / match.group(1)).mkdir(parents=True)
    module_path = bundle / "aldesk" / "core" / "resources.py"
    module_path.parent.mkdir(parents=True)
    shutil.copy(ROOT / "aldesk" / "core" / "resources.py", module_path)
    loader_spec = importlib.util.spec_from_file_location("frozen_resources", module_path)
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)
    assert module.resources_dir() == (bundle / match.group(1)).resolve()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_install_script_puts_a_working_entry_under_xdg_data_home(tmp_path):
    app = tmp_path / "my apps" / "aldesk"
    app.parent.mkdir()
    app.write_text("#!/bin/sh\nexit 0\n")
    app.chmod(0o755)
    data = tmp_path / "share"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(data)}
    done = subprocess.run(["bash", str(INSTALL), str(app)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    installed = read_entry(data / "applications" / "aldesk.desktop")
    assert shlex.split(installed["Exec"]) == [str(app), "%f"]  # quoted: the path has a space
    assert installed["TryExec"] == str(app)
    for size in listed_sizes():
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "aldesk.png").is_file()
    assert (data / "mime" / "packages" / "aldesk.xml").is_file()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(data / "applications" / "aldesk.desktop")], capture_output=True, text=True, timeout=60
        )
        assert check.returncode == 0 and "error" not in check.stdout, check.stdout

    removed = subprocess.run(["bash", str(INSTALL), "--uninstall"], env=env, capture_output=True, text=True, timeout=60)
    assert removed.returncode == 0, removed.stderr
    assert not (data / "applications" / "aldesk.desktop").exists()
    assert not list((data / "icons").rglob("aldesk.*"))


def test_the_install_script_refuses_a_missing_program(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "share")}
    done = subprocess.run(
        ["bash", str(INSTALL), str(tmp_path / "nowhere" / "aldesk")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "Cannot find the aldesk program" in done.stderr
    assert not (tmp_path / "share" / "applications").exists()
