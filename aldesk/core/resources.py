"""Where aldesk's bundled resources (demo sample, icons) live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path


def resources_dir() -> Path:
    """The resources folder: inside the package when installed from a wheel, else the checkout's."""
    packaged = Path(__file__).resolve().parents[1] / "resources"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "resources"
