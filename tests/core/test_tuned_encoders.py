"""Keeping fine-tuned encoders (aldesk/core/tuned_encoders.py): weights in parts with a digest,
which embedding set the rounds read, adopting, going back, and removing what nobody reads."""

import numpy as np
import pytest

from aldesk.core import model_store, tuned_encoders, vectors
from aldesk.core.errors import AldeskError
from aldesk.core.tuned_encoders import TunedWeightsDamaged
from tests.conftest import add_bare_items

WEIGHTS = bytes(range(256)) * 41  # 10,496 bytes: three parts of 4,096 in these tests


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(tuned_encoders, "PART_BYTES", 4096)


def embedded(project, identity: str, ids: list[int], value: float = 1.0) -> vectors.EmbeddingSet:
    eset = vectors.get_or_create_set(project, "minilm-l6", identity, 2)
    vectors.add_chunk(project, eset.id, np.array(ids), np.full((len(ids), 2), value))
    return eset


def test_weights_round_trip_in_parts(project, small_parts):
    stored = tuned_encoders.write_tuned(project, "base-tuned-1", "base", WEIGHTS, 70)
    assert stored.n_labels == 70 and stored.base == "base"
    parts = project.conn.execute("SELECT count(*) FROM tuned_weight_parts WHERE identity = 'base-tuned-1'").fetchone()[0]
    assert parts == 3
    assert tuned_encoders.read_weights(project, "base-tuned-1") == WEIGHTS


@pytest.mark.parametrize("damage", ["flip", "missing part"])
def test_damaged_weights_are_refused_by_name(project, small_parts, damage):
    tuned_encoders.write_tuned(project, "base-tuned-1", "base", WEIGHTS, 70)
    with project.transaction() as conn:
        if damage == "flip":
            data = bytearray(WEIGHTS[4096:8192])
            data[100] ^= 0x10
            conn.execute("UPDATE tuned_weight_parts SET data = ? WHERE part = 1", (bytes(data),))
        else:
            conn.execute("DELETE FROM tuned_weight_parts WHERE part = 2")
    with pytest.raises(TunedWeightsDamaged, match="base-tuned-1.*damaged.*labels are not affected"):
        tuned_encoders.read_weights(project, "base-tuned-1")


def test_a_write_cut_short_leaves_no_encoder_and_its_parts_are_replaced(project, small_parts):
    # A killed write: parts without the row. Readers see no encoder; the next write clears them.
    with project.transaction() as conn:
        conn.execute("INSERT INTO tuned_weight_parts(identity, part, data) VALUES ('base-tuned-0', 0, x'00')")
    assert tuned_encoders.find_tuned(project, "base-tuned-0") is None
    tuned_encoders.write_tuned(project, "base-tuned-1", "base", WEIGHTS, 70)
    left = {row[0] for row in project.conn.execute("SELECT identity FROM tuned_weight_parts")}
    assert left == {"base-tuned-1"}


def test_a_candidate_being_written_is_not_read_by_the_rounds(project):
    ids = add_bare_items(project, 3)
    base = embedded(project, "base", ids)
    tuned_encoders.write_tuned(project, "base-tuned-1", "base", WEIGHTS, 70)
    embedded(project, "base-tuned-1", ids, 2.0)  # written after the base set: newest, yet a candidate
    assert tuned_encoders.active_set(project) == base  # though the candidate's set was written last


def test_pinning_keeps_the_set_in_use_while_the_candidate_has_no_row_yet(project):
    ids = add_bare_items(project, 3)
    base = embedded(project, "base", ids)
    tuned_encoders.pin_active(project)
    embedded(project, "base-tuned-1", ids, 2.0)  # chunks stored before the weights' row exists
    assert tuned_encoders.active_set(project) == base


def test_adopting_switches_the_set_in_use_and_refuses_an_incomplete_encoder(project):
    ids = add_bare_items(project, 3)
    embedded(project, "base", ids)
    with pytest.raises(AldeskError, match="no complete fine-tuned encoder"):
        tuned_encoders.adopt(project, "base-tuned-1")  # neither weights nor vectors
    tuned_encoders.write_tuned(project, "base-tuned-1", "base", WEIGHTS, 70)
    with pytest.raises(AldeskError, match="no complete fine-tuned encoder"):
        tuned_encoders.adopt(project, "base-tuned-1")  # weights, but no vectors yet
    tuned = embedded(project, "base-tuned-1", ids, 2.0)
    tuned_encoders.adopt(project, "base-tuned-1")
    assert tuned_encoders.active_set(project) == tuned
    assert tuned_encoders.describe_encoder(project, tuned) == "minilm-l6, fine-tuned on 70 labels"


def test_going_back_to_pretrained_uses_the_base_set_again(project):
    ids = add_bare_items(project, 3)
    base = embedded(project, "base", ids)
    tuned_encoders.write_tuned(project, "base-tuned-1", "base", WEIGHTS, 70)
    embedded(project, "base-tuned-1", ids, 2.0)
    tuned_encoders.adopt(project, "base-tuned-1")
    tuned_encoders.go_back_to_pretrained(project)
    assert tuned_encoders.active_set(project) == base
    assert tuned_encoders.unused(project, None) == ["base-tuned-1"]


def test_discard_removes_what_nobody_reads_and_keeps_the_latest_models_set(project, small_parts):
    ids = add_bare_items(project, 3)
    base = embedded(project, "base", ids)
    for n, identity in enumerate(["base-tuned-1", "base-tuned-2", "base-tuned-3"]):
        tuned_encoders.write_tuned(project, identity, "base", WEIGHTS, 60 + n)
        embedded(project, identity, ids, 2.0 + n)
    tuned_encoders.adopt(project, "base-tuned-2")
    old = vectors.find_set(project, "base-tuned-1")
    model_store.save_model(
        project,
        set_id=old.id,
        head="plain",
        n_labels=5,
        class_ids=[],
        params=b"",
        metrics={},
        item_ids=np.array(ids),
        probs=np.zeros((3, 0)),
    )
    assert tuned_encoders.unused(project, old.id) == ["base-tuned-3"]
    with pytest.raises(AldeskError, match="in use"):
        tuned_encoders.discard(project, "base-tuned-2")
    tuned_encoders.discard(project, "base-tuned-3")
    assert tuned_encoders.find_tuned(project, "base-tuned-3") is None
    assert vectors.find_set(project, "base-tuned-3") is None
    assert project.conn.execute("SELECT count(*) FROM tuned_weight_parts WHERE identity = 'base-tuned-3'").fetchone()[0] == 0
    # A set a model was trained on stays (its model names it), its weights and vectors go.
    tuned_encoders.discard(project, "base-tuned-1")
    assert vectors.find_set(project, "base-tuned-1") is not None
    assert len(vectors.embedded_ids(project, old.id)) == 0
    assert tuned_encoders.active_set(project).identity == "base-tuned-2"
    assert vectors.find_set(project, "base") == base


def test_vectors_of_a_tuning_whose_weights_never_got_their_row_are_found_and_removed(project):
    ids = add_bare_items(project, 3)
    embedded(project, "base", ids)
    tuned_encoders.pin_active(project)
    embedded(project, "base-tuned-9", ids, 2.0)  # chunks stored, then the app was killed: no row
    assert tuned_encoders.unused(project, None) == ["base-tuned-9"]
    tuned_encoders.discard(project, "base-tuned-9", cancel=lambda: True)  # cut short: still found later
    assert tuned_encoders.unused(project, None) == ["base-tuned-9"]
    tuned_encoders.discard(project, "base-tuned-9")
    assert tuned_encoders.unused(project, None) == [] and vectors.find_set(project, "base-tuned-9") is None
