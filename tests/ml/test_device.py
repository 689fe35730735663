"""Device choice and CPU thread count (no GPU needed: CUDA/MPS presence is simulated)."""

from __future__ import annotations

import pytest
import torch

from aldesk.core.errors import AldeskError
from aldesk.ml import device as device_mod
from aldesk.ml.device import (
    DEVICE_ENV,
    THREADS_ENV,
    compute_device,
    configure_cpu_threads,
    count_physical_cores,
    describe_device,
    device_preference,
    free_memory,
    is_out_of_memory,
    requested_device,
    resolve_device,
    rows_that_fit,
)


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
    two_cores_four_threads = "\n".join(cpu.format(n=n, p=0, c=c) for n, c in enumerate((0, 1, 0, 1)))
    assert count_physical_cores(two_cores_four_threads) == 2
    two_sockets = "\n".join(cpu.format(n=n, p=p, c=0) for n, p in enumerate((0, 1)))
    assert count_physical_cores(two_sockets) == 2
    assert count_physical_cores("processor\t: 0\nmodel name\t: ARM\n") is None


def test_preference_flag_then_environment_then_auto(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert device_preference() == "auto"
    assert device_preference(None) == "auto"
    monkeypatch.setenv(DEVICE_ENV, " cpu ")
    assert device_preference() == "cpu"
    assert device_preference("cuda:1") == "cuda:1"  # an explicit --device wins


def test_environment_forces_the_cpu_even_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert requested_device().type == "cuda"
    assert compute_device().type == "cuda"
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert requested_device() == torch.device("cpu")
    assert compute_device() == torch.device("cpu")


def test_bad_environment_value_is_named(monkeypatch, no_accelerators):
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(AldeskError, match=rf"{DEVICE_ENV}='cuda'.*no CUDA device.*unset {DEVICE_ENV}"):
        requested_device()
    with pytest.raises(AldeskError, match=r"^--device cuda"):  # an explicit flag is named as the flag
        requested_device("cuda")


def test_engine_leaves_mps_to_embedding(monkeypatch, no_accelerators):
    monkeypatch.setattr(device_mod, "_mps_available", lambda: True)
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert requested_device().type == "mps"
    assert compute_device() == torch.device("cpu")


def test_describe_names_the_device(monkeypatch):
    assert describe_device(torch.device("cpu"), threads=2) == "cpu, 2 threads"
    assert describe_device(torch.device("cpu"), threads=1) == "cpu, 1 thread"
    assert describe_device(torch.device("cpu")).startswith(f"cpu, {torch.get_num_threads()} thread")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"NVIDIA Test {index}")
    assert describe_device(torch.device("cuda", 1)) == "cuda:1 (NVIDIA Test 1)"
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert describe_device(torch.device("cuda")) == "cuda:0 (NVIDIA Test 0)"
    assert describe_device(torch.device("mps")) == "mps (Apple GPU)"


def test_free_memory_only_on_cuda(monkeypatch):
    assert free_memory(torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (3 << 30, 8 << 30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 1 << 30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 256 << 20)
    # the driver's free bytes plus what torch's cache holds unused in this process
    assert free_memory(torch.device("cuda", 0)) == (3 << 30) + (1 << 30) - (256 << 20)


def test_rows_that_fit():
    # half of 1 GiB at 1 MiB per row: 512 rows
    assert rows_that_fit(1 << 20, 1 << 30) == 512
    assert rows_that_fit(1 << 20, 1 << 30, maximum=256) == 256
    assert rows_that_fit(1 << 20, 1 << 30, fraction=0.3, multiple=8) == 304  # 307 rounded down
    assert rows_that_fit(1 << 20, 0) == 1  # nothing free: still one row (an OOM then says so)
    assert rows_that_fit(1 << 20, 1 << 20, minimum=16) == 16
    assert rows_that_fit(3, 20, multiple=8) == 3  # below one multiple: not rounded to 0
    with pytest.raises(ValueError):
        rows_that_fit(0, 1 << 30)


def test_out_of_memory_recognised():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))
