"""What a person is told when --weights names something that is not a plain weights file."""

from __future__ import annotations

import random

import pytest
import torch

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders.weights_file import read_state_dict


class Custom:  # a class torch's weights-only unpickler does not allow
    pass


@pytest.mark.parametrize(
    "content", [random.Random(0).randbytes(4096), b"\0" * 100, b"these are not weights\n" * 50], ids=["random", "zeros", "text"]
)
def test_random_bytes_are_not_a_pytorch_weights_file(tmp_path, content):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(content)
    with pytest.raises(AldeskError) as caught:
        read_state_dict(junk, "resnet18")
    message = str(caught.value)
    assert f"{junk} is not a PyTorch weights file" in message
    assert "torch.save(model.state_dict(), FILE)" in message  # what is expected instead
    assert "Python objects" not in message and "Weights only load failed" not in message


def test_a_pickle_with_disallowed_globals_contains_python_objects(tmp_path):
    for name, value in (("whole-model.pth", torch.nn.Linear(2, 2)), ("custom.pth", {"a": Custom()})):
        path = tmp_path / name
        torch.save(value, path)
        with pytest.raises(AldeskError, match=rf"{path.name} contains Python objects.*state_dict"):
            read_state_dict(path, "resnet18")
