"""A background writer's back-to-back transactions let the project's own connection in between."""

from __future__ import annotations

import threading
import time

from aldesk.core.store import second_connection


def test_a_waiting_foreground_write_goes_before_the_background_writers_next_transaction(project):
    writer = second_connection(project)
    commits: list[int] = []
    stop = threading.Event()

    def write_back_to_back() -> None:  # like the predictions' thread, chunk after chunk
        while not stop.is_set():
            with writer.transaction() as conn:
                conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('bg', ?)", (str(len(commits)),))
                time.sleep(0.005)  # a chunk's transaction
            commits.append(1)

    thread = threading.Thread(target=write_back_to_back)
    thread.start()
    try:
        while not commits:
            time.sleep(0.001)
        overtaken = []
        for k in range(15):
            before = len(commits)
            project.set_meta("fg", str(k))  # waits for the transaction in progress only
            overtaken.append(len(commits) - before)
            time.sleep(0.003)
    finally:
        stop.set()
        thread.join()
        writer.close()
    # SQLite's busy handler alone retries after 1, 3, 8, 18 ms: the writer, which begins its
    # next transaction at once, overtook a waiting label several times in a row.
    assert max(overtaken) <= 1, overtaken
    assert project.meta("fg") == "14"
