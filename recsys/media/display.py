"""Small arrays that show a decoded clip: a strip of frames, a waveform envelope, a log-mel
spectrogram. Computed once per clip (the app caches them per item), drawn by the UI.
"""
from __future__ import annotations

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
