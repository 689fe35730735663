"""Pool-level feature work shared by heads and strategies: whitening and the k-NN graph.

Both are unsupervised (they look at the pool's embeddings, never at labels) and are computed
once per embedding set, then reused for every retrain. With a CUDA ``device`` the projection of
the pool and the k-NN search run there in chunks sized to its free memory and the results come
back to the CPU; without one (the default) the CPU code below runs as it always has.
"""

from __future__ import annotations

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
