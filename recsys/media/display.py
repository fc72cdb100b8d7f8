"""Small arrays that show a decoded clip: a strip of frames, a waveform envelope, a log-mel
spectrogram. Computed once per clip (the app caches them per item), drawn by the UI.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np


def display_arrays(media, *, n_frames: int = 8, strip_height: int = 90, env_bins: int = 800,
                   mel_cols: int = 400) -> dict:
    """Small arrays for display from a :class:`~recsys.media.decode.DecodedMedia`: a strip of frames
    (h, W, 3) uint8, a waveform envelope (min/max per bin) and a log-mel spectrogram (64, T)."""
    out: dict = {"kind": media.kind, "duration_s": float(media.duration_s), "strip": None, "strip_times": [],
                 "env": None, "mel": None}
    frames = media.frames
    if frames.shape[0]:
        from PIL import Image

        idx = np.unique(np.linspace(0, frames.shape[0] - 1, min(n_frames, frames.shape[0])).round().astype(int))
        tiles = []
        for i in idx:
            im = Image.fromarray(frames[i])
            w = max(1, int(im.width * strip_height / im.height))
            tiles.append(np.asarray(im.resize((w, strip_height))))
            tiles.append(np.full((strip_height, 3, 3), 255, np.uint8))
        out["strip"] = np.concatenate(tiles[:-1], axis=1)
        out["strip_times"] = [float(media.frame_times_s[i]) for i in idx]
    y = media.audio
    if y.size:
        sr = media.sample_rate
        step = max(1, y.size // env_bins)
        n = (y.size // step) * step
        blocks = y[:n].reshape(-1, step)
        out["env"] = (np.arange(blocks.shape[0]) * step / sr, blocks.min(1), blocks.max(1))
        import librosa

        hop = max(256, y.size // mel_cols)
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=hop, n_mels=64)
        out["mel"] = (librosa.power_to_db(mel, ref=np.max(mel) if mel.max() > 0 else 1.0).astype(np.float32),
                      hop / sr)
    return out


# Viridis at five stops (perceptually uniform, readable in grey): enough for a small picture.
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float32)
THUMB_LIMITS_S = 10.0  # seconds decoded for a thumbnail (one window at the middle of the clip)


def thumbnail(media, *, width: int = 320, height: int = 180) -> np.ndarray:
    """A (height, width, 3) uint8 picture of a clip for cards and galleries.

    Video: the frame nearest the middle of what was decoded, scaled and centre-cropped to fill.
    Audio: its log-mel spectrogram (low notes at the bottom) in viridis. Neither: mid grey.
    """
    from PIL import Image

    if media.frames.shape[0]:
        im = Image.fromarray(media.frames[media.frames.shape[0] // 2])
        scale = max(width / im.width, height / im.height)
        im = im.resize((max(width, round(im.width * scale)), max(height, round(im.height * scale))))
        left, top = (im.width - width) // 2, (im.height - height) // 2
        return np.asarray(im.crop((left, top, left + width, top + height)).convert("RGB"))
    y = media.audio
    if y.size == 0:
        return np.full((height, width, 3), 128, np.uint8)
    import librosa

    hop = max(64, y.size // width)
    mel = librosa.feature.melspectrogram(y=y, sr=media.sample_rate, n_fft=1024, hop_length=hop, n_mels=48)
    db = librosa.power_to_db(mel, ref=float(mel.max()) if mel.max() > 0 else 1.0, top_db=70.0)
    level = np.clip((db + 70.0) / 70.0, 0.0, 1.0)[::-1]               # (48, T), high bands on top
    pos = level * (len(_VIRIDIS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_VIRIDIS) - 2)
    frac = (pos - lo)[..., None]
    rgb = (_VIRIDIS[lo] * (1 - frac) + _VIRIDIS[lo + 1] * frac).astype(np.uint8)
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))


def thumbnail_of(source, *, width: int = 320, height: int = 180, name: str | None = None) -> np.ndarray:
    """:func:`thumbnail` of a path or bytes, decoding only ``THUMB_LIMITS_S`` seconds at its middle
    (3 frames for video). Raises :class:`~recsys.errors.MediaError` like ``decode``."""
    from recsys.media.decode import DEFAULT_LIMITS, decode

    limits = replace(DEFAULT_LIMITS, max_analysed_s=THUMB_LIMITS_S, n_windows=1, n_frames=3, thumb_fps=0.5,
                     frame_short_side=max(width, height))
    return thumbnail(decode(source, limits=limits, name=name), width=width, height=height)


def thumbnail_file(path, *, folder, width: int = 320, height: int = 180) -> np.ndarray:
    """:func:`thumbnail_of` a media file, kept in ``folder`` as ``.npy`` keyed by the file's path,
    size and modification time, so a restarted server draws its cards without decoding again."""
    import hashlib
    import os
    from pathlib import Path

    path, folder = Path(path), Path(folder)
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{width}x{height}".encode()).hexdigest()[:32]
    file = folder / f"{key}.npy"
    if file.is_file():
        try:
            return np.load(file, allow_pickle=False)
        except (OSError, ValueError):  # a torn or foreign file: make it again
            pass
    picture = thumbnail_of(path, width=width, height=height)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f"{key}.{os.getpid()}.tmp.npy")
    np.save(tmp, picture, allow_pickle=False)
    os.replace(tmp, file)
    return picture
