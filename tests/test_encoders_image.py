"""EfficientNet-Lite0 image encoder: architecture, strict loading, shapes, known answers, offline."""
from __future__ import annotations

import socket
import threading

import numpy as np
import pytest
import torch

from recsys.encoders import image as img
from recsys.errors import ConfigError
from recsys.paths import SHARED_MEDIA_DIR

BUNNY_CLIP = SHARED_MEDIA_DIR / "video" / "blender" / "big_buck_bunny_432_433.webm"


# --- no model needed ------------------------------------------------------------------------
def test_same_padding_is_tensorflow_style():
    assert img._same_padding(224, 3, 2) == (0, 1)  # stride 2: the extra pixel goes after
    assert img._same_padding(112, 5, 2) == (1, 2)
    assert img._same_padding(56, 3, 1) == (1, 1)
    assert img._same_padding(7, 5, 1) == (2, 2)
    assert img._same_padding(7, 1, 1) == (0, 0)


def test_lite0_block_list():
    blocks = img.LITE0_BLOCKS
    assert len(blocks) == 16
    assert blocks[0] == img.BlockSpec(kernel=3, stride=1, expand=1, in_ch=32, out_ch=16)
    assert blocks[-1].out_ch == 320
    stage_strides = [b.stride for i, b in enumerate(blocks) if i == 0 or b.out_ch != blocks[i - 1].out_ch]
    assert stage_strides == [1, 2, 2, 2, 1, 2, 1]
    assert {b.kernel for b in blocks} == {3, 5}
    assert all(b.in_ch == prev.out_ch for prev, b in zip(blocks, blocks[1:]))


def test_preprocess_crops_resizes_and_normalises():
    frames = torch.full((2, 100, 300, 3), 127, dtype=torch.uint8)
    x = img.preprocess_frames(frames)
    assert x.shape == (2, 3, 224, 224) and x.dtype == torch.float32
    assert torch.allclose(x, torch.zeros_like(x))  # (127 - 127) / 128
    white = img.preprocess_frames(torch.full((1, 50, 40, 3), 255, dtype=torch.uint8))
    assert torch.allclose(white, torch.ones_like(white))


def test_preprocess_takes_the_centre():
    frames = torch.zeros((1, 200, 400, 3), dtype=torch.uint8)
    frames[:, :, 100:300] = 255  # the centre 200 px wide band; the crop is 175 px wide
    x = img.preprocess_frames(frames)
    assert torch.allclose(x, torch.ones_like(x))


# --- with the weights ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def encoder() -> img.ImageEncoder:
    return img.get_image_encoder("cpu")


@pytest.mark.slow
def test_strict_load_rejects_a_wrong_architecture():
    state = img.load_lite0_state_dict()
    img.EfficientNetLite(img.LITE0_BLOCKS).load_state_dict(state, strict=True)  # the right one loads
    with pytest.raises(RuntimeError):  # one block removed: unexpected keys (and a head mismatch)
        img.EfficientNetLite(img.LITE0_BLOCKS[:-1]).load_state_dict(state, strict=True)
    wrong_kernel = list(img.LITE0_BLOCKS)
    wrong_kernel[3] = wrong_kernel[3]._replace(kernel=3)  # the state dict has 5x5 there
    with pytest.raises(RuntimeError, match="size mismatch"):
        img.EfficientNetLite(tuple(wrong_kernel)).load_state_dict(state, strict=True)


@pytest.mark.slow
def test_solid_colour_frames_give_valid_outputs(encoder):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)]
    frames = np.stack([np.broadcast_to(np.array(c, np.uint8), (120, 160, 3)) for c in colours])
    out = encoder.encode(frames)
    assert out.probs.shape == (5, 1000) and out.probs.dtype == np.float32
    assert out.features.shape == (5, 1280) and out.features.dtype == np.float32
    assert np.isfinite(out.probs).all() and np.isfinite(out.features).all()
    np.testing.assert_allclose(out.probs.sum(axis=1), 1.0, atol=1e-5)
    assert (out.probs >= 0).all() and (out.features >= 0).all()  # softmax; pooled ReLU6
    assert not np.allclose(out.features[0], out.features[1])  # colours are told apart


@pytest.mark.slow
def test_batching_does_not_change_results_and_any_size_works(encoder):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 90, 250, 3), dtype=np.uint8)
    a = encoder.encode(frames, batch_size=2)
    b = encoder.encode(frames, batch_size=16)
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
    np.testing.assert_allclose(a.features, b.features, atol=1e-4)
    tiny = encoder.encode(rng.integers(0, 256, (1, 7, 9, 3), dtype=np.uint8))  # upscaled
    assert tiny.probs.shape == (1, 1000)
    read_only = frames[:1].copy()
    read_only.flags.writeable = False
    np.testing.assert_allclose(encoder.encode(read_only).probs, a.probs[:1], atol=1e-5)


@pytest.mark.slow
def test_empty_input(encoder):
    out = encoder.encode(np.zeros((0, 224, 224, 3), np.uint8))
    assert out.probs.shape == (0, 1000) and out.probs.dtype == np.float32
    assert out.features.shape == (0, 1280) and out.features.dtype == np.float32


@pytest.mark.slow
def test_bad_input_is_rejected(encoder):
    with pytest.raises(ValueError, match="uint8"):
        encoder.encode(np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        encoder.encode(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        encoder.encode(np.zeros((1, 32, 32, 4), np.uint8))
    with pytest.raises(ConfigError):
        encoder.encode(np.zeros((1, 32, 32, 3), np.uint8), batch_size=0)


@pytest.mark.slow
def test_metadata(encoder):
    assert encoder.name == "efficientnet-lite0"
    assert encoder.device == "cpu"
    assert len(encoder.class_names) == 1000
    assert encoder.class_names[1] == "goldfish" and encoder.class_names[331] == "hare"


@pytest.mark.slow
def test_real_photos_known_answers(encoder):
    """scikit-learn ships two real photos: a Chinese palace and a daisy-like flower."""
    datasets = pytest.importorskip("sklearn.datasets")
    china = datasets.load_sample_image("china.jpg")
    flower = datasets.load_sample_image("flower.jpg")
    out = encoder.encode(np.stack([china, flower]))
    top = encoder.top_k(out.probs, 3)
    assert "palace" in [name for name, _ in top[0]], top[0]
    assert top[1][0][0] == "daisy", top[1]


@pytest.mark.slow
def test_big_buck_bunny_is_seen_as_an_animal(encoder):
    if not BUNNY_CLIP.is_file():
        pytest.skip(f"shared media not present: {BUNNY_CLIP} (a fresh clone has no ../shared/media)")
    av = pytest.importorskip("av")
    with av.open(str(BUNNY_CLIP)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    mean = encoder.encode(frames).probs.mean(axis=0)
    order = np.argsort(-mean)
    top5 = [encoder.class_names[i] for i in order[:5]]
    assert order[0] < 398, top5  # ImageNet classes 0-397 are animals
    assert "hare" in top5, top5  # a cartoon rabbit: "hare" ranks 3rd over this 1 s clip


@pytest.mark.slow
def test_singleton_is_shared_and_concurrent_encode_is_safe(encoder):
    got: list[img.ImageEncoder] = []
    threads = [threading.Thread(target=lambda: got.append(img.get_image_encoder("cpu"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(e is encoder for e in got)

    rng = np.random.default_rng(1)
    batches = [rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8) for _ in range(3)]
    expected = [encoder.encode(b).probs for b in batches]
    results: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        results[i] = encoder.encode(batches[i]).probs

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        np.testing.assert_allclose(results[i], expected[i], atol=1e-5)


@pytest.mark.slow
def test_loads_with_the_network_cut_off(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    fresh = img.ImageEncoder(device="cpu")  # not the singleton
    out = fresh.encode(np.full((1, 64, 64, 3), 200, np.uint8))
    assert out.probs.shape == (1, 1000)
