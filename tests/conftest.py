"""Shared fixtures: media the tests generate with known answers, and the shared clip folder."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from recsys.av_writer import write_av  # noqa: E402
from recsys.paths import SHARED_MEDIA_DIR  # noqa: E402

SR = 16000


def click_track(bpm: float, *, seconds: float = 12.0, sr: int = SR) -> np.ndarray:
    """(n,) float32: 1 kHz clicks, 12 ms long, every 60/bpm seconds."""
    y = np.zeros(int(sr * seconds), np.float32)
    n = int(0.012 * sr)
    env = np.hanning(2 * n)[n:].astype(np.float32)
    click = env * np.sin(2 * np.pi * 1000 * np.arange(n) / sr).astype(np.float32)
    for t in np.arange(0.05, seconds - 0.02, 60.0 / bpm):
        i = int(t * sr)
        y[i:i + n] += click[: len(y) - i]
    return 0.8 * y


def tone(freq: float, *, seconds: float = 3.0, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def white_noise(*, seconds: float = 3.0, sr: int = SR, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(sr * seconds))).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    import soundfile as sf

    sf.write(str(path), y, sr)
    return path


def write_video(path: Path, frames: np.ndarray, *, fps: int = 10, audio: np.ndarray | None = None,
                sr: int = 48000, codec: str | None = None) -> Path:
    """Encode (n, H, W, 3) uint8 frames (and optional mono audio) with PyAV: MP4 -> H.264/AAC,
    WebM -> VP9/Opus, MKV -> H.264, AVI -> MPEG-4 Part 2."""
    ext = path.suffix.lower()
    vcodec = codec or {".webm": "libvpx-vp9", ".avi": "mpeg4"}.get(ext, "libx264")
    acodec = {".webm": "libopus", ".avi": "mp3"}.get(ext, "aac")
    write_av(str(path), frames=frames, fps=fps, vcodec=vcodec, audio=audio, sr=sr, acodec=acodec)
    return path


def solid_frames(rgb: tuple[int, int, int], *, n: int = 20, size: tuple[int, int] = (96, 64)) -> np.ndarray:
    w, h = size
    return np.broadcast_to(np.asarray(rgb, np.uint8), (n, h, w, 3)).copy()


def moving_square_frames(*, n: int = 30, size: tuple[int, int] = (96, 64), speed: int = 4,
                         seed: int = 0) -> np.ndarray:
    """A bright square crossing a mid-grey background at ``speed`` pixels per frame."""
    w, h = size
    frames = np.full((n, h, w, 3), 90, np.uint8)
    for i in range(n):
        x = (i * speed) % (w - 16)
        frames[i, 20:36, x:x + 16] = (250, 220, 40)
    return frames


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not (SHARED_MEDIA_DIR / "catalog.csv").is_file():
        pytest.skip(f"shared media folder {SHARED_MEDIA_DIR} is absent (it sits beside the project "
                    "root on developer and CI machines)")
    return SHARED_MEDIA_DIR


@pytest.fixture(scope="session")
def shared_catalog(shared_media):
    import pandas as pd

    return pd.read_csv(shared_media / "catalog.csv")


def synthetic_catalog(n: int = 40, *, seed: int = 0):
    """A Catalog of ``n`` items in two clusters with a known answer: cluster 0 scores high on the
    Nature Lover's labels, cluster 1 on the Night Owl Gamer's. Blocks are random vectors around
    one centre per cluster; even rows are audio, odd rows video."""
    import json as _json

    import pandas as pd

    from recsys.catalog import BLOCKS, from_records
    from recsys.features import block_layout
    from recsys.understanding import label_names
    from recsys.users import get_persona

    rng = np.random.default_rng(seed)
    layout = block_layout()
    names = label_names()
    tastes = [get_persona("Nature Lover").taste(), get_persona("Night Owl Gamer").taste()]
    # one generator per block, so a block that changes size (the label block grows with the
    # vocabulary) does not reshuffle the random draws of the others
    block_rng = {b: np.random.default_rng([seed, k]) for k, b in enumerate(BLOCKS)}
    centres = {b: block_rng[b].normal(size=(2, layout[b].stop - layout[b].start)) for b in BLOCKS}
    rows, records = [], []
    for i in range(n):
        c = int(i >= n // 2)
        blocks = {}
        for b in BLOCKS:
            v = centres[b][c] + 0.6 * block_rng[b].normal(size=centres[b].shape[1])
            blocks[b] = (v / np.linalg.norm(v)).astype(np.float32)
        labels = np.clip(0.15 + 0.6 * tastes[c] + 0.1 * rng.random(len(names)), 0, 1).astype(np.float32)
        kind = "audio" if i % 2 == 0 else "video"
        rows.append({"item_id": f"item-{i:02d}", "path": f"clip{i}.wav", "kind": kind,
                     "title": f"{'Forest' if c == 0 else 'Neon'} clip {i}", "description": "", "tags": "",
                     "license": "CC0-1.0", "author": "test", "source": "synthetic", "duration_s": 5.0,
                     "valence": 0.0, "arousal": 0.0, "analysis": _json.dumps({"kind": kind})})
        records.append({"blocks": blocks, "label_scores": labels})
    return from_records(rows, records, Path("."), meta={"feature_version": "test", "n_items": n})
