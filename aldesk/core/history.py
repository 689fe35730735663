"""The one undo/redo history of what the person did to labels, wherever they did it.

A ``Step`` is one undoable action: a key press on the item on screen (labeling, or a review of
unsure items or suspects) or a relabeling of several tiles in the review grid. Undo takes back
the latest step wherever it was made, so the order of undos is always the reverse order of the
label events (three separate stacks, as before, could undo an older change to an item before a
newer one). The history holds what was written; the session writes (aldesk/core/session.py).

A new step drops the undone steps that touch its items (they would be redone over it); a step
on other items starts a new line of work and the redo side is cleared, as in any editor. So
"undo, undo, decide the item that came back, redo" still gives back the other undone decision.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aldesk.core.labels import QueryContext

STATUS_OF_KIND = {"label": "labeled", "skip": "skipped", "unsure": "unsure"}


@dataclass(frozen=True)
class Decision:
    """One thing the person did to an item, as written to the label history."""

    item_id: int
    kind: str  # label / skip / unsure
    class_id: int | None
    event_id: int
    context: QueryContext
    before: tuple[str, int | None] = ("unlabeled", None)  # (status, class) before it: where undo returns

    @property
    def after(self) -> tuple[str, int | None]:
        return STATUS_OF_KIND[self.kind], self.class_id


@dataclass(frozen=True)
class Step:
    decisions: tuple[Decision, ...]
    walk: object | None = None  # the walk whose item it decided (it comes back there); None: the grid

    @property
    def item_ids(self) -> set[int]:
        return {d.item_id for d in self.decisions}


class History:
    def __init__(self) -> None:
        self.done: list[Step] = []  # oldest first
        self.undone: list[Step] = []  # taken back, newest last

    @property
    def can_undo(self) -> bool:
        return bool(self.done)

    @property
    def can_redo(self) -> bool:
        return bool(self.undone)

    def push(self, step: Step) -> None:
        touched = step.item_ids
        kept = [s for s in self.undone if not (s.item_ids & touched)]
        self.undone = kept if len(kept) < len(self.undone) else []
        self.done.append(step)

    def mark_undone(self, n: int) -> Step:
        """The last ``n`` decisions of the latest step were reverted: they move to the redo side
        (a revert that failed part-way leaves the rest undoable)."""
        step = self.done.pop()
        kept, moved = step.decisions[:-n], step.decisions[-n:]
        if kept:
            self.done.append(dataclasses.replace(step, decisions=kept))
        part = dataclasses.replace(step, decisions=moved)
        self.undone.append(part)
        return part

    def mark_redone(self, given: list[Decision]) -> Step:
        """The first decisions of the latest undone step were written again, as ``given``."""
        step = self.undone.pop()
        rest = step.decisions[len(given) :]
        if rest:
            self.undone.append(dataclasses.replace(step, decisions=rest))
        part = dataclasses.replace(step, decisions=tuple(given))
        self.done.append(part)
        return part

    def recent(self, n: int) -> list[Decision]:
        """The latest ``n`` decisions in effect, newest first (what undo takes back first)."""
        out: list[Decision] = []
        for step in reversed(self.done):
            out.extend(reversed(step.decisions))
            if len(out) >= n:
                break
        return out[:n]

    def previous_decision(self, item_id: int) -> Decision | None:
        """The latest undone decision on this item (shown as 'was: ...' when it is back on screen)."""
        for step in reversed(self.undone):
            for decision in reversed(step.decisions):
                if decision.item_id == item_id:
                    return decision
        return None
