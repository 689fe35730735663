"""The device through the command line: embed and train name it; a bad choice is a clear error."""

import pytest
import torch

from aldesk.cli import main
from tests.conftest import write_image


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(capsys, tmp_path):
    path = tmp_path / "p.aldesk"
    for i in range(12):
        write_image(
            tmp_path / "imgs" / ("a" if i % 2 else "b") / f"{i}.png", (200, 40, 40) if i % 2 else (40, 40, 200), size=(10 + i, 10)
        )
    run(capsys, "new", path)
    run(capsys, "import", path, tmp_path / "imgs", "--labels-from-folders")
    return path


def test_embed_and_train_name_the_device(capsys, project, monkeypatch):
    monkeypatch.setenv("ALDESK_DEVICE", "cpu")
    code, _, err = run(capsys, "embed", project, "--backbone", "pixels")
    assert code == 0 and "pixels (3072-d) on cpu, " in err and " thread" in err
    code, out, _ = run(capsys, "train", project)
    assert code == 0 and f"trained on cpu, {torch.get_num_threads()} thread" in out


def test_unavailable_or_unknown_device_is_refused(capsys, project, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run(capsys, "embed", project, "--backbone", "pixels", "--device", "cuda")
    assert code == 1 and "no CUDA device" in err and "--device cpu" in err
    code, _, err = run(capsys, "embed", project, "--backbone", "pixels", "--device", "tpu")
    assert code == 1 and "Unknown device 'tpu'" in err
    monkeypatch.setenv("ALDESK_DEVICE", "cuda")
    code, _, err = run(capsys, "embed", project, "--backbone", "pixels")
    assert code == 1 and "ALDESK_DEVICE='cuda'" in err
    assert run(capsys, "embed", project, "--backbone", "pixels", "--device", "cpu")[0] == 0  # the flag wins
    code, _, err = run(capsys, "train", project)
    assert code == 1 and "ALDESK_DEVICE='cuda'" in err  # the engine's device comes from it too
