"""Classify texts with this model bundle, made by aldesk. Needs torch and tokenizers only.

    python predict.py "The invoice is overdue" "Lunch at noon?"
    python predict.py --file texts.txt     # one text a line; --file - reads standard input
    python predict.py --json "some text"   # everything, as JSON

From Python, load this file by its path and call ``predict``:

    import importlib.util
    spec = importlib.util.spec_from_file_location("bundle_predict", "BUNDLE/predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.predict(["some text"])
    # [{"class": "spam", "probability": 0.93, "probabilities": {"ham": 0.07, "spam": 0.93}}]

A text becomes the program's input exactly as aldesk made the embeddings the model was trained
on: the tokenizer of tokenizer.json ([CLS] text [SEP]), cut to the first ``max_tokens`` tokens
(bundle.json, 256) and padded with ``pad_id`` to the longest text of the batch; attention_mask
is 1 on the text's tokens, 0 on padding. The truncation and padding are set here again from
bundle.json, whatever tokenizer.json says (the one all-MiniLM-L6-v2 ships cuts at 128 tokens and
pads to 128). Texts go through model.pt2 in batches of similar length, which only saves time.

(In aldesk's source this file is aldesk/ml/bundle/text_predict.py; the export copies it into the
bundle as predict.py. It must not import aldesk.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent
BATCH = 64  # texts per forward


def configure(tokenizer: Tokenizer, max_tokens: int, pad_id: int, pad_token: str) -> Tokenizer:
    """``tokenizer`` cutting each text to ``max_tokens`` and padding a batch to its longest text."""
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
    return tokenizer


def encode(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` of ``texts``: int64 [N, L]."""
    encodings = tokenizer.encode_batch(list(texts))
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64)
    return ids, mask


def probabilities(program: torch.nn.Module, tokenizer: Tokenizer, texts: Sequence[str], batch_size: int = BATCH) -> torch.Tensor:
    """Class probabilities [N, K] of ``texts``, in their order."""
    lengths = [len(e.ids) for e in tokenizer.encode_batch(list(texts))] if texts else []
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    parts: list[torch.Tensor] = []
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            ids, mask = encode(tokenizer, [texts[i] for i in order[start : start + batch_size]])
            out: torch.Tensor = program(ids, mask)
            parts.append(out.float())
    if not parts:
        return torch.zeros((0, 0))
    probs = torch.empty((len(texts), parts[0].shape[1]))
    probs[torch.tensor(order)] = torch.cat(parts)
    return probs


class Bundle:
    """The bundle in ``folder``: its program, tokenizer and classes."""

    def __init__(self, folder: str | Path = HERE) -> None:
        folder = Path(folder)
        spec = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
        self.classes: list[str] = json.loads((folder / "classes.json").read_text(encoding="utf-8"))
        given = spec["input"]
        self.tokenizer = configure(
            Tokenizer.from_file(str(folder / given["tokenizer"])),
            int(given["max_tokens"]),
            int(given["padding"]["pad_id"]),
            str(given["padding"]["pad_token"]),
        )
        self.program = torch.export.load(str(folder / spec["program"])).module()

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """Class probabilities [N, K] in the order of ``self.classes``."""
        probs = probabilities(self.program, self.tokenizer, texts)
        return probs if len(texts) else torch.zeros((0, len(self.classes)))

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """For each text: its most probable class, that probability, and every class's."""
        rows = []
        for row in self.probabilities(texts).tolist():
            best = max(range(len(row)), key=row.__getitem__)
            rows.append({"class": self.classes[best], "probability": row[best], "probabilities": dict(zip(self.classes, row))})
        return rows


_BUNDLE: list[Bundle] = []  # this folder's bundle, loaded at the first call of predict


def predict(texts: Sequence[str]) -> list[dict[str, Any]]:
    """Classify ``texts`` with the bundle in this file's folder: a dict per text with "class",
    "probability" (of that class) and "probabilities" (class name -> probability)."""
    if isinstance(texts, str):
        raise TypeError("predict takes a list of texts; for one text write predict([text])")
    if not _BUNDLE:
        _BUNDLE.append(Bundle(HERE))
    return _BUNDLE[0].predict(texts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Classify texts with this aldesk model bundle.")
    parser.add_argument("texts", nargs="*", help="texts to classify")
    parser.add_argument("--file", help="a UTF-8 file of texts, one a line (blank lines skipped); - for standard input")
    parser.add_argument("--json", action="store_true", help="print a JSON list with every class's probability")
    args = parser.parse_args(argv)
    texts = list(args.texts)
    if args.file:
        lines = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        texts += [line for line in lines.splitlines() if line.strip()]
    if not texts:
        parser.error("give texts to classify, or --file FILE")
    results = predict(texts)
    if args.json:
        print(json.dumps([{"text": t, **r} for t, r in zip(texts, results)], ensure_ascii=False, indent=1))
    else:
        for text, result in zip(texts, results):
            shown = " ".join(text.split())
            print(f"{result['class']}\t{result['probability']:.4f}\t{shown[:80] + '...' if len(shown) > 80 else shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
