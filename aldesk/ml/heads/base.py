"""What every head is: the ``Head`` protocol, and the registry that finds one by name.

A head is the trainable part of the model, on top of the frozen encoder's vectors. Each kind of
head is one module in this package that registers a ``Head`` (the recipe: how to fit, what it
reads, how a stored model loads and how it is exported) whose ``fit`` returns a ``Model`` (the
fitted result: probabilities, bytes to store). Nothing outside this package asks which head it
holds: the round, the audits, the simulation and the model bundle go through the protocol.

The head modules register themselves when imported, and the package imports them all
(heads/__init__.py), so the registry is full whenever this module can be reached.

Stored models carry the name of the head that made them (``models.head``), which is the key to
load them again: names are part of the file format and never change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch
from torch import nn

from aldesk.core.errors import AldeskError

if TYPE_CHECKING:
    from aldesk.core.model_store import ModelRecord
    from aldesk.ml.features import Whitening

Cancel = Callable[[], bool]
# What a head reads of the pool: the whitened features (``pool.z``) or the vectors as embedded.
Reads = Literal["whitened", "raw"]


class NotEnoughLabels(AldeskError):
    """Training needs labels from at least two classes."""


class Pool(Protocol):
    """What a head reads of the pool it trains on (aldesk/ml/loop/pool.py's Pool is one):
    heads depend on this, not on how a pool is built or kept."""

    z: torch.Tensor  # [N, r] whitened features
    raw: np.ndarray | None  # [N, d] the vectors as embedded, kept only when a head reads them
    whitening: Whitening

    @property
    def fit_device(self) -> torch.device | None: ...

    def scoring_z(self) -> torch.Tensor: ...

    def propagate(self, labeled: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, torch.Tensor]:
        """Label propagation over the pool's k-NN graph: (pool indices of its nodes, class distributions)."""
        ...


class Model(Protocol):
    """A fitted head. Classes without labels when it was trained get probability 0."""

    active: torch.Tensor  # [K] bool
    temperature: float

    # Read-only, so a model may state it once for its class (``reads: ClassVar[Reads] = "raw"``).
    @property
    def reads(self) -> Reads:
        """What it scores: the whitened pool features or the vectors as embedded."""
        ...

    def logits(self, x: Any) -> torch.Tensor: ...

    def predict_proba(self, x: Any) -> torch.Tensor: ...

    def to_bytes(self) -> bytes: ...


@dataclass(frozen=True)
class Fit:
    """What a head is fitted on, and how: one value, so the protocol and every head share it."""

    labeled: np.ndarray  # pool indices of the labeled items
    y: np.ndarray  # their class indices
    n_classes: int
    init: Model | None = None  # a model to warm-start from (each head takes only its own kind)
    calibrate: bool = True  # out-of-fold temperature and accuracy estimate, where the head has them
    cancel: Cancel | None = None  # asked inside long fits (the CNN's steps)
    seed: int = 0  # for heads whose fit is random (the CNN)


class Head(Protocol):
    name: str
    reads: Reads
    description: str  # one line for --help and the model card
    convex: bool  # whether a warm start from a model that saw some labels leaks nothing of them

    def fit(self, pool: Pool, task: Fit) -> tuple[Model, dict[str, Any]]:
        """Fit on ``task``'s labels; returns the model and its metrics (head, n_labels,
        temperature, cv_accuracy, ...)."""
        ...

    def can_read(self, vectors: np.ndarray) -> bool:
        """Whether this head can be trained on vectors shaped like these."""
        ...

    def warm_start(self, previous: Model | None) -> Model | None:
        """``previous`` if it can warm-start this head's fit (same kind of model), else None."""
        ...

    def load(self, data: bytes) -> Model:
        """A model stored by ``Model.to_bytes``."""
        ...

    def bundle(
        self, model: ModelRecord, fit_vectors: np.ndarray | None
    ) -> tuple[RebuiltHead, Callable[[np.ndarray], np.ndarray]]:
        """The stored model as a torch module for the model bundle, with the app's own
        prediction for some float16 vectors (to check the module reproduces it).
        ``fit_vectors``: the rows the whitening was fitted on (None for a head reading raw vectors)."""
        ...


@dataclass
class RebuiltHead:
    """A stored model as a torch module for the model bundle (``Head.bundle``)."""

    module: nn.Module  # backbone features (float16-rounded) -> raw logits
    active: torch.Tensor  # [K] bool: classes that had labels when trained
    temperature: float
    kind: str  # "linear" or "cnn"
    projection_dim: int | None  # linear heads only
    app_probs: np.ndarray  # the app's own predictions from the stored vectors, float32

    @property
    def contract(self) -> str:
        if self.kind == "linear":
            return (
                "the linear head on the projected float16 embeddings (what the app shows and "
                "queries with; label propagation only chose the app head's training examples)"
            )
        return "the small CNN trained from scratch on the float16 pixel thumbnails (the app's head on the pixels backbone)"


_HEADS: dict[str, Head] = {}
# The weight-free encoder whose vectors are 32 x 32 thumbnails: there ``default`` means the CNN.
PIXELS_ENCODER = "pixels"


def register(head: Head) -> Head:
    """Add ``head`` to the registry (each head module calls this on import). Typed ``Head``, so a
    head that does not fit the protocol is a mypy error at its ``register`` line."""
    _HEADS[head.name] = head
    return head


def names() -> list[str]:
    return sorted(_HEADS)


# The app's head where it is not the label-propagation head registered as "default", measured:
# raw pixels learn better with a small CNN (docs/benchmarks.md, the scratch CNN); on frozen MiniLM
# text embeddings label propagation spreads labels along topics, not the classes people sort
# texts into, and ends at 0.65 on TREC at 300 labels where the linear head reaches 0.81
# (benchmarks/bench_text_efficiency.py).
DEFAULT_FOR_ENCODER = {PIXELS_ENCODER: "cnn", "minilm-l6": "plain"}


def get_head(name: str, encoder: str | None = None) -> Head:
    """The head registered as ``name``; ``default`` means the app's head for ``encoder``."""
    if name == "default" and encoder in DEFAULT_FOR_ENCODER:
        name = DEFAULT_FOR_ENCODER[encoder]
    try:
        return _HEADS[name]
    except KeyError:
        raise AldeskError(f"Unknown head {name!r}; choose one of: {', '.join(sorted(_HEADS))}.") from None


def load_model(head_name: str, data: bytes) -> Model:
    """A stored model, by the head name stored with it."""
    return get_head(head_name).load(data)


def keeps_raw_vectors(vectors: np.ndarray) -> bool:
    """Whether some head reads these vectors as embedded (the pool then keeps them)."""
    return any(h.reads == "raw" and h.can_read(vectors) for h in _HEADS.values())


def fit_head(
    name: str,
    pool: Pool,
    labeled: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    init: Model | None = None,
    calibrate: bool = True,
    cancel: Cancel | None = None,
) -> tuple[Model, dict[str, Any]]:
    """Fit the head ``name`` (warm-started from ``init`` when it is the same kind of model)."""
    require_two_classes(y)
    return get_head(name).fit(pool, Fit(labeled, y, n_classes, init=init, calibrate=calibrate, cancel=cancel))


def pool_input(model: Model, pool: Pool) -> Any:
    """What ``model`` reads for the whole pool."""
    return pool.raw if model.reads == "raw" else pool.scoring_z()


def fit_metrics(name: str, y: np.ndarray, model: Model, cv_accuracy: float | None, seconds: float) -> dict[str, Any]:
    """The metrics every head reports (a head may add its own)."""
    return {
        "head": name,
        "n_labels": int(len(y)),
        "classes_with_labels": int(len(np.unique(y))),
        "temperature": model.temperature,
        "cv_accuracy": cv_accuracy,
        # Whether the temperature came from out-of-fold fits: before that (under
        # linear.MIN_LABELS_TO_CALIBRATE labels) the probabilities run far too high, so the window
        # shows the guess without a number (benchmarks/bench_calibration.py).
        "calibrated": cv_accuracy is not None,
        "train_seconds": seconds,
    }


def require_two_classes(y: np.ndarray) -> None:
    if len(np.unique(y)) < 2:
        if len(y) == 0:
            so_far = "nothing is labeled yet"
        elif len(y) == 1:
            so_far = "the one label so far is of one class"
        else:
            so_far = f"the {len(y)} labels so far are all of one class"
        raise NotEnoughLabels(f"Training needs labels from at least two classes; {so_far}. Label an item of another class.")
