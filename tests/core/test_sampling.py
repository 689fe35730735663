"""Random unlabeled items: distinct, unlabeled only, roughly uniform, and the sparse fallback."""

import random
from collections import Counter

from aldesk.core.labels import record
from aldesk.core.classes import add_classes
from aldesk.core.sampling import random_unlabeled
from tests.conftest import add_bare_items


def test_only_distinct_unlabeled_items(project):
    ids = add_bare_items(project, 200)
    (cls,) = add_classes(project, ["a"])
    for item in ids[:150]:
        record(project, item, "label", cls.id)
    got = random_unlabeled(project, 30, random.Random(1))
    assert len(got) == 30 == len(set(got)) and set(got) <= set(ids[150:])
    everything = random_unlabeled(project, 500, random.Random(2))  # more than exist: all of them
    assert sorted(everything) == ids[150:]


def test_roughly_uniform(project):
    ids = add_bare_items(project, 20)
    rng = random.Random(3)
    counts = Counter(item for _ in range(2000) for item in random_unlabeled(project, 1, rng))
    assert set(counts) == set(ids)
    assert max(counts.values()) < 2 * min(counts.values())  # expected 100 each


def test_empty_project_and_zero(project):
    assert random_unlabeled(project, 5) == []
    add_bare_items(project, 3)
    assert random_unlabeled(project, 0) == []
