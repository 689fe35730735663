"""The model bundle of a text project: one folder that classifies texts without aldesk.

Contents of the bundle folder (besides classes.json, bundle.json and MODEL_CARD.md, as for images):

- ``model.pt2``: a ``torch.export`` program mapping ``input_ids`` and ``attention_mask`` (int64
  ``[B, L]``, any B, 1 <= L <= 256) to class probabilities ``[B, K]`` in the order of
  ``classes.json``. Inside: the MiniLM network the project's texts were embedded with
  (aldesk/ml/encoders/minilm.py: mean pooling over the attention mask, L2 norm), the rounding of
  its vectors to float16 (aldesk stores embeddings as float16), then the stored head rebuilt
  exactly as for images (rebuild.py, common.ClassifierOnFeatures: for the linear heads the
  projection fitted again on the pool and the linear layer; the head's temperature; classes
  without labels get probability 0).
- ``tokenizer.json``: the encoder's tokenizer with the settings aldesk embeds with: truncation at
  256 tokens and padding to the longest text of a batch. (The file all-MiniLM-L6-v2 ships
  truncates at 128 and pads every text to 128; the encoder turns both off and truncates at 256.)
- ``predict.py``: ``predict(texts) -> [{class, probability, probabilities}]`` and a command line,
  needing torch and tokenizers only (the file is text_predict.py of this package, copied).

The contract is the image bundle's: the export refuses unless the rebuilt head reproduces every
stored prediction (rebuild.py), the bundle's tokenizer gives the encoder's very tokens, and the
finished program's probabilities on a few project texts match the stored ones to their float16
rounding. A model trained on the vectors of an encoder fine-tuned on the labels (aldesk/ml/loop/
encoder_tuning.py) is bundled with those tuned weights, read back from the project (the program
holds the network, so nothing else changes); any other encoder than the packaged one or the
project's tuned copy of it is refused.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import tokenizers
import torch
from tokenizers import Tokenizer
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.core.export_target import StagedFolder
from aldesk.core.items import texts_of
from aldesk.core.store import Project
from aldesk.core.tuned_encoders import find_tuned, read_weights
from aldesk.ml.bundle import text_predict
from aldesk.ml.bundle.common import (
    CLASSES,
    MAX_BATCH,
    PROGRAM,
    SPEC,
    Check,
    ClassifierOnFeatures,
    card_head,
    export_fields,
    features_line,
    float16_steps,
    model_fields,
    verified,
)
from aldesk.ml.bundle.rebuild import Reconstruction
from aldesk.ml.encoders import load_encoder, minilm
from aldesk.ml.encoders.tuning import encoder_from_state
from aldesk.ml.heads.base import RebuiltHead

KIND = "text"
TOKENIZER = "tokenizer.json"
PREDICT = "predict.py"
SELF_CHECK_TEXTS = 8  # project texts the finished program is run on, against their stored predictions
# Beyond one float16 step of a stored probability: the float32 noise of a differently padded batch.
SLACK = 1e-5
EXAMPLE = ("aldesk", "A text bundle classifies texts without aldesk.")  # traced once, with padding


class TextBundleModel(ClassifierOnFeatures):
    """(input_ids, attention_mask) int64 [B, L] -> class probabilities [B, K]; see the module docstring."""

    def __init__(self, network: nn.Module, head: RebuiltHead) -> None:
        super().__init__(head)
        self.network = network

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classify(self.network(input_ids, attention_mask))


def bundle_tokenizer(path: Path) -> Tokenizer:
    """The encoder's tokenizer file set up as the encoder uses it (TextEncoder in minilm.py):
    truncation at its max tokens, and padding (which it does itself) to the longest text."""
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust parser raises a bare Exception for a damaged file
        raise AldeskError(f"Tokenizer file {path} cannot be read ({str(exc).strip()[:200] or type(exc).__name__}).") from None
    shipped = tokenizer.padding or {}
    pad_token = str(shipped.get("pad_token") or "[PAD]")
    if tokenizer.token_to_id(pad_token) != minilm.PAD_ID:
        raise AldeskError(
            f"Tokenizer file {path} pads with {pad_token!r}, which is not token {minilm.PAD_ID} as the encoder pads."
        )
    return text_predict.configure(tokenizer, minilm.MAX_TOKENS, minilm.PAD_ID, pad_token)


class TextBundle:
    """The text part of the bundle (common.KindBundle), with the project's encoder loaded."""

    def __init__(self, rec: Reconstruction, weights: Path | None, project: Project) -> None:
        name = rec.embedding_set.backbone
        if name != minilm.NAME:
            raise AldeskError(
                f"The model bundle of a text project needs {minilm.NAME} embeddings; model {rec.model.version} was trained on {name} ones."
            )
        encoder = load_encoder(name, weights, device="cpu", kind=KIND)
        if not isinstance(encoder, minilm.TextEncoder):  # the registry loads minilm-l6 as one
            raise AldeskError(f"The {name} encoder cannot be exported.")
        self.tuned = find_tuned(project, rec.embedding_set.identity)
        if self.tuned is not None and self.tuned.base == encoder.identity:
            try:
                encoder = encoder_from_state(encoder, read_weights(project, self.tuned.identity), self.tuned.identity)
            except AldeskError as exc:  # damaged weights (TunedWeightsDamaged names the project)
                raise type(exc)(
                    f"{exc} Open the project in aldesk or run aldesk embed {project.path} (either goes back to the "
                    f"pretrained encoder), then aldesk train {project.path}, and export again. Nothing was written."
                ) from None
        if encoder.identity != rec.embedding_set.identity:
            raise AldeskError(
                f"Model {rec.model.version} was trained on {name} embeddings ({rec.embedding_set.identity}) made with "
                f"other encoder weights than the ones found now ({encoder.identity}): another version of the model files, "
                f"or a fine-tuned encoder whose weights this project no longer holds. A text bundle holds the "
                f"all-MiniLM-L6-v2 weights as packaged in {minilm.PACKAGE}, or the project's fine-tuned copy of them. "
                "If the embeddings were made from another model folder, pass it with --weights FOLDER; else retrain "
                "(aldesk train) and export again. Nothing was written."
            )
        self.rec, self.encoder = rec, encoder
        self.folder = _model_folder(weights)
        self.tokenizer = bundle_tokenizer(self.folder / minilm.TOKENIZER_FILE)
        self.pad_token = str((self.tokenizer.padding or {}).get("pad_token", "[PAD]"))
        self.model = TextBundleModel(encoder.network.cpu(), rec.head).eval()

    def export_program(self) -> torch.export.ExportedProgram:
        example = text_predict.encode(self.tokenizer, EXAMPLE)
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        tokens = torch.export.Dim("tokens", min=1, max=minilm.MAX_TOKENS)
        dims = {0: batch, 1: tokens}
        with torch.no_grad():
            return torch.export.export(self.model, example, dynamic_shapes={"input_ids": dims, "attention_mask": dims})

    def self_check(self, project: Project, program: nn.Module) -> Check:
        """The program on a few project texts, tokenized by the bundle's tokenizer, against the
        stored predictions; refuses unless the tokens are the encoder's and the probabilities
        match to the stored float16 rounding."""
        rec = self.rec
        positions = np.unique(np.linspace(0, len(rec.item_ids) - 1, min(SELF_CHECK_TEXTS, len(rec.item_ids))).astype(int))
        found = texts_of(project, [int(rec.item_ids[p]) for p in positions])
        rows = [int(p) for p in positions if int(rec.item_ids[p]) in found]
        if not rows:
            return Check(0, None)
        texts = [found[int(rec.item_ids[p])] for p in rows]
        ours, theirs = text_predict.encode(self.tokenizer, texts), self.encoder.tokenize(texts)
        if not all(torch.equal(a, b) for a, b in zip(ours, theirs)):
            raise AldeskError(
                f"The bundle's tokenizer ({self.folder / minilm.TOKENIZER_FILE}) does not give the encoder's tokens "
                "for the project's texts; nothing was written."
            )
        probs = text_predict.probabilities(program, self.tokenizer, texts).numpy()
        stored = rec.stored_probs[rows]
        diff = np.abs(probs - stored)
        if np.any(diff > float16_steps(stored) + SLACK):
            raise AldeskError(
                f"The exported program's output differs from the stored predictions by {float(diff.max()):.2g} on "
                "project texts; the encoder may have changed since embedding. Nothing was written."
            )
        return Check(len(rows), float(diff.max()))

    def write_files(self, stage: StagedFolder) -> int:
        stage.path(TOKENIZER).write_text(self.tokenizer.to_str(pretty=True) + "\n", encoding="utf-8")
        shutil.copyfile(Path(text_predict.__file__), stage.path(PREDICT))
        return 2

    def spec(self, names: list[str], check: Check) -> dict[str, Any]:
        rec, encoder = self.rec, self.encoder
        return {
            "kind": KIND,
            "program": PROGRAM,
            "load": f"torch.export.load('{PROGRAM}').module()",
            "predict": f"{PREDICT}: predict(texts) -> [{{class, probability, probabilities}}]; python {PREDICT} TEXT ... or --file FILE",
            "input": {
                "names": ["input_ids", "attention_mask"],
                "shape": ["B", "L"],
                "dtype": "int64",
                "max_tokens": encoder.max_tokens,
                "tokenizer": TOKENIZER,
                "tokenization": (
                    f"{TOKENIZER} ([CLS] text [SEP], all-MiniLM-L6-v2's lower-cased WordPiece), cut to the first "
                    f"{encoder.max_tokens} tokens ([SEP] kept last), padded with token {minilm.PAD_ID} ({self.pad_token}) to the "
                    "longest text of the batch; "
                    "attention_mask is 1 on the text's tokens and 0 on padding. tokenizer.json holds these settings; "
                    f"{PREDICT} sets them again"
                ),
                "truncation": {"max_tokens": encoder.max_tokens, "strategy": "longest_first", "direction": "right"},
                "padding": {"pad_id": minilm.PAD_ID, "pad_token": self.pad_token, "to": "the longest text of the batch"},
            },
            "output": {"shape": ["B", len(names)], "meaning": "class probabilities in classes.json order; rows sum to 1"},
            "classes": names,
            "classes_without_labels": [n for n, a in zip(names, rec.head.active.tolist()) if not a],
            "encoder": encoder.spec.name,
            "encoder_identity": encoder.identity,
            "encoder_weights": _weights_source(self.folder),
            # None, or how the weights in model.pt2 were fine-tuned from encoder_weights
            "fine_tuned": (
                {"identity": self.tuned.identity, "labels": self.tuned.n_labels, "stored_as": "float16"} if self.tuned else None
            ),
            "embedding_dim": encoder.spec.dim,
            **model_fields(rec),
            "verified": verified(rec, "texts", check),
            **export_fields(),
            "tokenizers_version": tokenizers.__version__,
        }

    def card(self, project: Project, spec: dict[str, Any]) -> str:
        return model_card(project, spec)


def model_card(project: Project, spec: dict[str, Any]) -> str:
    source = spec["encoder_weights"]
    where = f"the Python package {source['package']} {source['package_version']}" if source.get("package") else source["folder"]
    tuned = spec.get("fine_tuned")
    how = f", fine-tuned on {tuned['labels']} of the project's labels (the tuned weights are in {PROGRAM})" if tuned else ""
    lines = card_head(project, spec, f"- Encoder: {spec['encoder']} ({features_line(spec)}); weights from {where}{how}")
    lines += [
        "## Use",
        "",
        "```sh",
        f'python {PREDICT} "The invoice is overdue" "Lunch at noon?"',
        f"python {PREDICT} --file texts.txt --json  # one text a line",
        "```",
        "",
        f"`{PREDICT}` needs torch and tokenizers only; from Python, load it by its path and call "
        "`predict(texts)` (a dict per text: `class`, `probability`, `probabilities`). Or feed the program yourself:",
        "",
        "```python",
        "import torch",
        "from tokenizers import Tokenizer",
        f"tokenizer = Tokenizer.from_file('{TOKENIZER}')",
        f"model = torch.export.load('{PROGRAM}').module()",
        "enc = tokenizer.encode_batch(['The invoice is overdue', 'Lunch at noon?'])",
        "ids = torch.tensor([e.ids for e in enc]); mask = torch.tensor([e.attention_mask for e in enc])",
        "probs = model(ids, mask)  # int64 [B, L] each -> [B, K]",
        "```",
        "",
        f"Input: {spec['input']['tokenization']}. The encoder reads a text's first {spec['input']['max_tokens']} "
        "tokens (about 1,000 characters of English) only.",
        "",
        f"Output: class probabilities in the order of `{CLASSES}`.",
        "",
        f"Contract: {spec['reproduces']}. Checked at export: the rebuilt model matches all "
        f"{spec['verified']['pool_items']} stored predictions (max diff {spec['verified']['max_abs_diff_rebuilt_vs_stored']:.2g}); "
        f"the program, fed by the bundle's tokenizer, matches them on {spec['verified']['texts']} project texts "
        f"(max diff {spec['verified']['max_abs_diff_program_vs_stored']:.2g}); stored values are float16. "
        f"The exact recipe is in `{SPEC}`.",
        "",
    ]
    return "\n".join(lines)


def _model_folder(weights: Path | None) -> Path:
    """The folder the encoder was loaded from (load_text_encoder's choice)."""
    if weights is not None:
        return Path(weights)
    folder = minilm.package_dir()
    if folder is None:  # load_encoder found it a moment ago
        raise AldeskError(minilm.locate().hint)
    return folder


def _weights_source(folder: Path) -> dict[str, Any]:
    """Where the encoder's weights came from: the package (name, version) or a folder."""
    source: dict[str, Any] = {"file": minilm.WEIGHTS_FILE}
    packaged = minilm.package_dir()
    if packaged is not None and packaged.resolve() == folder.resolve():
        try:
            version: str | None = importlib.metadata.version(minilm.PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            version = None
        return {"package": minilm.PACKAGE, "package_version": version, **source}
    return {"package": None, "folder": str(folder.resolve()), **source}
