"""``aldesk recover``: copy every readable row of a damaged project into a new one.

The person's work is the classes, the items and their label history (and the settings); those
are copied row by row. Where SQLite cannot read a range of rows, the range is halved until the
unreadable rows are pinned down, so one bad page costs only the rows on it. Embeddings, models,
the queue and suspects are not copied: aldesk computes them again.

After the copy every item's stored label agrees with its history again: where the two disagree
(an event lost, or the item row lost) the item row, the current label the person saw, wins, and
a ``recovered`` event records it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aldesk.core.disk import disk_full_error
from aldesk.core.errors import ProjectError
from aldesk.core.export_partial import partial_path, remove_stale_partials
from aldesk.core.tuned_encoders import ACTIVE_KEY, TRIED_KEY
from aldesk.core.project_check import connect_read_only
from aldesk.core.project_files import discard_new_file, remove_idle_wal
from aldesk.core.sqlite_errors import one_line
from aldesk.core.store import Project, create_project

# What is copied, parents first (foreign keys). The rest is recomputed by aldesk.
# item_texts: a text project's texts live only in the project file (they are its items).
TABLES = ("meta", "classes", "items", "item_texts", "item_truth", "label_events")
# Meta rows about what is not copied: the fine-tuned encoder in use and when it was tuned.
NOT_COPIED_META = ("created_at", "created_by", ACTIVE_KEY, TRIED_KEY)
NOT_COPIED = "embeddings, models, predictions, the queue and suspects (aldesk computes them again)"
RECOVERED = "recovered"  # the strategy recorded on events that restore an item's current label
_BATCH = 5_000

Progress = Callable[[int, int], None]


@dataclass
class TableResult:
    copied: int = 0
    unreadable: int = 0  # rowids in ranges SQLite could not read (an upper bound on rows lost)
    rejected: int = 0  # rows read but inconsistent (a foreign key or a check failed)
    incomplete: bool = False  # damage reached the table's end: rows after it are unknown
    unreadable_from: int = 0  # the row id where that damage began
    retyped: int = 0  # values of the wrong type (a damaged record header), converted


@dataclass
class RecoverReport:
    source: Path
    target: Path
    tables: dict[str, TableResult] = field(default_factory=dict)
    lost_classes: list[int] = field(default_factory=list)  # ids given placeholder names
    restored_states: int = 0  # items whose current label was restored by a 'recovered' event
    garbled_texts: int = 0  # text values that were not valid UTF-8 any more (kept with U+FFFD)

    def decode(self, raw: bytes) -> str:
        """Text as SQLite hands it back; damaged bytes become U+FFFD, counted, not a lost row."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.garbled_texts += 1
            return raw.decode("utf-8", errors="replace")

    @property
    def anything_lost(self) -> bool:
        return (
            any(r.unreadable or r.rejected or r.incomplete for r in self.tables.values())
            or bool(self.lost_classes)
            or bool(self.garbled_texts)
        )

    def lines(self) -> list[str]:
        out = [f"recovered {self.source} into {self.target}"]
        for table, r in self.tables.items():
            line = f"  {table}: {r.copied} rows copied"
            if r.unreadable:
                line += f", up to {r.unreadable} unreadable"
            if r.rejected:
                line += f", {r.rejected} inconsistent rows left out"
            if r.retyped:
                line += f", {r.retyped} values of a damaged type converted"
            if r.incomplete:
                line += f", every row from row id {r.unreadable_from} on unreadable"
            out.append(line)
        if self.lost_classes:
            out.append(
                f"  {len(self.lost_classes)} class names were unreadable: their labels are kept under "
                "'lost class N'; rename them with 'aldesk classes'"
            )
        if self.restored_states:
            out.append(
                f"  {self.restored_states} items keep their current label although part of its "
                f"history was lost (marked '{RECOVERED}' in the history)"
            )
        if self.garbled_texts:
            out.append(f"  {self.garbled_texts} texts (paths, names) had damaged characters, kept as \ufffd")
        out.append(f"  not copied: {NOT_COPIED}")
        out.append(
            "  nothing readable was lost"
            if not self.anything_lost
            else "  compare the new project with your last backup for what could not be read"
        )
        return out


def recover(source: str | Path, target: str | Path, progress: Progress | None = None) -> RecoverReport:
    source = Path(source).absolute()
    target = Path(target).absolute()
    if source == target:
        raise ProjectError(f"--out must be a new file, not {source} itself.")
    if not source.is_file():
        raise ProjectError(f"No such project: {source}.")
    if target.exists():
        raise ProjectError(f"{target} already exists. Choose another name for the recovered project.")
    try:
        src = connect_read_only(source)
        present = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        detail = "its text is unreadable" if isinstance(exc, UnicodeDecodeError) else one_line(exc)
        raise ProjectError(
            f"{source} is damaged where SQLite keeps the list of its tables ({detail}); nothing can be "
            "recovered from it automatically. Restore it from a backup."
        ) from exc
    report = RecoverReport(source, target)
    src.text_factory = report.decode
    # Built under a partial name and renamed when complete: a killed recovery never leaves a
    # project that looks whole but is not (a later one removes the dead one's partial).
    remove_stale_partials(target.parent)
    partial = partial_path(target)
    try:
        with create_project(partial) as dst:
            dst.set_meta("recovered_from", str(source))
            dst.set_meta("recovered_at", str(time.time()))
            for number, table in enumerate(TABLES):
                if progress:
                    progress(number, len(TABLES))
                if table not in present:
                    continue
                report.tables[table] = _copy_table(src, dst, table, source.parent)
                if table == "classes":
                    report.lost_classes = _placeholder_classes(src, dst)
            report.restored_states = _restore_item_states(dst)
            if progress:
                progress(len(TABLES), len(TABLES))
        if _size(Path(f"{partial}-wal")):  # the checkpoint at close failed: not all in the one file
            raise disk_full_error(
                target, outcome="the recovered project could not be completed (nothing was changed in the damaged one)"
            )
        if target.exists():  # made meanwhile by someone else: keep theirs
            raise ProjectError(f"{target} appeared while recovering; it was left as it is.")
        os.replace(partial, target)  # closed and checkpointed: the one file is the project
    except BaseException as exc:
        discard_new_file(partial, None)
        if isinstance(exc, ProjectError) and exc.args:  # name the file the person asked for
            exc.args = (str(exc.args[0]).replace(str(partial), str(target)),) + exc.args[1:]
        raise
    finally:
        src.close()
        remove_idle_wal(source)  # the empty -wal/-shm reading it made
    return report


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- reading what can be read --------------------------------------------------------------------


def readable_rows(
    conn: sqlite3.Connection, table: str, columns: list[str], result: TableResult
) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of ``table``'s readable rows, in rowid order; unreadable rowids are counted.

    Rows are read in rowid order until SQLite reports damage; then the first readable rowid
    after it is found by an exponential search and a bisection (a seek by rowid reaches past a
    bad page), and reading goes on from there. aldesk's row ids are dense from 1, so the gap
    skipped bounds the rows lost.
    """
    select = f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT {_BATCH}"
    try:
        start = conn.execute(f"SELECT min(rowid) FROM {table}").fetchone()[0]
    except sqlite3.DatabaseError:
        start = 1
    if start is None:
        return
    while True:
        rows: list[tuple[Any, ...]] = []
        failed = False
        try:
            for row in conn.execute(select, (start,)):
                rows.append(row)
        except sqlite3.DatabaseError:
            failed = True
        if rows:
            yield [r[1:] for r in rows]
            start = rows[-1][0] + 1
        if not failed:
            if len(rows) < _BATCH:
                return
            continue
        resume = _next_readable(conn, table, start)
        if resume is None:  # damage up to the end of the table
            result.incomplete = True
            result.unreadable_from = start
            return
        result.unreadable += resume - start
        start = resume


def _next_readable(conn: sqlite3.Connection, table: str, after: int) -> int | None:
    """The smallest rowid ``y > after`` from which a seek reads (None: none within 2**62)."""
    probe = f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1"

    def readable(rowid: int) -> bool:
        try:
            conn.execute(probe, (rowid,)).fetchall()
            return True
        except sqlite3.DatabaseError:
            return False

    step = 1
    while not readable(after + step):
        step *= 2
        if step > 1 << 62:
            return None
    low, high = after + step // 2, after + step  # low fails (or is `after`), high reads
    while high - low > 1:
        middle = (low + high) // 2
        if readable(middle):
            high = middle
        else:
            low = middle
    return high


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


# -- writing into the new project ----------------------------------------------------------------


def _copy_table(src: sqlite3.Connection, dst: Project, table: str, source_root: Path) -> TableResult:
    result = TableResult()
    columns = [c for c in _columns(dst.conn, table) if c in set(_columns(src, table))]
    if table == "meta":
        columns = ["key", "value"]
    insert = f"INSERT OR REPLACE INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if table != "meta":
        insert = insert.replace("INSERT OR REPLACE", "INSERT")
    path_at = columns.index("path") if table == "items" else -1
    declared = {r[1]: str(r[2]).upper() for r in dst.conn.execute(f"PRAGMA table_info({table})")}
    types = [declared.get(c, "") for c in columns]
    for rows in readable_rows(src, table, columns, result):
        rows = _typed(rows, types, result)
        if table == "meta":
            rows = [r for r in rows if r[0] not in NOT_COPIED_META] + [
                r for r in rows if r[0] == "created_at"
            ]  # keep when the work began
        if path_at >= 0:  # relative paths are relative to the project's folder: re-anchor them
            rows = [r[:path_at] + (dst.stored_path(_absolute(r[path_at], source_root)),) + r[path_at + 1 :] for r in rows]
        _insert_rows(dst, insert, rows, result)
    return result


def _typed(rows: list[tuple[Any, ...]], types: list[str], result: TableResult) -> list[tuple[Any, ...]]:
    """Rows whose values have their columns' types. A flipped bit in a record's header can turn
    a text into a blob or a number into text, which no SQLite check notices: a blob in a text
    column is decoded (U+FFFD for damaged bytes), a row with a non-number in a number column is
    left out as inconsistent."""
    kept = []
    for row in rows:
        values = list(row)
        for i, (value, kind) in enumerate(zip(values, types)):
            if value is None:
                continue
            if kind == "TEXT" and isinstance(value, bytes):
                values[i] = value.decode("utf-8", errors="replace")
                result.retyped += 1
            elif kind == "INTEGER" and not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    values[i] = int(value)
                    result.retyped += 1
                else:
                    break
            elif kind == "REAL" and not isinstance(value, (int, float)):
                break
        else:
            kept.append(tuple(values))
            continue
        result.rejected += 1
    return kept


def _absolute(stored: object, root: Path) -> str:
    candidate = Path(str(stored))
    return str(candidate if candidate.is_absolute() else root / candidate)


def _insert_rows(dst: Project, insert: str, rows: list[tuple[Any, ...]], result: TableResult) -> None:
    """All rows in one transaction; if any is inconsistent, one by one, leaving that one out."""
    try:
        with dst.transaction() as conn:
            conn.executemany(insert, rows)
        result.copied += len(rows)
        return
    except ProjectError as exc:
        if not isinstance(exc.__cause__, sqlite3.IntegrityError):
            raise
    for row in rows:
        try:
            with dst.transaction() as conn:
                conn.execute(insert, row)
            result.copied += 1
        except ProjectError as exc:
            if not isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise
            result.rejected += 1


def _placeholder_classes(src: sqlite3.Connection, dst: Project) -> list[int]:
    """Classes referenced by readable items or events whose own row was lost get a name."""
    known = {r[0] for r in dst.conn.execute("SELECT id FROM classes")}
    used: set[int] = set()
    for table, column in (("items", "label_class_id"), ("label_events", "class_id")):
        scratch = TableResult()
        for rows in readable_rows(src, table, [column], scratch):
            used.update(r[0] for r in rows if isinstance(r[0], int))
    missing = sorted(used - known)
    if missing:
        position = dst.conn.execute("SELECT coalesce(max(position), -1) FROM classes").fetchone()[0]
        with dst.transaction() as conn:
            for offset, class_id in enumerate(missing, start=1):
                conn.execute(
                    "INSERT INTO classes(id, name, hotkey, position, colour) VALUES (?, ?, NULL, ?, ?)",
                    (class_id, f"lost class {class_id}", position + offset, "#888888"),
                )
    return missing


def _effective_events(conn: sqlite3.Connection) -> dict[int, list[tuple[int, str, int | None]]]:
    """Each item's events that no undo reverted, oldest first: (id, kind, class_id). One pass,
    not a query per item (a million items)."""
    undone = {r[0] for r in conn.execute("SELECT undoes FROM label_events WHERE undoes IS NOT NULL")}
    effective: dict[int, list[tuple[int, str, int | None]]] = {}
    for event_id, item_id, kind, class_id in conn.execute(
        "SELECT id, item_id, kind, class_id FROM label_events WHERE kind != 'undo' ORDER BY id"
    ):
        if event_id not in undone:
            effective.setdefault(item_id, []).append((event_id, kind, class_id))
    return effective


def _restore_item_states(dst: Project) -> int:
    """Make each item's latest effective event agree with its stored state (the item row wins)."""
    restored = 0
    now = time.time()
    kinds = {"labeled": "label", "skipped": "skip", "unsure": "unsure"}
    with dst.transaction() as conn:
        effective = _effective_events(conn)
        for item_id, status, class_id in conn.execute("SELECT id, status, label_class_id FROM items").fetchall():
            events = effective.get(item_id, [])
            latest = events[-1] if events else None
            want = kinds.get(status)
            if latest is None and want is None:
                continue
            if latest is not None and latest[1] == want and (want != "label" or latest[2] == class_id):
                continue
            restored += 1
            if want is None:  # unlabeled, but the surviving history says otherwise: undo it all
                for event_id, _kind, _class in reversed(events):
                    conn.execute(
                        "INSERT INTO label_events(item_id, kind, undoes, created_at, source, strategy) "
                        "VALUES (?, 'undo', ?, ?, 'human', ?)",
                        (item_id, event_id, now, RECOVERED),
                    )
                continue
            conn.execute(
                "INSERT INTO label_events(item_id, kind, class_id, created_at, source, strategy) VALUES (?, ?, ?, ?, 'human', ?)",
                (item_id, want, class_id if want == "label" else None, now, RECOVERED),
            )
    return restored
