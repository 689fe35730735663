"""Device choice and CPU thread count (no GPU needed: CUDA/MPS presence is simulated)."""

from __future__ import annotations

import pytest
import torch

from aldesk.core.errors import AldeskError
from aldesk.ml import device as device_mod
from aldesk.ml.device import THREADS_ENV, configure_cpu_threads, count_physical_cores, resolve_device


@pytest.fixture
def no_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_mod, "_mps_available", lambda: False)


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_auto_is_cpu_on_this_machine():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, no_accelerators):
    assert resolve_device("auto").type == "cpu"
    monkeypatch.setattr(device_mod, "_mps_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"


def test_cuda_without_cuda_says_use_cpu(no_accelerators):
    for asked in ("cuda", "CUDA", "cuda:0"):
        with pytest.raises(AldeskError, match=r"no CUDA device.*--device cpu"):
            resolve_device(asked)


def test_real_cuda_request_fails_cleanly_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(AldeskError, match="--device cpu"):
        resolve_device("cuda")


def test_cuda_index_beyond_the_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(AldeskError, match=r"cuda:3.*1 CUDA device"):
        resolve_device("cuda:3")


def test_mps_absent_and_unknown_names(no_accelerators):
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(AldeskError, match="no Apple MPS"):
        resolve_device("mps")
    with pytest.raises(AldeskError, match=r"'tpu'.*auto, cpu, cuda"):
        resolve_device("tpu")


def test_threads_default_to_physical_cores_and_are_idempotent(monkeypatch, restore_threads):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    first = configure_cpu_threads()
    assert first >= 1
    assert torch.get_num_threads() == first
    assert configure_cpu_threads() == first
    assert torch.get_num_threads() == first


def test_threads_env_override(monkeypatch, restore_threads):
    monkeypatch.setenv(THREADS_ENV, "1")
    assert configure_cpu_threads() == 1
    assert torch.get_num_threads() == 1
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(AldeskError, match=THREADS_ENV):
            configure_cpu_threads()


def test_physical_cores_ignore_smt_siblings():
    cpu = "processor\t: {n}\nphysical id\t: {p}\ncore id\t\t: {c}\n"
    two_cores_four_threads = "\n".join(
        cpu.format(n=n, p=0, c=c) for n, c in enumerate((0, 1, 0, 1))
    )
    assert count_physical_cores(two_cores_four_threads) == 2
    two_sockets = "\n".join(cpu.format(n=n, p=p, c=0) for n, p in enumerate((0, 1)))
    assert count_physical_cores(two_sockets) == 2
    assert count_physical_cores("processor\t: 0\nmodel name\t: ARM\n") is None
