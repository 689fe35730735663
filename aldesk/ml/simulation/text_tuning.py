"""The app's fine-tuning of the text encoder, replayed in a simulation (see ml/loop/encoder_tuning.py).

When a tuning is due (``tuning_due``, as the window decides it), the pretrained encoder is tuned on
the labels so far but the audits, its weights go through float16 as the project stores them, and
the pool and the test split are embedded again. ``gated`` runs (the app's ``default`` policy,
which draws audits) adopt the tuned vectors only when the app's head on them gets at least as
many audit labels right as on the vectors in use (within tuning_plan.REFUSE_MARGIN), as the app does; runs without audits (random,
margin) adopt every tuning, a baseline at least as strong as the app's learner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from aldesk.ml.loop.encoder_tuning import audit_correct, tuned_copy
from aldesk.ml.loop.snapshot import Snapshot
from aldesk.ml.loop.tuning_plan import MIN_AUDITS, TuneOutcome, tuning_due


class SimulatedTuning:
    def __init__(
        self,
        base: Any,  # the pretrained TextEncoder
        pool_texts: Sequence[str],
        test_texts: Sequence[str],
        pool_vectors: np.ndarray,
        test_vectors: np.ndarray,
        n_classes: int,
        *,
        gated: bool,
    ) -> None:
        self.base = base
        self.pool_texts, self.test_texts = list(pool_texts), list(test_texts)
        self.pool_vectors, self.test_vectors = pool_vectors, test_vectors
        self.n_classes = n_classes
        self.gated = gated
        self.tried_at: int | None = None
        self.adopted: list[int] = []  # the learning labels of each adopted tuning
        self.refused: list[int] = []

    def step(self, labeled: np.ndarray, y: np.ndarray, audit: np.ndarray) -> bool:
        """Tune when due; True when new vectors were adopted (``pool_vectors``, ``test_vectors``)."""
        learn = ~audit
        n_learning, n_audits = int(learn.sum()), int(audit.sum())
        if not tuning_due(len(labeled), n_audits if self.gated else MIN_AUDITS, self.tried_at):
            return False
        if len(np.unique(y[learn])) < 2:
            return False  # as the app: nothing to tune on yet, and not counted as tried
        self.tried_at = len(labeled)
        texts = [self.pool_texts[i] for i in labeled[learn]]
        tuned, _ = tuned_copy(self.base, texts, y[learn], self.n_classes)
        assert tuned is not None  # nothing cancels here
        pool_vectors = tuned.embed_texts(self.pool_texts)
        if self.gated:
            snapshot = Snapshot.in_memory(len(pool_vectors), labeled, y, np.ones(len(pool_vectors), bool), self.n_classes)
            snapshot = dataclasses.replace(snapshot, backbone=self.base.spec.name, audit=audit)
            outcome = TuneOutcome(
                tuned.identity,
                n_learning,
                n_audits,
                audit_correct(snapshot, pool_vectors),
                audit_correct(snapshot, self.pool_vectors),
            )
            if not outcome.adopt:
                self.refused.append(n_learning)
                return False
        self.pool_vectors, self.test_vectors = pool_vectors, tuned.embed_texts(self.test_texts)
        self.adopted.append(n_learning)
        return True
