"""The backbones' forward on ONNX Runtime: the vectors agree with torch's, the exported network is
cached and replaced when damaged, and every way it can fail keeps the torch forward with a reason.
A tiny convolutional network stands in for the backbones except in the one test of Lite0 itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders import lite0, load_backbone
from aldesk.ml.encoders import onnx_forward
from aldesk.ml.encoders.onnx_forward import choose_runtime, model_path

pytestmark = pytest.mark.skipif(bool(onnx_forward.missing_packages()), reason="needs onnxruntime and onnx")
SIDE = 32
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(onnx_forward.RUNTIME_ENV, raising=False)
    return tmp_path / "cache" / "aldesk" / "onnx"


def tiny_network() -> nn.Module:
    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return network.eval()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_exported_network_computes_what_torch_computes_and_is_cached(cache: Path) -> None:
    network = tiny_network()
    choice = choose_runtime(network, "tiny-1", SIDE, CPU, threads=1)
    assert choice.forward is not None and choice.why == "ONNX Runtime CPU"
    assert choice.forward.path == model_path("tiny-1", SIDE) and choice.forward.path.parent == cache
    batch = np.random.default_rng(1).standard_normal((5, 3, SIDE, SIDE)).astype(np.float32)
    with torch.inference_mode():
        expected = network(torch.from_numpy(batch)).numpy()
    got = choice.forward(batch)
    assert got.shape == (5, 16)
    assert cosines(got, expected).min() >= 0.999
    stamp = choice.forward.path.stat().st_mtime_ns
    again = choose_runtime(network, "tiny-1", SIDE, CPU, threads=1)
    assert again.forward is not None and again.forward.path.stat().st_mtime_ns == stamp  # loaded, not exported again
    assert [p.name for p in cache.iterdir()] == [choice.forward.path.name]  # no temporary file left


def test_another_identity_or_side_is_another_export() -> None:
    network = tiny_network()
    assert model_path("tiny-1", SIDE) != model_path("tiny-2", SIDE) != model_path("tiny-1", 2 * SIDE)
    first = choose_runtime(network, "tiny-1", SIDE, CPU, threads=1).forward
    larger = choose_runtime(network, "tiny-1", 2 * SIDE, CPU, threads=1).forward
    assert first is not None and larger is not None and first.path != larger.path


def test_a_damaged_cached_export_is_replaced_not_trusted() -> None:
    network = tiny_network()
    path = model_path("tiny-1", SIDE)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x08\x07 not a model")
    choice = choose_runtime(network, "tiny-1", SIDE, CPU, threads=1)
    assert choice.forward is not None
    assert path.read_bytes()[:20] != b"\x08\x07 not a model"[:20]


def test_an_export_of_another_network_under_the_same_key_is_refused_and_replaced() -> None:
    # A stale file (other weights under the same name) runs but disagrees: the probe finds it.
    other = tiny_network()
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.mul_(-1.0)
    assert choose_runtime(other, "tiny-1", SIDE, CPU, threads=1).forward is not None
    network = tiny_network()
    choice = choose_runtime(network, "tiny-1", SIDE, CPU, threads=1)
    assert choice.forward is not None
    probe = np.ones((1, 3, SIDE, SIDE), dtype=np.float32)
    with torch.inference_mode():
        assert cosines(choice.forward(probe), network(torch.from_numpy(probe)).numpy())[0] >= 0.999


def test_an_export_that_disagrees_with_torch_is_refused_and_torch_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_forward, "MIN_COSINE", 1.5)  # no export can reach it
    choice = choose_runtime(tiny_network(), "tiny-1", SIDE, CPU, threads=1)
    assert choice.forward is None
    assert choice.why.startswith("torch (") and "differs from torch's" in choice.why
    assert not model_path("tiny-1", SIDE).exists()  # not kept for the next start
    monkeypatch.setenv(onnx_forward.RUNTIME_ENV, "onnx")
    with pytest.raises(AldeskError, match="differs from torch's"):
        choose_runtime(tiny_network(), "tiny-1", SIDE, CPU, threads=1)


def test_an_unwritable_cache_keeps_torch_and_says_where(cache: Path) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the folder should be")
    choice = choose_runtime(tiny_network(), "tiny-1", SIDE, CPU, threads=1)
    assert choice.forward is None
    assert "cannot write the exported network" in choice.why and str(cache) in choice.why


def test_a_full_disk_during_the_export_leaves_no_file(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.onnx, "export", full_disk)
    choice = choose_runtime(tiny_network(), "tiny-1", SIDE, CPU, threads=1)
    assert choice.forward is None and "No space left on device" in choice.why
    assert list(cache.iterdir()) == []


def test_without_onnxruntime_torch_is_used_and_the_install_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_forward, "missing_packages", lambda: ["onnxruntime"])
    choice = choose_runtime(tiny_network(), "tiny-1", SIDE, CPU, threads=1)
    assert choice.forward is None and "pip install onnxruntime" in choice.why


def test_the_runtime_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(onnx_forward.RUNTIME_ENV, "torch")
    assert choose_runtime(tiny_network(), "tiny-1", SIDE, CPU, threads=1).forward is None
    monkeypatch.setenv(onnx_forward.RUNTIME_ENV, "tensorrt")
    with pytest.raises(AldeskError, match="ALDESK_RUNTIME='tensorrt'.*auto, torch, onnx"):
        choose_runtime(tiny_network(), "tiny-1", SIDE, CPU, threads=1)


@pytest.mark.skipif(lite0.package_weights() is None, reason="needs the efficientnet-lite0 weights package")
def test_lite0_on_onnx_runtime_gives_the_vectors_torch_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = load_backbone(lite0.NAME, device="cpu")
    assert fast.runtime == "ONNX Runtime CPU"
    monkeypatch.setenv(onnx_forward.RUNTIME_ENV, "torch")
    slow = load_backbone(lite0.NAME, device="cpu")
    assert slow.runtime.startswith("torch")
    assert fast.identity == slow.identity  # interchangeable: no project is embedded again
    batch = torch.from_numpy(np.random.default_rng(2).uniform(-2, 2, (4, 3, 224, 224)).astype(np.float32))
    assert cosines(fast.embed(batch).numpy(), slow.embed(batch).numpy()).min() >= 0.999
