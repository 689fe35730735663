"""Where models run: the torch device a person asked for, and how many CPU threads to use."""

from __future__ import annotations

import os
import re

import torch

from aldesk.core.errors import AldeskError

THREADS_ENV = "ALDESK_THREADS"
_CUDA_NAME = re.compile(r"cuda(?::(\d+))?")


def resolve_device(preference: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; ``cpu``, ``cuda[:N]`` and ``mps``
    are taken as asked, with an AldeskError when that device is not there."""
    choice = preference.strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "mps":
        if not _mps_available():
            raise AldeskError("--device mps: no Apple MPS device is available here; use --device cpu.")
        return torch.device("mps")
    cuda = _CUDA_NAME.fullmatch(choice)
    if cuda:
        if not torch.cuda.is_available():
            raise AldeskError(
                f"--device {preference}: there is no CUDA device on this machine (or torch was "
                "installed without CUDA support); use --device cpu."
            )
        index = int(cuda.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise AldeskError(
                f"--device {preference}: this machine has {count} CUDA device(s), numbered 0 to "
                f"{count - 1}; pick one of those or use --device cpu."
            )
        return torch.device("cuda", index)
    raise AldeskError(f"Unknown device {preference!r}; use one of: auto, cpu, cuda, cuda:N, mps.")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def configure_cpu_threads() -> int:
    """Set torch's intra-op thread count and return it; calling again changes nothing.

    One thread per physical core: on CPUs with SMT the second hardware thread of a core mostly
    competes for the same vector units, so more threads make convolutions slower, not faster.
    ``ALDESK_THREADS`` overrides the choice (e.g. to leave cores free for other work).
    """
    count = _threads_from_env()
    if count is None:
        count = _physical_cores()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def _threads_from_env() -> int | None:
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise AldeskError(
            f"{THREADS_ENV}={raw!r} is not a thread count; set it to a whole number of at least 1 "
            "or unset it to use one thread per physical core."
        )
    return value


def _physical_cores() -> int:
    usable = _usable_cpus()
    cores = _linux_physical_cores()
    if cores is None:
        return usable  # no topology information: logical CPUs are the best guess
    return max(1, min(cores, usable))


def _usable_cpus() -> int:
    # The CPUs this process may run on (taskset, containers), not just those in the machine.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _linux_physical_cores() -> int | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            return count_physical_cores(fh.read())
    except OSError:
        return None


def count_physical_cores(cpuinfo: str) -> int | None:
    """Distinct (package, core) pairs in /proc/cpuinfo text, or None when it names no cores."""
    cores: set[tuple[str, str]] = set()
    for block in cpuinfo.split("\n\n"):
        fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in block.splitlines())}
        if "core id" in fields:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return len(cores) or None
