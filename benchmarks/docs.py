"""Shared by the benchmark scripts: describe the machine, and update one section of
docs/benchmarks.md without touching the others."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown CPU" where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def ram_gib() -> float | None:
    """Total RAM in GiB from /proc/meminfo, or None where it cannot be read."""
    try:
        return int(Path("/proc/meminfo").read_text().split()[1]) / 1024 ** 2
    except (OSError, ValueError, IndexError):
        return None


def machine_summary() -> str:
    cpu = cpu_model()
    ram = ram_gib()
    memory = f", {ram:.0f} GiB RAM" if ram is not None else ""
    return f"Machine: {os.cpu_count()} cores ({cpu}){memory}, {platform.system()}, no GPU used"


def replace_section(title: str, body: str, path: Path = DOCS) -> None:
    """Write ``## title`` with ``body``, replacing that section if it exists, else appending."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.rstrip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def keep_open_problems_last(path: Path = DOCS) -> None:
    """replace_section appends new sections at the end; the "Open problems" section stays last."""
    text = path.read_text(encoding="utf-8")
    match = re.search(r"^## Open problems\n.*?(?=^## |\Z)", text, re.S | re.M)
    if match and text[match.end():].strip():
        rest = (text[: match.start()] + text[match.end():]).rstrip()
        path.write_text(rest + "\n\n" + match.group(0).rstrip() + "\n", encoding="utf-8")
