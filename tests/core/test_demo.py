"""The built-in demo projects."""


def test_the_text_demo_holds_600_unlabeled_mails_with_their_truth(tmp_path):
    from aldesk.core.demo import build_demo
    from aldesk.core.info import project_info
    from aldesk.core.store import open_project

    path = build_demo(tmp_path, text=True)
    with open_project(path, write=False) as project:
        info = project_info(project)
        truth = dict(project.conn.execute("SELECT class_name, count(*) FROM item_truth GROUP BY class_name"))
    assert info["kind"] == "text" and info["items"] == 600 and info["labeled"] == 0
    assert info["classes"] == ["ham", "spam"] and truth == {"ham": 400, "spam": 200}
    assert build_demo(tmp_path, text=True) == path  # built once, then reused
