"""A project of texts for the screenshots of docs/make_text_screenshots.sh: 50 support tickets
of varied length (written for this purpose) and one long incident report, a few of them labeled.

    python docs/screenshot_texts.py make OUT_DIR [LABELED]   # writes OUT_DIR/support-tickets.aldesk
    python docs/screenshot_texts.py show PROJECT             # the app, the long report on screen
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

TICKETS: list[tuple[str, str]] = [
    ("bug", "The app crashes every time I press Save on a project larger than 2 GB. Nothing in the log."),
    ("question", "How do I export my labels as a CSV file?"),
    ("bug", "Login page shows a blank white screen in Firefox 128 since yesterday's update. Chrome works."),
    ("feature", "Could you add a dark mode to the web dashboard? The bright background is hard on the eyes at night."),
    ("billing", "Invoice 4411 was charged twice on my card. Please refund one of the two payments."),
    ("bug", "The progress bar stays at 99% and the import never finishes, even for a folder of ten files."),
    ("question", "Is there a keyboard shortcut to skip an item without labeling it?"),
    ("billing", "We moved from the monthly to the yearly plan but were still billed for March."),
    ("feature", "Please let us assign a colour to each class; with twelve classes the buttons all look alike."),
    ("bug", "After renaming a class, the old name still shows in the review grid until I restart."),
    ("question", "Can two people label the same project at the same time from different machines?"),
    ("billing", "Our VAT number is missing from the last three invoices. We need corrected copies for the audit."),
    (
        "bug",
        "Steps to reproduce:\n1. Open a project with more than 10,000 items\n2. Press Ctrl+B\n3. Scroll down fast\n\n"
        "Expected: thumbnails appear. Actual: the grid freezes for about five seconds, then catches up.",
    ),
    ("feature", "An option to hide the model's guess would help: I don't want it to bias the labelers."),
    ("question", "Where is the project file stored, and is it safe to copy it to a USB stick while the app is closed?"),
    ("bug", "Typing a class name with an umlaut (Überprüfung) turns it into question marks in the export."),
    ("billing", "Please cancel our subscription at the end of the current period. Thanks for everything."),
    ("feature", "Batch relabeling in the grid is great. Could it also work across two classes at once?"),
    ("question", "What does the number next to 'estimated accuracy' mean, and how many labels until it appears?"),
    ("bug", "The undo key does nothing right after I switch back from the review grid."),
    ("billing", "I was charged in US dollars although our account is set to euros."),
    ("question", "Do you support importing texts from a JSON Lines file with a different column name than 'text'?"),
    (
        "feature",
        "It would be really useful to be able to filter the review grid by the date an item was labeled, so that "
        "we can check last week's work before we send the batch to the client.",
    ),
    ("bug", "Screen reader reads the class buttons as 'button button button' without their names."),
    ("question", "Is there a limit on how many classes a project can have?"),
    ("billing", "Need a receipt for the payment made on 14 May for our accounting department."),
    ("bug", "On a 4K monitor the thumbnails in the strip are blurry while the main image is sharp."),
    ("feature", "Please add an 'undo all of today' button, for when a labeler used the wrong keymap all afternoon."),
    ("question", "Can I change the hotkeys of the classes after I've started labeling?"),
    ("bug", "Export to image folders fails with 'permission denied' on a network share, but copying by hand works."),
    ("billing", "Our card expired; how do I update the payment method without losing the current plan?"),
    ("question", "Does the model ever leave my machine? Our data may not be uploaded anywhere."),
    ("feature", "A small counter of items labeled per hour would motivate the team."),
    (
        "bug",
        "Hi, since version 2.3 the window opens on the wrong monitor (the one that is switched off) and I have "
        "to use the keyboard to move it back. Happens every morning. Windows 11, two monitors.",
    ),
    ("question", "What happens to my labels if the computer loses power in the middle of a session?"),
    ("billing", "Why did the price for five seats go up by 20% without any notice?"),
    ("bug", "Pressing U twice marks the item unsure and then jumps two items ahead."),
    ("feature", "Support for labeling PDF pages directly would save us a conversion step."),
    ("question", "How do I move a project to another computer together with its images?"),
    ("bug", "The learning curve panel shows an empty chart after I relabel items in the grid."),
    ("billing", "Please send the quote for the education discount to our procurement office."),
    ("feature", "Let us pin a note to a class describing when to use it, visible while labeling."),
    ("question", "Is there a command-line way to import new files into an existing project every night?"),
    ("bug", "CSV import stops at a row with a quote inside the text and the rest of the file is ignored."),
    ("billing", "Double charge again this month, same as in April. This is the second time."),
    ("question", "Can I see which labeler gave which label?"),
    ("feature", "A way to merge two classes into one, keeping the history, would help us clean up."),
    ("bug", "The font in the text view is tiny on my laptop until I press Ctrl+plus three times."),
    ("question", "Thank you for the quick fix last week! One more question: can I label with a foot pedal?"),
]

REPORT = """Incident report: nightly synchronisation outage, 3–4 March

Summary
The nightly synchronisation between the warehouse system and the order database did not complete on the night of 3 March. Orders placed after 18:00 were not visible to the warehouse until 09:40 the next morning, and 212 parcels missed the first truck.

Timeline
18:02 The sync job starts on schedule. The first three stages (customers, products, prices) finish normally within eleven minutes.
18:14 The orders stage begins and slows down at once: each batch takes about forty seconds instead of two.
19:30 The job's watchdog notices that the stage has not reported progress for fifteen minutes and restarts it. The restart begins again from the first batch, because the stage keeps no checkpoint.
22:05 The third restart. The on-call engineer receives the alert but, since the job is still running, decides to wait for the morning run.
06:10 The morning shift finds the orders stage still running, with about forty percent of the batches done.
09:40 After the metadata service is restarted by hand, the remaining batches finish in eight minutes.

What went wrong
The storage cluster behind the metadata service had been moved to a new rack during the afternoon maintenance window. The move itself succeeded, but one of the three replicas came back with a misconfigured network interface, so roughly a third of all requests waited for a timeout of thirty seconds before being retried on another replica. The sync job makes one metadata request per batch, which explains the forty-second batches.

Why it took so long to notice
The watchdog treats "no progress" and "slow progress" alike and restarts the stage, which threw the finished batches away three times. The alert that reached the on-call engineer said only that the job had been restarted, not that it was running at a twentieth of its normal speed, so waiting looked reasonable.

What we will change
1. The orders stage will keep a checkpoint after every batch, so that a restart resumes instead of starting over.
2. The watchdog will alert on throughput, with the expected and the measured batches per minute in the message.
3. After any maintenance on the storage cluster, a short synthetic request against each replica will be part of the sign-off.
4. The metadata client will lower its timeout from thirty seconds to five and try the next replica at once.

Impact on customers
212 parcels were shipped one day late. Customer service contacted the 64 business customers affected; no orders were lost and no order was shipped twice.

Open questions
We still do not know why the misconfiguration was not caught by the cluster's own health checks, which reported all three replicas as healthy throughout the night. The storage team is looking into it and will report back by the end of next week."""

LABELED = 30  # labeled before the screenshots, so the strips and the grid have something


def write_table(path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerow([REPORT])
        writer.writerows([text] for _, text in TICKETS)
    return path


def main(out: Path, labeled: int = LABELED) -> Path:
    from aldesk.core import labels
    from aldesk.core.classes import add_classes
    from aldesk.core.importer import import_paths
    from aldesk.core.items import all_ids, texts_of
    from aldesk.core.kinds import set_kind
    from aldesk.core.store import create_project

    out.mkdir(parents=True, exist_ok=True)
    path = out / "support-tickets.aldesk"
    truth = {text: topic for topic, text in TICKETS}
    with create_project(path) as project:
        set_kind(project, "text")
        classes = {c.name: c.id for c in add_classes(project, ["bug", "question", "billing", "feature"])}
        report = import_paths(project, [write_table(out / "tickets.csv")])
        print(report.summary())
        # The first tickets labeled as a person would have; the report stays unlabeled.
        texts = texts_of(project, all_ids(project))
        given = [(item_id, classes[truth[text]]) for item_id, text in sorted(texts.items()) if text in truth][:labeled]
        labels.record_many(project, given, source="human")
    return path


def show(path: Path) -> int:
    """The real app on ``path``. Once it is up, a few tickets are labeled with their topic and the
    rest skipped until the long report is on screen, as a person would press the keys, so the
    labeling screenshot shows a text that scrolls and the strip of recent labels."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from aldesk.gui.app import run_app

    app = QApplication(sys.argv[:1])
    truth = {text: topic for topic, text in TICKETS}

    def go_to_report() -> None:
        window = next(w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow")
        ids = {c.name: c.id for c in window.classes}
        given = 0
        for _ in range(len(TICKETS) + 1):
            text = window.labeling.item_view.text
            if window.session is None or window.session.current is None or text == REPORT:
                return
            if given < 5:
                window.label(ids[truth[text]])
                given += 1
            else:
                window.skip()

    QTimer.singleShot(2000, go_to_report)
    return run_app(path)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        print(main(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else LABELED))
    else:
        sys.exit(show(Path(sys.argv[2])))
