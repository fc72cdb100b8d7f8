"""musicnn port: the TF checkpoint reader, the front end, strict loading, and the match with the
original TensorFlow graph (fixtures made by scripts/make_musicnn_reference.py).

Fast tests write checkpoint files of their own (a small LevelDB-table + tensor-bundle writer
below). Tests marked ``slow`` use the installed ``musicnn`` wheel (set-up installs it).
"""
from __future__ import annotations

import csv
import importlib.util
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys.encoders import musicnn as M
from recsys.encoders.tf_checkpoint import (
    CheckpointError,
    crc32c,
    masked_crc32c,
    parse_sstable,
    read_checkpoint,
)
from recsys.errors import EmptyMediaError
from recsys.paths import ASSETS_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "musicnn"
TOLERANCE = 1e-3

needs_wheel = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                 reason="the musicnn wheel is not installed (pip install --no-deps -r requirements-models.txt)")


# ------------------------------------------------------------------------------------------
# A writer for checkpoint-like files: LevelDB table (prefix-compressed keys, several data
# blocks) holding BundleEntryProtos, and the raw data shard.
# ------------------------------------------------------------------------------------------
_TF_DTYPE = {np.dtype("<f4"): 1, np.dtype("<f8"): 2, np.dtype("<i4"): 3, np.dtype("<i8"): 9, np.dtype("<f2"): 19}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _entry_proto(dtype: int, shape, offset: int, size: int, crc: int, *, slices: bool = False) -> bytes:
    shape_proto = b"".join(_field_bytes(2, _field_varint(1, d)) for d in shape)
    out = (_field_varint(1, dtype) + _field_bytes(2, shape_proto) + _field_varint(4, offset)
           + _field_varint(5, size) + _varint(6 << 3 | 5) + struct.pack("<I", crc))
    if slices:
        out += _field_bytes(7, b"")
    return out


def _block(entries: list[tuple[bytes, bytes]], restart_interval: int = 2) -> bytes:
    out, restarts, prev = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value)) + key[shared:] + value
        prev = key
    restarts = restarts or [0]
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def write_table(entries: dict[bytes, bytes], *, per_block: int = 3, magic: int = 0xDB4775248B80FB57) -> bytes:
    """A LevelDB-format table (no compression) of ``entries``, ``per_block`` entries per data block."""
    items = sorted(entries.items())
    out = bytearray()
    index = []

    def add_block(data: bytes) -> tuple[int, int]:
        offset = len(out)
        out.extend(data)
        out.extend(b"\x00" + struct.pack("<I", masked_crc32c(data + b"\x00")))
        return offset, len(data)

    for start in range(0, len(items), per_block):
        chunk = items[start:start + per_block]
        off, size = add_block(_block(chunk))
        index.append((chunk[-1][0], _varint(off) + _varint(size)))
    meta_off, meta_size = add_block(_block([]))
    index_off, index_size = add_block(_block(index, restart_interval=1))
    footer = _varint(meta_off) + _varint(meta_size) + _varint(index_off) + _varint(index_size)
    footer += b"\x00" * (40 - len(footer)) + struct.pack("<Q", magic)
    return bytes(out + footer)


def write_checkpoint(prefix: Path | str, tensors: dict[str, np.ndarray], *, bad_crc: str | None = None,
                     wrong_size: str | None = None, sliced: str | None = None) -> Path:
    """Write ``prefix.index`` and ``prefix.data-00000-of-00001`` holding ``tensors``."""
    data = bytearray()
    entries = {b"": _field_varint(1, 1)}  # BundleHeaderProto: num_shards = 1
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        crc = masked_crc32c(raw) ^ (1 if name == bad_crc else 0)
        size = len(raw) + (4 if name == wrong_size else 0)
        entries[name.encode()] = _entry_proto(_TF_DTYPE[array.dtype], array.shape, len(data), size, crc,
                                              slices=name == sliced)
        data += raw
    Path(os.path.dirname(str(prefix))).mkdir(parents=True, exist_ok=True)  # "d/" -> files d/.index ...
    Path(f"{prefix}.index").write_bytes(write_table(entries))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))
    return prefix


def _tf_layout(model: M.MusiCNN) -> dict[str, np.ndarray]:
    """The inverse of the loader's conversion: a MusiCNN's weights under TF names and layouts."""
    state = model.state_dict()
    out = {}
    for tf_name, torch_name, kind in M._name_map():
        w = state[torch_name].numpy()
        if kind == "conv2d":
            w = w.transpose(2, 3, 1, 0)
        elif kind == "conv1d":
            w = w.transpose(2, 1, 0)[:, :, None, :]
        elif kind == "dense":
            w = w.T
        out[tf_name] = np.ascontiguousarray(w, dtype=np.float32)
    return out


def _random_musicnn(seed: int = 0, **kwargs) -> M.MusiCNN:
    torch.manual_seed(seed)
    model = M.MusiCNN(**kwargs).eval()
    with torch.no_grad():  # non-trivial BN statistics so that every tensor matters
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model


# ------------------------------------------------------------------------------------------
# Checkpoint reader (fake files)
# ------------------------------------------------------------------------------------------
def test_crc32c_known_value():
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value


def test_reader_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "a/kernel": rng.normal(size=(3, 4, 1, 5)).astype(np.float32),
        "a/bias": rng.normal(size=(5,)).astype(np.float32),
        "a/bias/Adam": np.zeros(5, np.float32),
        "batch_normalization/gamma": np.ones(1, np.float32),
        "counter": np.array(7, dtype=np.int64),
        "half": rng.normal(size=(2, 3)).astype(np.float16),
        "double": rng.normal(size=(4,)).astype(np.float64),
    }
    write_checkpoint(tmp_path / "model", tensors)
    ckpt = read_checkpoint(tmp_path / "model", verify_crc=True)
    assert ckpt.names() == sorted(tensors)
    for name, array in tensors.items():
        got = ckpt[name]
        assert got.dtype == array.dtype and got.shape == array.shape
        np.testing.assert_array_equal(got, array)
    assert ckpt.entries["counter"].shape == ()


def test_reader_folder_prefix(tmp_path):
    """The musicnn wheel's files are named '.index' / '.data-...' inside a folder."""
    write_checkpoint(str(tmp_path / "ckpt") + "/", {"x": np.arange(6, dtype=np.float32).reshape(2, 3)})
    assert (tmp_path / "ckpt" / ".index").is_file()
    np.testing.assert_array_equal(read_checkpoint(str(tmp_path / "ckpt") + "/")["x"], np.arange(6).reshape(2, 3))


def test_sstable_prefix_compression_and_many_blocks():
    entries = {f"layer_{i:03d}/kernel".encode(): bytes([i]) * (i % 5) for i in range(40)}
    assert parse_sstable(write_table(entries, per_block=7)) == entries


def test_reader_rejects_bad_files(tmp_path):
    x = {"x": np.ones(3, np.float32), "y": np.zeros(2, np.float32)}
    write_checkpoint(tmp_path / "crc", x, bad_crc="y")
    assert read_checkpoint(tmp_path / "crc")["y"].shape == (2,)  # CRC is only checked on request
    with pytest.raises(CheckpointError, match="CRC"):
        read_checkpoint(tmp_path / "crc", verify_crc=True)["y"]
    write_checkpoint(tmp_path / "size", x, wrong_size="x")
    with pytest.raises(CheckpointError, match="bytes"):
        read_checkpoint(tmp_path / "size")
    write_checkpoint(tmp_path / "sliced", x, sliced="x")
    with pytest.raises(CheckpointError, match="slices"):
        read_checkpoint(tmp_path / "sliced")
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="magic"):
        parse_sstable(write_table({b"a": b"b"}, magic=0x1234))
    write_checkpoint(tmp_path / "short", x)
    data = Path(f"{tmp_path / 'short'}.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:-4])
    with pytest.raises(CheckpointError, match="outside"):
        read_checkpoint(tmp_path / "short")
    with pytest.raises(CheckpointError, match="no tensor"):
        read_checkpoint(tmp_path / "crc")["nope"]


# ------------------------------------------------------------------------------------------
# Strict loading (fake checkpoints with musicnn's variable names)
# ------------------------------------------------------------------------------------------
def test_strict_loading_round_trip(tmp_path):
    source = _random_musicnn(0)
    tensors = _tf_layout(source)
    tensors["dense/kernel/Adam"] = np.zeros((1506, 200), np.float32)   # optimizer state: skipped
    tensors["beta1_power"] = np.array(0.9, np.float32)
    write_checkpoint(tmp_path / "m", tensors)
    target = M.MusiCNN()
    target.load_state_dict(M.state_dict_from_checkpoint(read_checkpoint(tmp_path / "m"), target), strict=True)
    x = torch.randn(2, M.PATCH_FRAMES, M.N_MELS)
    with torch.inference_mode():
        for a, b in zip(source(x), target.eval()(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_strict_loading_fails_loudly(tmp_path):
    tensors = _tf_layout(_random_musicnn(0))
    write_checkpoint(tmp_path / "ok", tensors)
    ckpt = read_checkpoint(tmp_path / "ok")
    with pytest.raises(CheckpointError, match="wrong architecture"):
        M.state_dict_from_checkpoint(ckpt, M.MusiCNN(midend_filters=32))   # another mid-end width
    with pytest.raises(CheckpointError, match="wrong architecture"):
        M.state_dict_from_checkpoint(ckpt, M.MusiCNN(num_classes=40))
    extra = dict(tensors, **{"conv2d_8/kernel": np.zeros((7, 64, 1, 64), np.float32)})
    write_checkpoint(tmp_path / "extra", extra)
    with pytest.raises(CheckpointError, match="unused"):
        M.state_dict_from_checkpoint(read_checkpoint(tmp_path / "extra"), M.MusiCNN())
    missing = {k: v for k, v in tensors.items() if k != "batch_normalization_9/moving_variance"}
    write_checkpoint(tmp_path / "missing", missing)
    with pytest.raises(CheckpointError, match="missing"):
        M.state_dict_from_checkpoint(read_checkpoint(tmp_path / "missing"), M.MusiCNN())
    transposed = dict(tensors, **{"conv2d/kernel": tensors["conv2d/kernel"].transpose(1, 0, 2, 3).copy()})
    write_checkpoint(tmp_path / "transposed", transposed)
    with pytest.raises(CheckpointError, match="wrong architecture"):
        M.state_dict_from_checkpoint(read_checkpoint(tmp_path / "transposed"), M.MusiCNN())


def test_backend_pooling_is_interleaved():
    """TF concatenates [max, mean] on a last axis and flattens: max_0, mean_0, max_1, ..."""
    model = _random_musicnn(1)
    x = torch.randn(1, M.PATCH_FRAMES, M.N_MELS)
    captured = {}
    model.backend_bn.register_forward_hook(lambda mod, inp, out: captured.setdefault("in", inp[0]))
    with torch.inference_mode():
        model(x)
    pooled = captured["in"][0]
    assert pooled.shape == (1506,)
    assert torch.all(pooled[0::2] >= pooled[1::2] - 1e-6)  # every max is >= its mean


# ------------------------------------------------------------------------------------------
# Front end
# ------------------------------------------------------------------------------------------
def test_mel_filterbank_equals_librosa():
    import librosa

    np.testing.assert_allclose(M.mel_filterbank(), librosa.filters.mel(sr=16000, n_fft=512, n_mels=96), atol=1e-7)


def test_mel_power_equals_librosa_melspectrogram():
    import librosa

    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    y = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    ref = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    got = M.mel_power(y)
    assert got.shape == ref.shape == (1 + y.size // 256, 96)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_log_compress_matches_wheel_where_finite_and_never_overflows():
    mel = np.array([0.0, 1e-5, 0.5, 6.0, 6.56, 100.0, 1e6], np.float32)
    got = M.log_compress(mel)
    assert np.isfinite(got).all() and got.dtype == np.float32
    with np.errstate(over="ignore"):
        wheel = np.log10(10000 * mel.astype(np.float16) + 1)  # the wheel's float16 arithmetic
    finite = np.isfinite(wheel)
    assert not finite[-3:].any()  # the wheel overflows above 6.55
    np.testing.assert_allclose(got[finite], wheel[finite].astype(np.float32), atol=4e-3)  # float16 ulp at 4
    assert got.max() == pytest.approx(np.log10(10000 * 65504.0 + 1), rel=1e-6)


@pytest.mark.parametrize("n_samples, expected", [(0, 0), (1, 1), (16000, 1), (M.MIN_SAMPLES - 1, 1),
                                                 (M.MIN_SAMPLES, 1), (2 * M.PATCH_FRAMES * 256 - 256, 2),
                                                 (30 * 16000, 10)])
def test_patch_counts(n_samples, expected):
    assert M.num_patches(n_samples) == expected
    patches = M.mel_patches(np.zeros(n_samples, np.float32))
    assert patches.shape == (expected, M.PATCH_FRAMES, M.N_MELS) and patches.dtype == np.float32


def test_short_clip_is_repeated():
    y = np.sin(np.arange(8000) / 5.0).astype(np.float32)
    padded = M._repeat_pad(y)
    assert padded.shape == (M.MIN_SAMPLES,)
    np.testing.assert_array_equal(padded[8000:16000], y)
    np.testing.assert_array_equal(M.mel_patches(y)[0], M.log_mel_spectrogram(padded)[: M.PATCH_FRAMES])


# ------------------------------------------------------------------------------------------
# Label maps
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, filename", [("MSD_musicnn", "musicnn_msd.csv"), ("MTT_musicnn", "musicnn_mtt.csv")])
def test_label_maps_are_valid(model, filename):
    vocab = {}
    for facet in ("themes", "emotions", "styles"):
        with open(ASSETS_DIR / "vocab" / f"{facet}.csv", newline="", encoding="utf-8") as fh:
            vocab[facet] = {row["label"] for row in csv.DictReader(fh)}
    with open(ASSETS_DIR / "label_maps" / filename, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["class", "facet", "label", "weight", "note"]
        rows = list(reader)
    assert rows
    seen = set()
    for row in rows:
        assert row["class"] in M.MODELS[model], row
        assert row["facet"] in vocab and row["label"] in vocab[row["facet"]], row
        assert 0 < float(row["weight"]) <= 1, row
        assert (row["class"], row["facet"], row["label"]) not in seen, row
        seen.add((row["class"], row["facet"], row["label"]))


# ------------------------------------------------------------------------------------------
# The real wheel
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tagger():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return M.MusicTagger(device="cpu")


@pytest.mark.slow
@needs_wheel
@pytest.mark.parametrize("model_name", sorted(M.MODELS))
def test_real_checkpoint_reads_and_loads_strictly(model_name):
    ckpt = read_checkpoint(str(M.checkpoint_path(model_name)) + "/", verify_crc=True)
    used = [n for n in ckpt.names() if not M.is_optimizer_variable(n)]
    # 11 BNs x 4 + 8 convs x 2 + 2 dense x 2 = 64 used; Adam slots of the 42 trainable ones and 2 beta powers
    assert len(ckpt.names()) == 150 and len(used) == 64
    assert ckpt.entries["conv2d/kernel"].shape == (7, 38, 1, 204)
    for name in used:  # every tensor the model uses passes its CRC-32C
        assert np.isfinite(ckpt[name]).all()
    state = M.state_dict_from_checkpoint(ckpt, M.MusiCNN())
    assert sum(v.numel() for k, v in state.items() if "num_batches" not in k) == sum(ckpt[n].size for n in used)
    # MSD_musicnn_big's architecture (512 mid-end filters, 500 back-end units) must not load.
    with pytest.raises(CheckpointError, match="wrong architecture"):
        M.state_dict_from_checkpoint(ckpt, M.MusiCNN(midend_filters=512, backend_units=500))


def _fixture_files():
    files = sorted(FIXTURES.glob("*.npz"))
    assert len(files) >= 3, f"musicnn fixtures missing from {FIXTURES}"
    return files


@pytest.mark.slow
@needs_wheel
@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: p.stem)
def test_matches_original_tf_graph(path, tagger):
    ref = np.load(path)
    audio = ref["audio_int16"].astype(np.float32) / 32768.0

    # Front end vs the wheel's (librosa) mel power, stored in float16 as the wheel stores it.
    patches = M.mel_patches(audio)
    wheel_patches = M.log_compress(ref["mel_f16"].astype(np.float32))
    assert patches.shape == wheel_patches.shape
    np.testing.assert_allclose(patches, wheel_patches, atol=1e-3)  # float16 ulp flips in a few bins

    # The network on the same patches the TF graph was fed.
    for model_name, key in (("MTT_musicnn", "mtt"), ("MSD_musicnn", "msd")):
        probs, penultimate = tagger.predict_patches(wheel_patches)[model_name]
        np.testing.assert_allclose(probs, ref[f"{key}_probs"], atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(penultimate, ref[f"{key}_penultimate"], atol=TOLERANCE, rtol=0)

    # End to end from the waveform.
    tags = tagger.tag(audio)
    for mt, key in ((tags.mtt, "mtt"), (tags.msd, "msd")):
        np.testing.assert_allclose(mt.patch_probs, ref[f"{key}_probs"], atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(mt.penultimate, ref[f"{key}_penultimate"], atol=TOLERANCE, rtol=0)
    assert tags.padded == (audio.shape[0] < M.MIN_SAMPLES)


@pytest.mark.slow
@needs_wheel
def test_tag_api_shapes_and_summaries(tagger):
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(7 * 16000)).astype(np.float32)
    tags = tagger.tag(audio)
    assert tags.n_patches == 2 and not tags.padded and tags.duration_s == pytest.approx(7.0)
    np.testing.assert_allclose(tags.patch_times_s, [0.0, M.PATCH_SECONDS])
    for mt, names in ((tags.mtt, M.MTT_TAGS), (tags.msd, M.MSD_TAGS)):
        assert mt.tag_names == names and len(names) == M.NUM_TAGS
        assert mt.patch_probs.shape == (2, 50) and mt.penultimate.shape == (2, M.PENULTIMATE_DIM)
        np.testing.assert_allclose(mt.mean, mt.patch_probs.mean(0), rtol=1e-6)
        np.testing.assert_array_equal(mt.peak, mt.patch_probs.max(0))
        assert ((mt.patch_probs >= 0) & (mt.patch_probs <= 1)).all()
        assert mt.top(3)[0][1] == pytest.approx(float(mt.mean.max()))
    assert tags.features.shape == (M.PENULTIMATE_DIM,) and tags.features.dtype == np.float32
    assert np.linalg.norm(tags.features) == pytest.approx(1.0, abs=1e-5)

    short = tagger.tag(audio[:4000])  # 0.25 s: repeated to one patch
    assert short.padded and short.n_patches == 1 and np.isfinite(short.msd.mean).all()
    sub = tagger.tag(np.tile(audio, 5), max_patches=3)  # 35 s: 11 patches, 3 evenly spaced run
    assert sub.n_patches == 3 and sub.mtt.patch_probs.shape == (3, 50)
    noisy = audio.copy()
    noisy[:10] = np.nan
    assert np.isfinite(tagger.tag(noisy).msd.mean).all()
    with pytest.raises(EmptyMediaError):
        tagger.tag(np.zeros(0, np.float32))
    with pytest.raises(ValueError):
        tagger.tag(np.zeros((2, 100), np.float32))


@pytest.mark.slow
@needs_wheel
def test_get_music_tagger_is_shared_per_device():
    a = M.get_music_tagger("cpu")
    assert a is M.get_music_tagger("cpu") and a.device == "cpu"
    assert a.model_names == ("MTT_musicnn", "MSD_musicnn")


@pytest.mark.slow
@needs_wheel
def test_real_clips_get_sensible_tags(shared_media, tagger):
    """Sanity on real recordings: a jazzy lounge track, a voice, and a string orchestra."""
    from recsys.media.decode import decode  # 16 kHz mono, at most 30 s analysed

    jazz = tagger.tag(decode(shared_media / "audio/librosa/Kevin_MacLeod_-_Vibe_Ace.ogg").audio)
    assert "jazz" in [t for t, _ in jazz.msd.top(3)]
    speech = tagger.tag(decode(shared_media / "audio/smstools/speech-female.wav").audio)
    assert {"female", "woman", "female voice", "female vocal", "vocal", "voice", "male", "man"} & {
        t for t, _ in speech.mtt.top(5)}
    strings = tagger.tag(decode(
        shared_media / "audio/librosa/Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg").audio)
    assert {"classical", "strings", "violin"} & {t for t, _ in strings.mtt.top(3)}
