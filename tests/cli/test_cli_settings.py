"""``aldesk settings`` and the accuracy / stopping keys of ``aldesk info --json``."""

from tests.cli.test_cli import info_json, run


def test_settings_show_change_and_refuse(tmp_path, capsys):
    project = tmp_path / "p.aldesk"
    assert run(capsys, "new", project)[0] == 0
    code, out, _ = run(capsys, "settings", project)
    assert code == 0 and "audit_every = 10" in out and "stop_gain_points = 0.5" in out
    code, out, _ = run(capsys, "settings", project, "audit_every", "20")
    assert code == 0 and out.startswith("audit_every = 20")
    code, _, err = run(capsys, "settings", project, "audit_every", "1")
    assert code == 1 and "audit_every must be 0 (off) or 2..1000" in err
    assert "audit_every = 20" in run(capsys, "settings", project, "audit_every")[1]


def test_info_reports_no_estimate_and_no_stop_before_any_model(tmp_path, capsys):
    project = tmp_path / "p.aldesk"
    run(capsys, "new", project)
    info = info_json(capsys, project)
    assert info["estimated_accuracy"] == {"value": None, "low": None, "high": None, "audit_labels": 0}
    assert info["stopping"]["stop"] is False and info["stopping"]["reason"]
    text = run(capsys, "info", project)[1]
    assert "not estimated yet" in text
