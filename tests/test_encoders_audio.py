"""YAMNet audio encoder: TF-compatible front end, model cache, shapes, known answers, offline."""
from __future__ import annotations

import os
import socket
import threading

import numpy as np
import pytest

from recsys.encoders import audio as aud
from recsys.errors import ConfigError
from recsys.paths import SHARED_MEDIA_DIR

SR = aud.SAMPLE_RATE
SPEECH_WAV = SHARED_MEDIA_DIR / "audio" / "smstools" / "speech-male.wav"


def sine(freq: float, seconds: float = 3.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def noise(seconds: float = 3.0, amp: float = 0.1, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def clicks(bpm: float = 120, seconds: float = 6.0, *, kind: str = "burst") -> np.ndarray:
    """A click every 60/bpm s: "burst" = 0.1 s decaying noise burst (drum-like), "tick" = 12 ms
    decaying 1 kHz blip."""
    y = np.zeros(int(seconds * SR), np.float32)
    if kind == "burst":
        n = 1600
        click = 0.8 * np.random.default_rng(0).standard_normal(n) * np.exp(-np.arange(n) / 300)
    else:
        n = int(0.012 * SR)
        click = 0.8 * np.hanning(2 * n)[n:] * np.sin(2 * np.pi * 1000 * np.arange(n) / SR)
    for t in np.arange(0.05, seconds - 0.1, 60.0 / bpm):
        i = int(t * SR)
        y[i : i + n] += click.astype(np.float32)
    return y


# --- no model needed ------------------------------------------------------------------------
def test_mel_matrix_is_tensorflows():
    m = aud.mel_weight_matrix()
    assert m.shape == (257, 64) and m.dtype == np.float32
    assert (m >= 0).all() and (m <= 1).all()
    assert not m[0].any()  # TF zeroes the DC bin
    hz = np.linspace(0, SR / 2, 257)
    assert not m[hz < 125].any() and not m[hz > 7500].any()
    assert (m.max(axis=0) > 0.5).all()  # every band catches some bin
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=SR, n_fft=512, n_mels=64, fmin=125, fmax=7500, htk=True, norm=None).T
    assert np.abs(m - ref).max() < 0.01  # same bands; TF's triangles are linear in mel, not Hz


def test_padding_and_patch_count_follow_yamnet():
    cases = {1: 1, 15_600: 1, 15_601: 2, 16_000: 2, 23_280: 2, 23_281: 3, 10 * SR: 20}
    for n, patches in cases.items():
        assert aud.num_patches(n) == patches, n
        padded = aud.pad_waveform(np.zeros(n, np.float32))
        frames = aud.log_mel_spectrogram(padded).shape[0]
        assert 1 + (frames - 96) // 48 == patches and (frames - 96) % 48 == 0, n
    assert aud.num_patches(0) == 0


def test_log_mel_of_a_tone_peaks_in_its_band():
    logmel = aud.log_mel_spectrogram(sine(1000.0, seconds=1.0))
    assert logmel.shape == (1 + (SR - 400) // 160, 64) and logmel.dtype == np.float32
    edges = np.linspace(aud._hertz_to_mel(125.0), aud._hertz_to_mel(7500.0), 66)
    nearest = int(np.argmin(np.abs(edges[1:-1] - aud._hertz_to_mel(1000.0))))
    assert abs(int(np.argmax(logmel.mean(axis=0))) - nearest) <= 1
    silence = aud.log_mel_spectrogram(np.zeros(SR, np.float32))
    np.testing.assert_allclose(silence, np.log(aud.LOG_OFFSET), rtol=1e-6)


def test_evenly_spaced_patch_selection():
    np.testing.assert_array_equal(aud._select_patches(5, None), np.arange(5))
    np.testing.assert_array_equal(aud._select_patches(5, 9), np.arange(5))
    np.testing.assert_array_equal(aud._select_patches(20, 4), [2, 7, 12, 17])
    np.testing.assert_array_equal(aud._select_patches(21, 1), [10])


# --- model files ---------------------------------------------------------------------------
@pytest.mark.slow
def test_model_files_are_extracted_once(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path))
    path = aud.ensure_model_files()
    folder = tmp_path / "models" / "yamnet_w8a8"
    assert path == folder / "yamnet_w8a8_with_embedding.onnx"
    files = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert set(files) == {"model.onnx", "model.data", "yamnet_w8a8_with_embedding.onnx"}  # no temp left
    assert aud.ensure_model_files() == path
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == files  # nothing rewritten

    import onnx

    model = onnx.load(str(path))
    assert [o.name for o in model.graph.output] == ["class_scores", "/model/Reshape_output_0"]

    # A truncated extraction (size differs from the zip) is replaced, and the variant rebuilt.
    with open(folder / "model.data", "r+b") as fh:
        fh.truncate(100)
    aud.ensure_model_files()
    assert (folder / "model.data").stat().st_size > 1_000_000
    assert path.stat().st_mtime_ns >= (folder / "model.data").stat().st_mtime_ns


# --- with the model ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def encoder() -> aud.AudioEncoder:
    return aud.get_audio_encoder("cpu")


def top(encoder: aud.AudioEncoder, y: np.ndarray, k: int) -> list[str]:
    return [name for name, _ in encoder.top_k(encoder.encode(y).scores, k)]


@pytest.mark.slow
def test_metadata(encoder):
    assert encoder.name == "yamnet" and encoder.sample_rate == 16000
    assert len(encoder.class_names) == 521
    assert encoder.class_names[0] == "Speech" and "White noise" in encoder.class_names
    assert encoder.device == "cpu" and encoder.providers == ["CPUExecutionProvider"]


@pytest.mark.slow
def test_shapes_dtypes_and_times(encoder):
    out = encoder.encode(noise(seconds=10.0))
    assert out.scores.shape == (20, 521) and out.scores.dtype == np.float32
    assert out.embeddings.shape == (20, 1024) and out.embeddings.dtype == np.float32
    assert out.patch_times_s.shape == (20,) and out.patch_times_s.dtype == np.float32
    assert ((out.scores >= 0) & (out.scores <= 1)).all()
    assert np.isfinite(out.embeddings).all() and (out.embeddings >= 0).all()
    np.testing.assert_allclose(out.patch_times_s, 0.48 * np.arange(20), atol=1e-6)
    assert encoder.encode(noise(seconds=10.0).astype(np.float64)).scores.shape == (20, 521)


@pytest.mark.slow
def test_empty_and_short_clips(encoder):
    empty = encoder.encode(np.zeros(0, np.float32))
    assert empty.scores.shape == (0, 521) and empty.embeddings.shape == (0, 1024)
    assert empty.patch_times_s.shape == (0,)
    short = encoder.encode(sine(440.0, seconds=0.2))  # zero-padded to one patch
    assert short.scores.shape == (1, 521)
    assert top(encoder, np.zeros(SR, np.float32), 1) == ["Silence"]


@pytest.mark.slow
def test_max_patches_takes_evenly_spaced_patches(encoder):
    y = np.concatenate([sine(440.0, 4.0), noise(4.0), sine(1000.0, 2.0)])
    full = encoder.encode(y)
    part = encoder.encode(y, max_patches=4)
    idx = aud._select_patches(20, 4)
    np.testing.assert_allclose(part.patch_times_s, full.patch_times_s[idx])
    np.testing.assert_allclose(part.scores, full.scores[idx], atol=1e-6)
    np.testing.assert_allclose(part.embeddings, full.embeddings[idx], atol=1e-6)
    assert encoder.encode(y, max_patches=100).scores.shape == (20, 521)


@pytest.mark.slow
def test_bad_input_is_rejected(encoder):
    with pytest.raises(ValueError, match="mono"):
        encoder.encode(np.zeros((SR, 2), np.float32))
    with pytest.raises(ValueError, match="float"):
        encoder.encode(np.zeros(SR, np.int16))
    with pytest.raises(ConfigError):
        encoder.encode(np.zeros(SR, np.float32), max_patches=0)
    y = sine(440.0, 1.0)
    y[100] = np.nan
    assert np.isfinite(encoder.encode(y).scores).all()


@pytest.mark.slow
def test_tone_is_tone_like(encoder):
    tone_like = {"Sine wave", "Dial tone", "Busy signal", "Beep, bleep", "Telephone", "Alarm"}
    assert tone_like & set(top(encoder, sine(440.0), 3)), top(encoder, sine(440.0), 5)
    assert tone_like & set(top(encoder, sine(1000.0), 3)), top(encoder, sine(1000.0), 5)


@pytest.mark.slow
def test_white_noise_is_noise(encoder):
    for seed in (0, 1):
        got = top(encoder, noise(seed=seed), 3)
        assert {"White noise", "Static", "Noise", "Pink noise"} & set(got), got


@pytest.mark.slow
def test_click_track_is_percussive_or_ticking(encoder):
    got = top(encoder, clicks(kind="burst"), 5)
    assert {"Music", "Percussion", "Drum machine", "Drum"} & set(got), got
    got = top(encoder, clicks(kind="tick"), 5)
    assert {"Tick", "Clicking", "Tick-tock", "Clock"} & set(got), got


@pytest.mark.slow
def test_speech_recording_is_speech(encoder):
    if not SPEECH_WAV.is_file():
        pytest.skip(f"shared media not present: {SPEECH_WAV} (a fresh clone has no ../shared/media)")
    import soundfile as sf
    from scipy.signal import resample_poly

    y, sr = sf.read(str(SPEECH_WAV), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    g = np.gcd(sr, SR)
    y = resample_poly(y, SR // g, sr // g).astype(np.float32)
    assert top(encoder, y, 1) == ["Speech"]


@pytest.mark.slow
def test_singleton_is_shared_and_concurrent_encode_is_safe(encoder):
    got: list[aud.AudioEncoder] = []
    threads = [threading.Thread(target=lambda: got.append(aud.get_audio_encoder("cpu"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(e is encoder for e in got)

    clips = [sine(440.0, 2.0), noise(2.0), clicks(seconds=2.0)]
    expected = [encoder.encode(c).embeddings for c in clips]
    results: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        results[i] = encoder.encode(clips[i]).embeddings

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        np.testing.assert_array_equal(results[i], expected[i])


@pytest.mark.slow
def test_loads_with_the_network_cut_off(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path))  # extraction runs offline too
    fresh = aud.AudioEncoder(device="cpu")  # not the singleton
    assert fresh.encode(sine(440.0, 1.0)).scores.shape == (2, 521)
    assert (tmp_path / "models" / "yamnet_w8a8" / "yamnet_w8a8_with_embedding.onnx").is_file()
    assert os.listdir(tmp_path / "models" / "yamnet_w8a8")
