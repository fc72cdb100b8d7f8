"""Shared model objects under concurrent sessions: one ``Analyzer`` (as the app shares
``service.analyzer`` between every Streamlit session, see ``ui/cache.py``) analysing several
different clips from several threads at once must give, for each clip, what a serial analysis of
that clip gives. A race in an encoder (a shared buffer, a tokenizer's state, a session's I/O
binding) would mix one clip's numbers into another's, or raise.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from benchmarks.factories import click_track, moving_square_frames, tone, white_noise, write_video, write_wav
from recsys.paths import SHARED_MEDIA_DIR

pytestmark = pytest.mark.slow
SPEECH = SHARED_MEDIA_DIR / "audio" / "librosa" / "198-209-0000.ogg"


def _clips(tmp_path) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, title): different kinds, sizes, sounds and titles."""

    from benchmarks.app_latency import make_clip

    rng = np.random.default_rng(3)
    stripes = np.repeat(rng.integers(0, 255, size=(40, 1, 8, 3), dtype=np.uint8), 12, axis=2)  # (40, 1, 96, 3)
    stripes = np.repeat(stripes, 72, axis=1)                                                     # (40, 72, 96, 3)
    paths = {
        "square.mp4": write_video(tmp_path / "square.mp4", moving_square_frames(n=40, size=(160, 96)), fps=10,
                                  audio=tone(440, seconds=4.0, sr=48000), sr=48000),
        "stripes.mp4": write_video(tmp_path / "stripes.mp4", stripes, fps=10),  # no sound track
        "chord.mp4": make_clip(tmp_path / "chord.mp4", seconds=5.0, size=(320, 180)),
        "clicks.wav": write_wav(tmp_path / "clicks.wav", click_track(132, seconds=6.0)),
        "noise.wav": write_wav(tmp_path / "noise.wav", white_noise(seconds=3.0, seed=7) + tone(1200, seconds=3.0)),
    }
    titles = {"square.mp4": "Yellow square crossing", "stripes.mp4": "",  # no text: a zero text block
              "chord.mp4": "A slow chord over drifting colours, calm evening mood",
              "clicks.wav": "Metronome", "noise.wav": "Radio static and a high whistle in a storm"}
    out = {name: (p.read_bytes(), titles[name]) for name, p in paths.items()}
    if SPEECH.is_file():  # Whisper runs on it (speech dominates): the transcriber is shared too
        out["speech.ogg"] = (SPEECH.read_bytes(), "")
    return out


def _analyse(analyzer, name: str, data: bytes, title: str):
    from recsys.analysis.analyzer import ClipMetadata

    return analyzer.analyze(data, name=name, metadata=ClipMetadata(title=title))


def _assert_same(a, b, name: str) -> None:
    """``a`` (concurrent) equals ``b`` (serial) within float tolerance."""
    assert a.kind == b.kind and a.duration_s == pytest.approx(b.duration_s), name
    np.testing.assert_allclose(a.embedding, b.embedding, rtol=1e-4, atol=2e-5, err_msg=name)
    for block in ("visual", "audio", "text", "semantic"):
        np.testing.assert_allclose(getattr(a.blocks, block), getattr(b.blocks, block), rtol=1e-4, atol=2e-5,
                                   err_msg=f"{name}: {block} block")
    da, db = a.to_dict(include_embedding=False), b.to_dict(include_embedding=False)
    for facet in ("themes", "emotions", "styles"):
        assert [s["label"] for s in da[facet]] == [s["label"] for s in db[facet]], f"{name}: {facet}"
        np.testing.assert_allclose([s["score"] for s in da[facet]], [s["score"] for s in db[facet]], atol=1e-3,
                                   err_msg=f"{name}: {facet}")
    for modality in ("frames_imagenet", "sound_audioset"):
        assert [c["label"] for c in da["top_classes"][modality]] == [c["label"] for c in db["top_classes"][modality]]
    assert a.transcript == b.transcript, name
    assert da["valence"] == pytest.approx(db["valence"], abs=1e-3) and da["arousal"] == pytest.approx(
        db["arousal"], abs=1e-3), name


@pytest.fixture
def unloaded_encoders(monkeypatch):
    """The process-wide encoders as in a fresh process: none loaded yet, whatever ran before
    (each test gets its own; the loaded ones come back afterwards)."""
    from recsys.encoders import audio, image, text

    for module in (audio, image, text):
        monkeypatch.setattr(module._ENCODERS, "_instances", {})


def test_shared_analyzer_is_safe_under_concurrent_sessions(tmp_path, unloaded_encoders):
    from recsys.analysis.analyzer import Analyzer

    clips = _clips(tmp_path)
    analyzer = Analyzer()  # the app's: service.analyzer is a default Analyzer shared by every session
    names = sorted(clips)
    # Each clip twice, interleaved, all threads released at once; the encoders are unloaded, so
    # they are loaded and first used concurrently too.
    tasks = names + names[::-1]
    barrier = threading.Barrier(len(tasks))

    def work(name):
        barrier.wait(timeout=120)
        data, title = clips[name]
        return name, _analyse(analyzer, name, data, title)

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        concurrent = [f.result(timeout=600) for f in [pool.submit(work, n) for n in tasks]]
    serial = {n: _analyse(analyzer, n, *clips[n]) for n in names}
    assert {n: s.kind for n, s in serial.items()}["stripes.mp4"] == "video"
    assert serial["stripes.mp4"].audio is None and serial["clicks.wav"].visual is None
    for name, result in concurrent:
        _assert_same(result, serial[name], name)
    # The clips really differ: a mix-up between them could not pass the comparison above.
    emb = np.stack([serial[n].embedding for n in names])
    sims = emb @ emb.T
    assert (sims[~np.eye(len(names), dtype=bool)] < 0.995).all()


def test_encoders_directly_from_threads():
    """The three encoders ``Analyzer`` shares, called at once from threads with different inputs."""
    from recsys.encoders.audio import get_audio_encoder
    from recsys.encoders.image import get_image_encoder
    from recsys.encoders.text import get_text_encoder

    image, sound, text = get_image_encoder(), get_audio_encoder(), get_text_encoder()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, size=(3, 96 + 16 * i, 128, 3), dtype=np.uint8) for i in range(4)]
    waves = [tone(220 * (i + 1), seconds=2.0 + i) + white_noise(seconds=2.0 + i, amp=0.05, seed=i) for i in range(4)]
    texts = [["rain on a roof"], ["a very long description of a busy city street at night " * 8, ""],
             ["birds", "a cheerful song", "a dark and tense battle scene"], ["calm piano"]]

    def run(i):
        return (image.encode(frames[i]).features, sound.encode(waves[i]).embeddings, text.encode(texts[i]))

    serial = [run(i) for i in range(4)]
    barrier = threading.Barrier(8)

    def job(i):
        barrier.wait(timeout=60)
        return run(i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [(i % 4, pool.submit(job, i % 4)) for i in range(8)]
        for i, fut in futures:
            for got, want in zip(fut.result(timeout=300), serial[i]):
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
