"""The pool: what depends only on the embeddings (the whitened features, the k-NN graph and its
label propagation), built once per embedding set and kept between rounds.

``build_pool`` makes it from a project's stored vectors (streamed chunk by chunk on large pools,
and cached on disk: see pool_cache.py); ``PoolModel.build`` from vectors in memory.

A pool has a device (``compute_device()``: CUDA when there is one and ALDESK_DEVICE does not
say otherwise, else the CPU). On CUDA the pool's projection, the k-NN graph, the head fits and
the pool's scoring run there, and so does label propagation (the graph, 2.4 MB at 20,000 nodes,
crosses on each refresh). The whitening's fit stays on the CPU (see features.fit_whitening); the
features stay on the CPU as the strategies read them, with a copy on the GPU for scoring when it
fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from aldesk.core import vectors as stored_vectors
from aldesk.core.errors import AldeskError
from aldesk.core.store import Project
from aldesk.ml.heads.base import keeps_raw_vectors
from aldesk.ml.device import MEMORY_FRACTION, compute_device, free_memory, is_cuda, rows_that_fit
from aldesk.ml.features import Whitening, fit_whitening, knn_graph, propagate_labels

if TYPE_CHECKING:
    from aldesk.ml.loop.snapshot import Snapshot

# The label-propagation graph covers at most this many pool items (a fixed random sample on
# larger pools, plus every labeled item); the linear head then generalises to the rest.
GRAPH_MAX = 20_000
GRAPH_NEIGHBOURS = 10
# Labeled items outside that sample join the graph as extra seeds, at most this many (a fixed
# pseudo-random choice, so the next refresh reuses their neighbour search): with 115,000 of them
# the search took 10 s of the first refresh and each propagation 0.6 s, while the linear head
# still learns from every label directly. Pools up to GRAPH_MAX items have no extra nodes.
GRAPH_EXTRA_MAX = 20_000


@dataclass
class PoolModel:
    whitening: Whitening
    z: torch.Tensor  # [N, r] whitened pool
    anchors: np.ndarray  # pool indices covered by the graph
    _graph: tuple[torch.Tensor, torch.Tensor] | None = None
    raw: np.ndarray | None = None  # the vectors as embedded (the cnn head reads pixels)
    # Where fits and scoring run (CUDA or the CPU); see the module's docstring.
    device: torch.device = field(default_factory=compute_device)
    _z_device: torch.Tensor | None = field(default=None, repr=False)
    # Nearest anchors of labeled items outside the sample, kept across refreshes (they depend
    # only on the embeddings): row _near_row[i] of _near for pool item i, -1 when not computed.
    _near_row: np.ndarray | None = field(default=None, repr=False)
    _near: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, seed: int = 0, graph_max: int = GRAPH_MAX, device: torch.device | str | None = None
    ) -> "PoolModel":
        """``device``: None for :func:`compute_device`, or ``cpu`` / ``cuda[:N]``."""
        device = compute_device() if device is None else torch.device(device)
        whitening = fit_whitening(vectors, seed=seed)  # on the CPU: see fit_whitening
        z = whitening.apply(vectors, device=device) if is_cuda(device) else whitening.apply(vectors)
        rng = np.random.default_rng(seed)
        n = len(z)
        anchors = np.arange(n) if n <= graph_max else np.sort(rng.choice(n, graph_max, replace=False))
        # Kept only when the cnn head can read them (pixel thumbnails): holding a pretrained
        # backbone's vectors here would keep a second copy alive in the worker on large pools.
        return cls(whitening, z, anchors, raw=vectors if keeps_raw_vectors(vectors) else None, device=device)

    @property
    def fit_device(self) -> torch.device | None:
        """The device to hand to fits: CUDA, or None for the unchanged CPU code."""
        return self.device if is_cuda(self.device) else None

    def scoring_z(self) -> torch.Tensor:
        """The features to score: on a CUDA pool a copy on the GPU (made once, kept) when it
        fits in a share of the free memory, else ``z`` itself (scoring then runs on the CPU,
        which beats copying the pool across for every refresh)."""
        if not is_cuda(self.device):
            return self.z
        if self._z_device is None:
            needed = self.z.numel() * self.z.element_size()
            if needed > MEMORY_FRACTION * (free_memory(self.device) or 0):
                return self.z
            self._z_device = self.z.to(self.device)
        return self._z_device

    @property
    def size(self) -> int:
        return int(self.z.shape[0])

    def graph(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The anchors' k-NN graph (neighbour positions in ``anchors``, similarities); built on
        first use and kept, as it depends only on the embeddings."""
        if self._graph is None:
            self._graph = knn_graph(self.z[torch.from_numpy(self.anchors)], k=GRAPH_NEIGHBOURS, device=self.fit_device)
        return self._graph

    def propagate(self, labeled: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, torch.Tensor]:
        """Label propagation over the graph; returns (pool indices of graph nodes, their class
        distributions). Labeled items outside the sample join the graph through their nearest
        sampled neighbours."""
        position = np.full(self.size, -1, dtype=np.int64)
        position[self.anchors] = np.arange(len(self.anchors))
        extra = np.unique(labeled[position[labeled] < 0])
        if len(extra) > GRAPH_EXTRA_MAX:
            extra = np.sort(extra[np.argsort(_fixed_rank(extra), kind="stable")[:GRAPH_EXTRA_MAX]])
        nodes = np.concatenate([self.anchors, extra])
        position[extra] = len(self.anchors) + np.arange(len(extra))
        indices, sims = self.graph()
        if len(extra):
            near_indices, near_sims = self._nearest_anchors(extra, indices.shape[1])
            indices = torch.cat([indices, near_indices])
            sims = torch.cat([sims, near_sims])
        seeded = position[labeled] >= 0
        spread = propagate_labels(
            indices,
            sims,
            torch.from_numpy(position[labeled[seeded]]),
            torch.from_numpy(y[seeded]),
            n_classes,
            device=self.fit_device,
        )
        return nodes, spread

    def _nearest_anchors(self, items: np.ndarray, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Each item's k most similar anchors. Computed once per item and kept: with 118,000
        labels outside the sample of a 1M pool the search took ~40 s per propagation, and a
        refresh propagates four times (benchmarks/bench_scale.py)."""
        if self._near_row is None:
            self._near_row = np.full(self.size, -1, dtype=np.int64)
        new = np.unique(items[self._near_row[items] < 0])
        if len(new):
            where, block = torch.device("cpu"), 4096
            if self.fit_device is not None:  # on a GPU: blocks sized to its free memory
                where = self.fit_device
                block = rows_that_fit(8 * len(self.anchors), free_memory(where) or 0, minimum=256, maximum=4096)
            anchor_z = torch.nn.functional.normalize(self.z[torch.from_numpy(self.anchors)].to(where), dim=1)
            # In blocks of rows: 118,000 x 20,000 similarities at once would be 9.4 GB.
            tops = [
                torch.topk(
                    torch.nn.functional.normalize(self.z[torch.from_numpy(new[start : start + block])].to(where), dim=1)
                    @ anchor_z.T,
                    k,
                    dim=1,
                )
                for start in range(0, len(new), block)
            ]
            old = self._near or (torch.empty((0, k), dtype=torch.long), torch.empty((0, k)))
            self._near_row[new] = len(old[0]) + np.arange(len(new))
            self._near = (
                torch.cat([old[0], *(t.indices.cpu() for t in tops)]),
                torch.cat([old[1], *(t.values.cpu() for t in tops)]),
            )
        rows = torch.from_numpy(self._near_row[items])
        assert self._near is not None  # set above, the first time any item was asked about
        return self._near[0][rows], self._near[1][rows]


def _fixed_rank(items: np.ndarray) -> np.ndarray:
    """A pseudo-random but fixed rank per pool index (Knuth's multiplicative hash): the same
    items win each time, without storing a permutation of the whole pool."""
    return (items.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)


# Above this many items the pool is built chunk by chunk from the file (``build_pool``).
STREAM_POOL_FROM = 100_000
PROJECT_ROWS = 16_384  # rows projected at once while streaming (42 MB of float16 vectors at 1,280-d)


def build_pool(project: Project, snapshot: Snapshot, *, seed: int = 0) -> PoolModel:
    """The snapshot's ``PoolModel``, equal to ``PoolModel.build(vectors)``.

    On large pools it never holds all raw vectors at once: the whitening is fitted on the same
    sample rows ``fit_whitening`` would draw, then each stored chunk is projected into the
    float32 features as it is read. At a million 1,280-d items that peaks near the 1 GB of
    features instead of 2.56 GB of vectors plus the features (benchmarks/bench_scale.py).
    """
    from aldesk.ml.loop import pool_cache
    from aldesk.ml.features import FIT_SAMPLE, MAX_COMPONENTS

    if snapshot.vectors is not None:
        return PoolModel.build(snapshot.vectors, seed=seed)
    eset = stored_vectors.find_set_by_id(project, snapshot.set_id)
    layout = stored_vectors.embedding_layout(project, eset)
    n = len(layout.ids)
    if not np.array_equal(layout.ids, snapshot.item_ids):
        raise AldeskError(f"The embeddings in {project.path} changed while being read; try again.")
    if n <= STREAM_POOL_FROM or keeps_raw_vectors(np.zeros((0, eset.dim), dtype=np.float16)):
        _, vecs = stored_vectors.load_embeddings(project, eset)  # a head reading raw vectors keeps the raw pixels
        return PoolModel.build(vecs, seed=seed)
    # The rows fit_whitening samples from the whole array (same generator, same draw).
    sample_rows = np.random.default_rng(seed).choice(n, FIT_SAMPLE, replace=False) if n > FIT_SAMPLE else None
    if sample_rows is None:
        _, vecs = stored_vectors.load_embeddings(project, eset)
        return PoolModel.build(vecs, seed=seed)
    # Kept on disk between app starts (aldesk/ml/loop/pool_cache.py): the projection below is the
    # slow part of opening a large project.
    key = pool_cache.pool_cache_key(
        project.path,
        project.meta("created_at"),
        eset.identity,
        layout.last_chunk,
        layout.ids,
        (seed, FIT_SAMPLE, MAX_COMPONENTS, GRAPH_MAX),
    )
    cached = pool_cache.load(key)
    if cached is not None:
        return PoolModel(*cached, raw=None)
    slot = np.full(n, -1, dtype=np.int64)
    slot[sample_rows] = np.arange(len(sample_rows))
    sample = np.empty((len(sample_rows), eset.dim), dtype=np.float16)
    for rows, vecs in stored_vectors.iter_vectors(project, eset, layout):
        where = slot[rows]
        hit = where >= 0
        sample[where[hit]] = vecs[hit]
    whitening = fit_whitening(sample, seed=seed)
    z = torch.empty((n, whitening.dim), dtype=torch.float32)
    device = compute_device()  # CUDA when there is one: the projection runs there
    # Chunks are projected in batches of PROJECT_ROWS: one 512-row product per stored chunk ran
    # the matrix product at a fraction of its speed.
    rows_buffer, vecs_buffer, buffered = [], [], 0
    for rows, vecs in stored_vectors.iter_vectors(project, eset, layout):
        rows_buffer.append(rows)
        vecs_buffer.append(vecs)
        buffered += len(rows)
        if buffered >= PROJECT_ROWS:
            z[torch.from_numpy(np.concatenate(rows_buffer))] = whitening.apply(np.concatenate(vecs_buffer), device=device)
            rows_buffer, vecs_buffer, buffered = [], [], 0
    if rows_buffer:
        z[torch.from_numpy(np.concatenate(rows_buffer))] = whitening.apply(np.concatenate(vecs_buffer), device=device)
    anchors = _graph_anchors(n, seed)
    pool_cache.save(key, whitening, z, anchors)
    return PoolModel(whitening, z, anchors, raw=None)


def _graph_anchors(n: int, seed: int) -> np.ndarray:
    """The k-NN graph's sample of the pool, drawn as ``PoolModel.build`` draws it."""
    rng = np.random.default_rng(seed)
    if n <= GRAPH_MAX:
        return np.arange(n)
    return np.sort(rng.choice(n, GRAPH_MAX, replace=False))
