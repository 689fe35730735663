"""When the text encoder is fine-tuned, and what the tune job sends: free of torch, so the window
(gui/learning/tuner.py) asks it without importing the learning engine (encoder_tuning.py runs the job).

When: ``tuning_due``. From ``MIN_LABELS`` labels on, audits included (fine-tuning on 60-100
random TREC labels already gave 0.87-0.90 against 0.60-0.69 frozen; docs/benchmarks.md), with at
least ``MIN_AUDITS`` audits to compare on, and again each time the labels have grown by
``GROWTH`` (a tuning takes about 20 s per 260 labels plus the re-embedding on 2 cores, so growth
keeps the total bounded). Waiting for more audits cost the default dearly against random (which
has no audits to wait for, so it was tuned already) in TREC runs: for 10 audits (first tuning near
110 labels) 22-26 points at 60-100 labels; for 5 (near 80 labels) 26 points at 60 and 2 at 100.
The few audits of a first tuning make the comparison coarse: it catches a tuning that broke the
encoder, not a small difference.

Adopted unless the encoder in use gets ``REFUSE_MARGIN`` or more audit labels right beyond the
tuned one's: with the few audits of the first tunings (5-20) a difference of one is noise (in
two of three TREC runs a retuning at 182 labels was refused on it, both encoders near 0.91),
while a tuning that broke the encoder loses by far more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aldesk.ml.encoders.tuning import TuneSettings

MIN_LABELS = 60  # labels in the project, audits included (the tuning itself learns from the others)
MIN_AUDITS = 3  # audit labels to compare the two encoders on (about 4 by 60 labels of 6 classes)
GROWTH = 1.5  # tune again once the labels have grown by this factor
REFUSE_MARGIN = 2  # the encoder in use stays when it gets this many more audit labels right
SETTINGS: TuneSettings | None = None  # the app's tunings (tests make them short); None: TuneSettings()
STAGE = "fine-tuning the encoder"
EMBED_STAGE = "embedding with the fine-tuned encoder"


def tuning_due(n_labels: int, n_audits: int, tried_at: int | None) -> bool:
    """Whether a tuning should start, given the labels (audits included), the audit labels and
    the number of labels when the last tuning started (None: never tuned)."""
    if n_labels < MIN_LABELS or n_audits < MIN_AUDITS:
        return False
    return tried_at is None or n_labels >= GROWTH * tried_at


@dataclass
class TunedWeights:
    identity: str
    base: str  # the pretrained encoder's identity
    weights: bytes  # safetensors, float16
    n_labels: int


@dataclass
class TuneOutcome:
    identity: str
    n_labels: int  # labels it learned from
    n_audits: int
    tuned_correct: int  # audit labels each encoder's model got right
    current_correct: int

    @property
    def adopt(self) -> bool:
        # Ties and a difference of one go to the tuned encoder (see REFUSE_MARGIN).
        return self.current_correct - self.tuned_correct < REFUSE_MARGIN

    def words(self) -> str:
        return (
            f"the encoder fine-tuned on {self.n_labels} labels got {self.tuned_correct} of {self.n_audits} audit items right, "
            f"the one in use {self.current_correct}"
        )
