"""Where models run: the torch device a person asked for, how many CPU threads to use, and how
much work fits in a GPU's free memory.

The device comes from ``--device`` where a command has it, else ``ALDESK_DEVICE``, else
``auto`` (CUDA, then Apple's MPS, then the CPU). Embedding runs on whatever that resolves to;
the learning engine (whitening, k-NN graph, heads, scoring) uses only CUDA and otherwise the CPU
(see :func:`compute_device`).
"""

from __future__ import annotations

import os
import re
from typing import TypeGuard, TypeVar

import torch

from aldesk.core.errors import AldeskError

THREADS_ENV = "ALDESK_THREADS"
DEVICE_ENV = "ALDESK_DEVICE"
_CUDA_NAME = re.compile(r"cuda(?::(\d+))?")


def device_preference(explicit: str | None = None) -> str:
    """What the person asked for: ``explicit`` (a ``--device`` value), else ``ALDESK_DEVICE``,
    else ``auto``."""
    if explicit is not None and explicit.strip():
        return explicit.strip()
    return os.environ.get(DEVICE_ENV, "").strip() or "auto"


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


def requested_device(explicit: str | None = None) -> torch.device:
    """:func:`resolve_device` of :func:`device_preference`; a bad ``ALDESK_DEVICE`` is named as such."""
    preference = device_preference(explicit)
    try:
        return resolve_device(preference)
    except AldeskError as exc:
        if explicit is not None and explicit.strip():
            raise
        raise AldeskError(
            f"{DEVICE_ENV}={preference!r} is set in the environment: {exc} (or unset {DEVICE_ENV} to let aldesk choose)."
        ) from None


def compute_device(explicit: str | None = None) -> torch.device:
    """Where the learning engine runs: the requested device if it is CUDA, else the CPU.

    MPS is left to embedding only: the engine's sparse graph products and L-BFGS fits are
    CUDA/CPU-tested, and Apple machines have fast CPUs for heads this small.
    """
    device = requested_device(explicit)
    return device if device.type == "cuda" else torch.device("cpu")


def describe_device(device: torch.device, threads: int | None = None) -> str:
    """For status lines: ``cuda:0 (NVIDIA RTX A4000)``, ``mps (Apple GPU)`` or ``cpu, 2 threads``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        try:
            name = torch.cuda.get_device_name(index)
        except (RuntimeError, AssertionError):  # a mocked or vanished device: the index still says which
            name = "CUDA device"
        return f"cuda:{index} ({name})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    count = threads if threads is not None else torch.get_num_threads()
    return f"{device.type}, {count} thread{'' if count == 1 else 's'}"


_Device = TypeVar("_Device", bound=torch.device | str)


# True means a device is there, so ``torch.device(device)`` type-checks after the test (a
# TypeGuard, not a TypeIs: False does not mean None, as a CPU device is not CUDA either).
def is_cuda(device: _Device | None) -> TypeGuard[_Device]:
    return device is not None and torch.device(device).type == "cuda"


def free_memory(device: torch.device) -> int | None:
    """Bytes this process can still use on a CUDA device, else None: what the driver reports
    free (other processes' use taken out) plus what torch's caching allocator holds unused here
    (after embedding, the backbone's activations stay reserved until reused)."""
    if not is_cuda(device):
        return None
    device = torch.device(device)
    free, _total = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int(free + max(cached, 0))


def is_out_of_memory(exc: BaseException) -> bool:
    """A device allocation failed (torch raises OutOfMemoryError; older paths a RuntimeError)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def release_cached_memory(device: torch.device) -> None:
    """Hand the caching allocator's unused blocks back after an out-of-memory error."""
    if is_cuda(device):
        torch.cuda.empty_cache()


# Share of the free device memory that one step may plan to use: the rest covers the caching
# allocator's rounding, cuDNN workspaces and the estimate's own error.
MEMORY_FRACTION = 0.5


def rows_that_fit(
    bytes_per_row: float,
    free_bytes: int,
    *,
    fraction: float = MEMORY_FRACTION,
    minimum: int = 1,
    maximum: int | None = None,
    multiple: int = 1,
) -> int:
    """How many rows of ``bytes_per_row`` fit in ``fraction`` of ``free_bytes``: at least
    ``minimum``, at most ``maximum``, rounded down to a ``multiple`` when above it. Pure: the
    caller reads the free memory (:func:`free_memory`)."""
    if bytes_per_row <= 0:
        raise ValueError(f"bytes per row must be positive, got {bytes_per_row}")
    rows = int(max(free_bytes, 0) * fraction // bytes_per_row)
    if maximum is not None:
        rows = min(rows, maximum)
    if multiple > 1 and rows >= multiple:
        rows -= rows % multiple
    return max(minimum, rows)


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
