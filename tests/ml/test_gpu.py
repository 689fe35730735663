"""GPU support without a GPU: batch sizes from a given free-memory figure, the out-of-memory
back-off with a backbone that fails like a full GPU, the GPU code paths of the engine run on the
CPU (their chunking and bookkeeping), and, where CUDA exists, the real thing (skipped here)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import refresh_round
from aldesk.core.errors import AldeskError
from aldesk.ml.encoders import embed as embed_mod
from aldesk.ml import features
from aldesk.ml.loop import pool as engine
from aldesk.ml.heads import linear as heads
from aldesk.ml.heads import cnn as scratch_cnn
from aldesk.ml.encoders import Backbone, get_spec, load_backbone
from aldesk.ml.encoders.lite_arch import EfficientNetLite
from aldesk.ml.encoders.memory import LIVE_ACTIVATIONS, bytes_per_image, largest_activation
from aldesk.ml.encoders.pixels import TRANSFORM as PIXEL_TRANSFORM
from aldesk.ml.encoders.pixels import build as build_pixels
from aldesk.ml.encoders.embed import GPU_MAX_BATCH, BatchRunner, default_batch_size, embed_sources, gpu_batch_size

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def pixel_backbone(device: str = "cpu") -> Backbone:
    spec = get_spec("pixels")
    return Backbone(spec, build_pixels(), torch.device(device), "pixels-test", PIXEL_TRANSFORM, load_side=64)


def pictures(count: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)) for _ in range(count)]


# --- batch sizes ----------------------------------------------------------------------------


def test_gpu_batch_size_from_free_memory():
    per_image = 10 << 20  # 10 MiB per image
    assert gpu_batch_size(8 << 30, per_image) == GPU_MAX_BATCH  # a big card: capped
    assert gpu_batch_size(1 << 30, per_image) == 48  # half of 1 GiB = 51 images, in eights
    assert gpu_batch_size(100 << 20, per_image) == 5  # below one multiple of 8: kept as is
    assert gpu_batch_size(0, per_image) == 1  # nothing free: one at a time (the back-off decides)
    small, large = gpu_batch_size(2 << 30, per_image), gpu_batch_size(4 << 30, per_image)
    assert small < large


def test_default_batch_size_reads_free_memory_on_cuda(monkeypatch):
    fake = SimpleNamespace(device=torch.device("cuda", 0), spec=get_spec("efficientnet-lite0"), bytes_per_image=lambda: 20 << 20)
    monkeypatch.setattr(embed_mod, "free_memory", lambda device: 2 << 30)
    assert default_batch_size(fake) == gpu_batch_size(2 << 30, 20 << 20) == 48
    monkeypatch.setattr(embed_mod, "free_memory", lambda device: 512 << 20)
    assert default_batch_size(fake) == 8


def test_cpu_batch_size_unchanged():
    assert default_batch_size(pixel_backbone()) == 256  # 32 x 32 input: the CPU rule's cap
    lite = SimpleNamespace(device=torch.device("cpu"), spec=get_spec("efficientnet-lite0"))
    assert default_batch_size(lite) == 32


def test_memory_estimate_follows_the_largest_activation():
    network = EfficientNetLite().eval()
    # Lite0's largest activation at 224 px is the first expansion: 16 x 6 = 96 channels at 112 x 112.
    assert largest_activation(network, 224, torch.device("cpu")) == 96 * 112 * 112
    assert largest_activation(network, 112, torch.device("cpu")) == 96 * 56 * 56
    estimate = bytes_per_image(network, 224, torch.device("cpu"), element_size=2)
    assert estimate == LIVE_ACTIVATIONS * 96 * 112 * 112 * 2 + 3 * 224 * 224 * 6
    assert largest_activation(build_pixels(), 32, torch.device("cpu")) == 3 * 32 * 32
    backbone = pixel_backbone()
    assert backbone.bytes_per_image() == bytes_per_image(build_pixels(), 32, torch.device("cpu"), 4)


# --- out-of-memory back-off -----------------------------------------------------------------


class FullGpuBackbone:
    """Embeds like the pixel backbone but fails like a full GPU above ``fits`` images."""

    def __init__(self, fits: int) -> None:
        self.inner = pixel_backbone()
        self.spec, self.device = self.inner.spec, self.inner.device
        self.fits = fits
        self.calls: list[int] = []

    def preprocess(self, image):
        return self.inner.preprocess(image)

    def embed(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(batch))
        if len(batch) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return self.inner.embed(batch)


def test_out_of_memory_halves_the_batch_and_loses_nothing():
    images = pictures(21)
    expected = pixel_backbone().embed(torch.stack([pixel_backbone().preprocess(p) for p in images])).numpy()
    backbone = FullGpuBackbone(fits=3)
    chunks = list(embed_sources(backbone, [lambda p=p: p for p in images], batch_size=8, workers=1))
    positions = np.concatenate([c.positions for c in chunks])
    vectors = np.concatenate([c.vectors for c in chunks])
    assert positions.tolist() == list(range(21))
    np.testing.assert_array_equal(vectors, expected)
    # 8 fails, 4 fails, then 2 at a time for the rest of the run (never retried larger).
    assert backbone.calls[:3] == [8, 4, 2]
    assert max(backbone.calls[3:]) == 2


def test_out_of_memory_on_one_image_says_what_to_do():
    runner = BatchRunner(FullGpuBackbone(fits=0), limit=4)
    with pytest.raises(AldeskError, match=r"out of memory.*even for one image.*--device cpu"):
        runner([torch.zeros(3, 32, 32)] * 4)


def test_other_errors_are_not_retried():
    class Broken(FullGpuBackbone):
        def embed(self, batch):
            self.calls.append(len(batch))
            raise RuntimeError("shape mismatch")

    backbone = Broken(fits=8)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        BatchRunner(backbone, limit=8)([torch.zeros(3, 32, 32)] * 8)
    assert backbone.calls == [8]


def test_tensors_land_on_the_chosen_device():
    backbone = pixel_backbone("cpu")
    assert backbone.device == torch.device("cpu") and not backbone.mixed_precision
    assert all(p.device.type == "cpu" for p in backbone.network.parameters()) or not list(backbone.network.parameters())
    out = backbone.embed(torch.zeros(2, 3, 32, 32))
    assert out.device.type == "cpu" and out.dtype == torch.float32
    assert load_backbone("pixels", device="cpu").device == torch.device("cpu")


def test_mixed_precision_returns_float16_features():
    # CPU autocast float16 as a stand-in for the CUDA path's dtype handling.
    backbone = Backbone(get_spec("pixels"), build_pixels(), torch.device("cpu"), "x", PIXEL_TRANSFORM, 64, mixed_precision=True)
    batch = torch.stack([backbone.preprocess(p) for p in pictures(3)])
    out = backbone.embed(batch)
    assert out.dtype == torch.float16 and out.shape == (3, 3072)
    np.testing.assert_allclose(out.float().numpy(), batch.flatten(1).numpy(), atol=1e-3)


# --- the engine's GPU code paths, run on the CPU --------------------------------------------


def take_gpu_paths_on_cpu(monkeypatch) -> None:
    """From here on, take the CUDA branches with CPU tensors and a small free-memory figure, so
    that their chunking runs over many small chunks."""
    for module in (features, heads, engine, scratch_cnn):
        monkeypatch.setattr(module, "is_cuda", lambda device: device is not None and torch.device(device).type == "cpu")
    monkeypatch.setattr(features, "free_memory", lambda device: 1 << 20)


@pytest.fixture
def gpu_paths_on_cpu(monkeypatch):
    take_gpu_paths_on_cpu(monkeypatch)


def blobs(n: int = 600, d: int = 40, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = rng.normal(0, 3, (classes, d))
    return (centres[y] + rng.normal(0, 1, (n, d))).astype(np.float16), y


def test_whitening_and_graph_chunks_match_the_cpu_code(gpu_paths_on_cpu):
    x, _ = blobs(3000)
    cpu_w = features.fit_whitening(x, seed=0)
    z_cpu = cpu_w.apply(x)
    z_gpu = cpu_w.apply(x, device=torch.device("cpu"))  # 1 MiB free: chunks of 1,024 rows
    torch.testing.assert_close(z_gpu, z_cpu, atol=1e-5, rtol=1e-5)
    idx_cpu, sims_cpu = features.knn_graph(z_cpu[:1500], k=5)
    idx_gpu, sims_gpu = features.knn_graph(z_cpu[:1500], k=5, device=torch.device("cpu"))  # blocks of 256
    assert idx_gpu.device.type == "cpu"
    torch.testing.assert_close(sims_gpu, sims_cpu)
    assert (idx_gpu == idx_cpu).float().mean() > 0.99  # ties may order differently


@pytest.mark.parametrize("graph_max", [engine.GRAPH_MAX, 300])  # 300: labels outside the graph sample too
def test_refresh_on_the_gpu_paths_matches_the_cpu(monkeypatch, graph_max):
    x, y_all = blobs(800)
    labeled = np.arange(0, 800, 8)
    eligible = np.ones(800, dtype=bool)
    eligible[labeled] = False

    def run():
        pool = engine.PoolModel.build(x, device="cpu", graph_max=graph_max)
        result = refresh_round(pool, labeled, y_all[labeled], eligible, 3, rng=np.random.default_rng(0))
        pool.graph()
        return result, pool

    ref, ref_pool = run()
    assert ref_pool.fit_device is None
    take_gpu_paths_on_cpu(monkeypatch)
    got, got_pool = run()
    assert got_pool.fit_device is not None  # the device branches ran
    np.testing.assert_allclose(got.probs, ref.probs, atol=1e-5)
    assert got.selection.indices.tolist() == ref.selection.indices.tolist()
    assert got.train.head.weight.device.type == "cpu"


def test_cnn_head_gpu_path_trains_and_scores_like_the_cpu(gpu_paths_on_cpu):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.3, (60, 3072)).astype(np.float32)
    y = np.arange(60) % 3
    x[:, :1024] += y[:, None] * 0.5
    ref, _ = scratch_cnn.fit_cnn(x, y, 3, steps=5)
    got, _ = scratch_cnn.fit_cnn(x, y, 3, steps=5, device=torch.device("cpu"))
    assert got.device == torch.device("cpu") and ref.device is None
    assert all(p.device.type == "cpu" for p in got.network.parameters())
    torch.testing.assert_close(got.predict_proba(x), ref.predict_proba(x))
    torch.testing.assert_close(got.features(x), ref.features(x))


def test_cpu_pool_keeps_the_cpu_code(monkeypatch):
    monkeypatch.setenv("ALDESK_DEVICE", "cpu")
    x, _ = blobs(300)
    pool = engine.PoolModel.build(x)
    assert pool.device == torch.device("cpu") and pool.fit_device is None
    assert pool.scoring_z() is pool.z


def test_scoring_copy_only_when_it_fits(monkeypatch):
    x, _ = blobs(300)
    pool = engine.PoolModel.build(x, device="cpu")
    pool.device = torch.device("cuda", 0)  # pretend; only the size check runs
    monkeypatch.setattr(engine, "free_memory", lambda device: 1000)
    assert pool.scoring_z() is pool.z  # 300 x 40 float32 = 48 kB does not fit in half of 1 kB


# --- on a real GPU (skipped without one) ----------------------------------------------------


@needs_cuda
def test_real_gpu_embeddings_close_to_cpu_float32():
    try:
        gpu = load_backbone("efficientnet-lite0", device="cuda")
    except AldeskError as exc:
        pytest.skip(str(exc))
    cpu = load_backbone("efficientnet-lite0", device="cpu")
    batch = torch.stack([cpu.preprocess(p) for p in pictures(16)])
    a, b = gpu.embed(batch).float(), cpu.embed(batch)
    assert gpu.embed(batch).dtype == torch.float16
    assert torch.nn.functional.cosine_similarity(a, b).min() >= 0.999
    assert 1 <= default_batch_size(gpu) <= GPU_MAX_BATCH


@needs_cuda
def test_real_gpu_embed_sources_pinned_and_complete():
    backbone = pixel_backbone("cuda")
    images = pictures(40)
    chunks = list(embed_sources(backbone, [lambda p=p: p for p in images], batch_size=16))
    assert sum(len(c.positions) for c in chunks) == 40
    expected = pixel_backbone().embed(torch.stack([backbone.preprocess(p) for p in images])).numpy()
    np.testing.assert_allclose(np.concatenate([c.vectors for c in chunks]).astype(np.float32), expected, atol=2e-3)


@needs_cuda
def test_real_gpu_refresh_agrees_with_cpu():
    x, y_all = blobs(2000)
    labeled = np.arange(0, 2000, 10)
    eligible = np.ones(2000, dtype=bool)
    eligible[labeled] = False
    runs = []
    for device in ("cpu", "cuda"):
        pool = engine.PoolModel.build(x, device=device)
        runs.append(refresh_round(pool, labeled, y_all[labeled], eligible, 3, rng=np.random.default_rng(0)))
    cpu_run, gpu_run = runs
    assert gpu_run.train.head.weight.device.type == "cpu"
    assert (cpu_run.probs.argmax(1) == gpu_run.probs.argmax(1)).mean() >= 0.99
    np.testing.assert_allclose(gpu_run.probs, cpu_run.probs, atol=0.05)
