"""Registry entries: what a backbone is and where its weights would come from; nothing loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class WeightsStatus:
    available: bool
    source: str | None  # path of the weights file that would be used, or None
    hint: str  # when not available: which file is needed, where it goes, and how to get it


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    dim: int  # embedding size
    input_size: int  # square input side the network expects
    description: str
    pretrained: bool  # False only for the weight-free fallback
    # Finds the default weights file (None: weight-free). Kept out of equality and repr so a
    # spec compares and prints by what it describes.
    _locate: Callable[[], WeightsStatus] | None = field(default=None, repr=False, compare=False)
    # The kinds of items it embeds (aldesk/core/kinds): an encoder for another kind is one more spec.
    kinds: tuple[str, ...] = ("image",)

    def weights_status(self, weights: Path | None = None) -> WeightsStatus:
        """Which weights file loading would use (``weights`` overrides the default)."""
        if not self.pretrained:
            return WeightsStatus(True, None, "")
        if weights is not None:
            path = Path(weights)
            if path.is_file():
                return WeightsStatus(True, str(path), "")
            problem = "is a folder, not a file" if path.is_dir() else "does not exist"
            return WeightsStatus(False, None, f"Weights file {path} {problem}; check the path given with --weights.")
        if self._locate is None:
            return WeightsStatus(False, None, f"{self.name} has no default weights; pass --weights FILE.")
        return self._locate()
