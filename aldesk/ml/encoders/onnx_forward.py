"""The frozen image backbones' forward pass on ONNX Runtime: the same network, about 4.6x faster
on these CPUs than torch's (DESIGN.md; benchmarks/bench_embed.py measures it in every run).

The torch module is exported once per weights identity and input side into the user cache
(``onnx/``), written to a temporary name and renamed, so a kill or a full disk never leaves a
half-written model to be loaded. Every load runs a probe batch through both paths and refuses the
exported one unless each vector's cosine to torch's is at least ``MIN_COSINE``: the embeddings
stay interchangeable with those torch computed, so no project needs re-embedding, and a damaged
or stale cache file is replaced instead of trusted. Whatever goes wrong (onnxruntime or onnx not
installed, export refused, the cache unwritable) the caller keeps the torch forward and is told why.

``ALDESK_RUNTIME`` chooses: ``auto`` (default; ONNX Runtime when it works), ``torch``, ``onnx``
(an error instead of the fallback, for benchmarks and for finding out why it is not used).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import torch
from torch import nn

from aldesk.core.errors import AldeskError

log = logging.getLogger(__name__)

RUNTIME_ENV = "ALDESK_RUNTIME"
RUNTIMES = ("auto", "torch", "onnx")
MIN_COSINE = 0.999  # per probe vector, against torch's (the tolerance)
PROBE_BATCH = 3
OPSET = 17


def requested_runtime() -> str:
    raw = os.environ.get(RUNTIME_ENV, "auto").strip().lower() or "auto"
    if raw not in RUNTIMES:
        raise AldeskError(f"{RUNTIME_ENV}={raw!r} is not a runtime; use one of {', '.join(RUNTIMES)} (or unset it).")
    return raw


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("aldesk", appauthor=False)) / "onnx"


def missing_packages() -> list[str]:
    """The packages exporting and running need that are not installed."""
    return [name for name in ("onnxruntime", "onnx") if importlib.util.find_spec(name) is None]


class OnnxForward:
    """A frozen network's forward on ONNX Runtime: float32 [B, 3, S, S] -> float32 [B, dim]."""

    def __init__(self, session: Any, path: Path, provider: str) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self.path = path
        self.provider = provider

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self._session.run(None, {self._input: np.ascontiguousarray(batch, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32)


@dataclass(frozen=True)
class RuntimeChoice:
    forward: OnnxForward | None  # None: the torch forward
    why: str  # one line for `aldesk info` / the log: which runtime and, for torch, why


def model_path(identity: str, side: int) -> Path:
    """Where the export of the network with ``identity`` at ``side`` px lives; the torch version
    is part of the key, since another exporter may write another graph."""
    key = hashlib.sha256(f"{identity}|{side}|torch {torch.__version__}|opset {OPSET}".encode()).hexdigest()[:20]
    return cache_dir() / f"{key}.onnx"


def choose_runtime(network: nn.Module, identity: str, side: int, device: torch.device, threads: int) -> RuntimeChoice:
    """ONNX Runtime for ``network`` where it can be used and agrees with torch, else torch and why."""
    wanted = requested_runtime()
    if wanted == "torch":
        return RuntimeChoice(None, f"torch ({RUNTIME_ENV}=torch)")
    try:
        forward = _onnx_forward(network, identity, side, device, threads)
    except AldeskError as exc:
        if wanted == "onnx":
            raise
        log.warning("ONNX Runtime not used: %s", exc)
        return RuntimeChoice(None, f"torch ({exc})")
    return RuntimeChoice(forward, f"ONNX Runtime {forward.provider}")


def _onnx_forward(network: nn.Module, identity: str, side: int, device: torch.device, threads: int) -> OnnxForward:
    missing = missing_packages()
    if missing:
        raise AldeskError(
            f"{' and '.join(missing)} not installed; `pip install {' '.join(missing)}` makes embedding about 4x faster"
        )
    import onnxruntime as ort

    provider = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}.get(device.type)
    if provider is None or provider not in ort.get_available_providers():
        raise AldeskError(f"this onnxruntime has no provider for {device.type}")
    path = model_path(identity, side)
    probe = _probe(side)
    expected = _torch_forward(network, probe)
    if path.is_file():
        try:
            forward = _session(path, provider, threads)
            _check(forward, probe, expected, path)
            return forward
        except AldeskError as exc:
            log.warning("%s; exporting it again", exc)
            path.unlink(missing_ok=True)
    _export(network, side, path)
    forward = _session(path, provider, threads)
    try:
        _check(forward, probe, expected, path)
    except AldeskError:
        path.unlink(missing_ok=True)  # a refused export is not kept for the next start
        raise
    return forward


def _probe(side: int) -> np.ndarray:
    # Normalised-looking pixels (mean 0, unit spread), seeded: the same probe on every load.
    rng = np.random.default_rng(side)
    return rng.standard_normal((PROBE_BATCH, 3, side, side)).astype(np.float32)


def _torch_forward(network: nn.Module, batch: np.ndarray) -> np.ndarray:
    parameter = next(network.parameters(), None)
    where = parameter.device if parameter is not None else torch.device("cpu")
    with torch.inference_mode():
        features: torch.Tensor = network(torch.from_numpy(batch).to(where))
    return features.float().cpu().numpy()


def _check(forward: OnnxForward, probe: np.ndarray, expected: np.ndarray, path: Path) -> None:
    try:
        got = forward(probe)
    except Exception as exc:  # noqa: BLE001 - whatever the runtime raises, the torch forward stays
        raise AldeskError(f"the exported network {path} does not run ({exc})") from exc
    if got.shape != expected.shape:
        raise AldeskError(f"the exported network {path} gives {got.shape}, torch {expected.shape}")
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    cosine = float(np.min((got * expected).sum(axis=1) / np.maximum(norms, 1e-12)))
    if not cosine >= MIN_COSINE:  # also refuses NaN
        raise AldeskError(f"the exported network {path} differs from torch's (cosine {cosine:.5f} < {MIN_COSINE})")


def _session(path: Path, provider: str, threads: int) -> OnnxForward:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are not the person's concern
    # Idle runtime threads otherwise spin between runs, taking the cores the decoding threads
    # (and the window) need while a batch is being prepared.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=[provider])
    except Exception as exc:  # noqa: BLE001 - a damaged file raises onnxruntime's own error types
        raise AldeskError(f"the exported network {path} cannot be loaded ({exc})") from exc
    return OnnxForward(session, path, provider.removesuffix("ExecutionProvider"))


def _export(network: nn.Module, side: int, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=path.stem, suffix=".part", dir=path.parent)
        os.close(handle)
    except OSError as exc:
        raise AldeskError(f"cannot write the exported network into {path.parent} ({exc.strerror or exc})") from exc
    cpu_copy = _cpu_module(network)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of torch.export, which needs
            # onnxscript; this one needs only onnx and exports these networks exactly.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                cpu_copy,
                (torch.zeros(1, 3, side, side),),
                temporary,
                dynamo=False,
                input_names=["pixels"],
                output_names=["features"],
                dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
                opset_version=OPSET,
            )
        os.replace(temporary, path)
    except OSError as exc:
        raise AldeskError(f"cannot write the exported network {path} ({exc.strerror or exc})") from exc
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; torch stays
        raise AldeskError(f"exporting the network to ONNX failed ({type(exc).__name__}: {exc})") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)


def _cpu_module(network: nn.Module) -> nn.Module:
    parameter = next(network.parameters(), None)
    if parameter is None or parameter.device.type == "cpu":
        return network
    import copy

    return copy.deepcopy(network).cpu()
