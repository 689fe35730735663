"""Read weights files safely and load them strictly, with messages a person can act on."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from aldesk.core.errors import AldeskError

StateDict = dict[str, torch.Tensor]

# Training scripts often save {"state_dict": ...} or {"model": ...} instead of the bare dict.
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net")
_EXAMPLES = 3


def read_state_dict(path: Path, backbone: str) -> StateDict:
    """The tensors in ``path`` by name; AldeskError if the file is missing or not a weights file."""
    if not path.is_file():
        raise AldeskError(f"Weights file {path} for {backbone} does not exist; check the path.")
    try:
        # weights_only: a weights file is data; never run code from a pickle.
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if _refused_object(str(exc)):
            raise AldeskError(
                f"Weights file {path} contains Python objects, not just tensors, and aldesk does "
                f"not unpickle those for safety. Save a plain state dict (torch.save(model.state_dict(), "
                f"FILE)) and pass that with --weights."
            ) from None
        raise _not_weights(path, backbone, exc) from None
    except OSError as exc:
        if exc.errno is None:  # torch's own OSErrors describe the content, not the disk
            raise _not_weights(path, backbone, exc) from None
        raise AldeskError(f"Weights file {path} cannot be read ({exc.strerror or exc}); check its permissions.") from None
    except Exception as exc:  # torch.load parses untrusted bytes and can raise almost anything
        raise _not_weights(path, backbone, exc) from None
    return _as_state_dict(loaded, path, backbone)


# What torch's weights-only unpickler says when a real pickle names a class or function it does
# not allow. Every other "Weights only load failed" (e.g. "Unsupported operand 20") means the
# bytes are no pickle at all: random bytes, a truncated file, another format.
_OBJECT_REFUSALS = re.compile(
    r"was not an allowed global|whose module \S+ is blocked|call reduce for unrecognized function"
    r"|Can only create new object|Can only build"
)


def _refused_object(message: str) -> bool:
    return _OBJECT_REFUSALS.search(message) is not None


def _not_weights(path: Path, backbone: str, exc: BaseException) -> AldeskError:
    # torch's own text for unparseable bytes is a long hint about weights_only=False, which would
    # mislead (and be unsafe): name only what it is not, and what is expected instead.
    text = str(exc).strip()
    unhelpful = isinstance(exc, (pickle.UnpicklingError, KeyError)) or not text  # e.g. "Unsupported operand 20"
    detail = "" if unhelpful else f": {text.splitlines()[0][:200]}"
    return AldeskError(
        f"Weights file {path} is not a PyTorch weights file (truncated, damaged, or not a torch "
        f"file{detail}). Expected the {backbone} weights saved with torch.save(model.state_dict(), "
        "FILE); pass a complete copy of that file with --weights."
    )


def _as_state_dict(loaded: object, path: Path, backbone: str) -> StateDict:
    if isinstance(loaded, Mapping):
        for key in _WRAPPER_KEYS:
            inner = loaded.get(key)
            if isinstance(inner, Mapping) and inner and _all_tensors(inner):
                loaded = inner
                break
    if not isinstance(loaded, Mapping) or not loaded or not _all_tensors(loaded):
        raise AldeskError(
            f"Weights file {path} is a torch file but not a state dict (a mapping of parameter "
            f"names to tensors), so it cannot be {backbone} weights. Pass the file saved with "
            "torch.save(model.state_dict(), FILE)."
        )
    return {str(name): tensor for name, tensor in loaded.items()}


def _all_tensors(mapping: Mapping[object, object]) -> bool:
    return all(isinstance(value, torch.Tensor) for value in mapping.values())


def strip_prefix(state: StateDict, prefixes: Iterable[str]) -> StateDict:
    """Drop the first prefix that every key carries (``module.`` from DataParallel, ...)."""
    for prefix in prefixes:
        if all(name.startswith(prefix) for name in state):
            return {name[len(prefix) :]: tensor for name, tensor in state.items()}
    return state


def drop_keys(state: StateDict, prefixes: Iterable[str]) -> StateDict:
    """Leave out the parameters under any of ``prefixes`` (a classifier we do not use)."""
    prefixes = tuple(prefixes)
    return {name: tensor for name, tensor in state.items() if not name.startswith(prefixes)}


def load_strict(model: nn.Module, state: StateDict, path: Path, backbone: str) -> None:
    """Load ``state`` into ``model`` with every name and shape matching, else AldeskError."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    wrong_shape = [
        f"{name} is {list(state[name].shape)} in the file, {list(tensor.shape)} in {backbone}"
        for name, tensor in expected.items()
        if name in state and state[name].shape != tensor.shape
    ]
    if missing or unexpected or wrong_shape:
        problems = []
        if missing:
            problems.append(f"{len(missing)} of {len(expected)} parameters missing (e.g. {_some(missing)})")
        if unexpected:
            problems.append(f"{len(unexpected)} unknown parameters (e.g. {_some(unexpected)})")
        if wrong_shape:
            problems.append(f"{len(wrong_shape)} with the wrong shape (e.g. {_some(wrong_shape, 1)})")
        raise AldeskError(
            f"Weights file {path} does not fit the {backbone} architecture: {'; '.join(problems)}. "
            f"It is probably for another model; choose the backbone it was made for, or pass "
            f"{backbone} weights with --weights."
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied
        raise AldeskError(f"Weights file {path} cannot be loaded into {backbone}: {exc}") from None


def _some(names: list[str], count: int = _EXAMPLES) -> str:
    return ", ".join(names[:count]) + (", ..." if len(names) > count else "")


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes (hex), remembered while its size and mtime stay the same."""
    info = os.stat(path)
    return _digest(str(Path(path).resolve()), info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key only
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def identity_for(name: str, weights_digest: str, recipe: str) -> str:
    """Cache key for embeddings: changes with the weights' bytes or the preprocessing recipe."""
    short = hashlib.sha256(f"{weights_digest}\n{recipe}".encode()).hexdigest()[:12]
    return f"{name}-{short}"
