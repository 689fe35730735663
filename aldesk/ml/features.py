"""Pool-level feature work shared by heads and strategies: whitening and the k-NN graph.

Both are unsupervised (they look at the pool's embeddings, never at labels) and are computed
once per embedding set, then reused for every retrain. With a CUDA ``device`` the projection of
the pool and the k-NN search run there in chunks sized to its free memory and the results come
back to the CPU; without one (the default) the CPU code below runs as it always has.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from aldesk.ml.device import free_memory, is_cuda, rows_that_fit

# Whitened features keep at most this many principal directions: plenty for a linear head on
# 1,280-d backbone features, and it makes training and k-NN search several times cheaper.
MAX_COMPONENTS = 256
# The statistics need no more than this many rows to be stable.
FIT_SAMPLE = 20_000


@dataclass
class Whitening:
    """x -> (x - mean) @ components / scale: centred, rotated onto the principal directions and
    scaled by one number, so the features have unit variance on average.

    The directions keep their relative variance on purpose: equalising them (full whitening)
    would give noise directions the same weight as the signal, which hurts a head trained on a
    few dozen labels and the cosine k-NN graph alike (measured on digits and Fashion-MNIST).
    """

    mean: np.ndarray  # [d]
    components: np.ndarray  # [d, r]
    scale: float

    @property
    def dim(self) -> int:
        return int(self.components.shape[1])

    def apply(self, x: np.ndarray | torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
        """The features of ``x`` as a float32 CPU tensor [N, r] (computed on ``device`` if CUDA)."""
        if is_cuda(device):
            return self._apply_on(x, torch.device(device))
        t = torch.as_tensor(x)
        mean = torch.from_numpy(self.mean)
        proj = torch.from_numpy(self.components) / self.scale
        out = torch.empty((t.shape[0], self.dim), dtype=torch.float32)
        step = 65_536  # bounded temporary memory on very large pools
        for start in range(0, t.shape[0], step):
            out[start : start + step] = (t[start : start + step].float() - mean) @ proj
        return out

    def _apply_on(self, x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
        t = torch.as_tensor(x)
        d = self.mean.shape[0]
        mean = torch.from_numpy(self.mean).to(device)
        proj = (torch.from_numpy(self.components) / self.scale).to(device)
        out = torch.empty((t.shape[0], self.dim), dtype=torch.float32)
        # Per row on the device: the input as stored, its float32 copy, and the output.
        per_row = d * (t.element_size() + 4) + self.dim * 4
        step = rows_that_fit(per_row, free_memory(device) or 0, minimum=1024, maximum=1 << 20)
        for start in range(0, t.shape[0], step):
            part = t[start : start + step].to(device, non_blocking=True).float()
            out[start : start + step] = ((part - mean) @ proj).cpu()
        return out


def fit_whitening(x: np.ndarray, max_components: int = MAX_COMPONENTS, seed: int = 0) -> Whitening:
    """PCA fitted on (a sample of) the pool, by a randomised SVD (fast on wide features).

    Always on the CPU, also for a CUDA pool: the randomised SVD's start comes from the device's
    own random generator, so a GPU fit would give other trailing components than the CPU fit
    that a model export repeats from the stored embeddings (aldesk/ml/heads/linear_export.py), and the
    export would then refuse. It runs once per embedding set on at most 20,000 rows."""
    rng = np.random.default_rng(seed)
    sample = x if len(x) <= FIT_SAMPLE else x[rng.choice(len(x), FIT_SAMPLE, replace=False)]
    data = torch.from_numpy(np.asarray(sample, dtype=np.float32))
    mean = data.mean(0)
    centred = data - mean
    rank = max(1, min(max_components, centred.shape[0] - 1, centred.shape[1]))
    torch.manual_seed(seed)
    if rank + 10 < min(centred.shape):
        _, singular, v = torch.pca_lowrank(centred, q=rank + 10, center=False, niter=4)
    else:
        _, singular, vt = torch.linalg.svd(centred, full_matrices=False)
        v = vt.T
    components = v[:, :rank]
    variance = (singular[:rank] ** 2).sum() / max(centred.shape[0] - 1, 1)
    scale = float(torch.sqrt(variance / rank).clamp_min(1e-12))
    return Whitening(mean.numpy(), components.contiguous().numpy(), scale)


def knn_graph(
    z: torch.Tensor, k: int = 10, block: int = 2048, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's k nearest other rows by cosine similarity: (indices [n, k], similarities [n, k]),
    on the CPU; the search runs on ``device`` when it is CUDA (n x n products: the GPU's best case)."""
    if is_cuda(device):
        return _knn_graph_on(z, k, torch.device(device))
    unit = torch.nn.functional.normalize(z.float(), dim=1)
    n = unit.shape[0]
    k = min(k, n - 1)
    indices = torch.empty((n, k), dtype=torch.long)
    sims = torch.empty((n, k), dtype=torch.float32)
    for start in range(0, n, block):
        stop = min(start + block, n)
        scores = unit[start:stop] @ unit.T
        scores[torch.arange(stop - start), torch.arange(start, stop)] = -2.0  # not itself
        top = torch.topk(scores, k, dim=1)
        indices[start:stop] = top.indices
        sims[start:stop] = top.values
    return indices, sims


def _knn_graph_on(z: torch.Tensor, k: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    unit = torch.nn.functional.normalize(z.to(device).float(), dim=1)
    n = unit.shape[0]
    k = min(k, n - 1)
    # A block's similarity rows and top-k's working copy: two float32 rows of n per query row.
    block = rows_that_fit(8 * n, free_memory(device) or 0, minimum=256, maximum=16_384)
    indices = torch.empty((n, k), dtype=torch.long)
    sims = torch.empty((n, k), dtype=torch.float32)
    for start in range(0, n, block):
        stop = min(start + block, n)
        scores = unit[start:stop] @ unit.T
        rows = torch.arange(stop - start, device=device)
        scores[rows, rows + start] = -2.0  # not itself
        top = torch.topk(scores, k, dim=1)
        indices[start:stop] = top.indices.cpu()
        sims[start:stop] = top.values.cpu()
    return indices, sims


# --- label propagation over the k-NN graph (the app head's use of the unlabeled pool) -------------------------------


def propagate_labels(
    indices: torch.Tensor,
    sims: torch.Tensor,
    seeds: torch.Tensor,
    seed_labels: torch.Tensor,
    n_classes: int,
    *,
    alpha: float = 0.9,
    iterations: int = 20,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Spread seed labels over a k-NN graph (Zhou et al. 2004); rows of the result sum to 1
    where the labels reached, 0 elsewhere. On a CUDA ``device`` the sparse products run there
    (the result comes back to the CPU).

    ``indices``/``sims`` are each node's neighbours; the graph is made symmetric and normalised
    as D^-1/2 W D^-1/2. Each class injects the same total mass, so a class with many labels does
    not swamp a class with few.
    """
    if is_cuda(device):
        indices, sims, seeds, seed_labels = (t.to(device) for t in (indices, sims, seeds, seed_labels))
        return propagate_labels(indices, sims, seeds, seed_labels, n_classes, alpha=alpha, iterations=iterations).cpu()
    n = indices.shape[0]
    s = _normalised_graph(indices, sims)
    seeds_y = torch.zeros((n, n_classes), device=indices.device)
    per_class = torch.bincount(seed_labels, minlength=n_classes).float().clamp_min(1)
    seeds_y[seeds, seed_labels] = 1.0 / per_class[seed_labels]
    f = seeds_y.clone()
    for _ in range(iterations):
        f = alpha * (s @ f) + (1 - alpha) * seeds_y
    total = f.sum(1, keepdim=True)
    return torch.where(total > 0, f / total.clamp_min(1e-30), torch.zeros_like(f))


def _normalised_graph(indices: torch.Tensor, sims: torch.Tensor) -> torch.Tensor:
    """Symmetric D^-1/2 W D^-1/2 as a sparse CSR matrix."""
    n, k = indices.shape
    rows = torch.arange(n, device=indices.device).repeat_interleave(k)
    cols = indices.reshape(-1)
    vals = sims.reshape(-1).clamp_min(0) ** 3  # sharpen: trust close neighbours much more
    with warnings.catch_warnings():
        # torch calls its sparse support beta; the operations used here are the basic ones.
        warnings.simplefilter("ignore", UserWarning)
        w = torch.sparse_coo_tensor(
            torch.stack([torch.cat([rows, cols]), torch.cat([cols, rows])]), torch.cat([vals, vals]), (n, n)
        ).coalesce()
        degree = torch.zeros(n, device=indices.device).index_add_(0, w.indices()[0], w.values()).clamp_min(1e-12)
        inv_sqrt = degree.rsqrt()
        values = w.values() * inv_sqrt[w.indices()[0]] * inv_sqrt[w.indices()[1]]
        return torch.sparse_coo_tensor(w.indices(), values, (n, n)).coalesce().to_sparse_csr()
