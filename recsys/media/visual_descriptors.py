"""Hand-crafted visual descriptors: brightness, colour, dominant colours, motion, shot cuts.

Inputs are the sampled RGB frames and the grey thumbnails from :mod:`recsys.media.decode`; nothing here
decodes video, so these cost a few milliseconds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class VisualDescriptors:
    """Scalar summaries of a clip's picture. Values in [0, 1] unless a unit is given."""

    brightness: float            # mean luma / 255
    contrast: float              # mean per-frame luma standard deviation / 128
    saturation: float            # mean HSV saturation
    colourfulness: float         # Hasler & Suesstrunk (2003) metric / 100 (0 = grey, ~1 = vivid)
    warmth: float                # mean (R - B) / 255 in [-1, 1]: > 0 warm, < 0 cool
    motion: float                # mean absolute difference between thumbnails 1/thumb_fps apart, / 255
    cuts_per_min: float          # detected shot cuts per minute of analysed video
    dominant_colours: tuple[tuple[str, float], ...]  # (hex colour, share of pixels), largest first

    def to_dict(self) -> dict:
        out = asdict(self)
        out["dominant_colours"] = [{"hex": h, "share": round(s, 3)} for h, s in self.dominant_colours]
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}

    def summary(self) -> str:
        return (f"brightness {self.brightness:.2f}, saturation {self.saturation:.2f}, "
                f"motion {self.motion:.3f}, {self.cuts_per_min:.1f} cuts/min")


def describe_frames(frames: np.ndarray, thumbs: np.ndarray, thumb_times_s: np.ndarray, *,
                    n_colours: int = 5, cut_threshold: float = 0.35, seed: int = 0) -> VisualDescriptors:
    """Describe ``frames`` (n, H, W, 3) uint8 RGB and ``thumbs`` (m, h, w) uint8 grey taken at
    ``thumb_times_s`` (m,) seconds. ``cut_threshold`` is the histogram distance (0..1) between
    consecutive thumbnails above which a shot cut is counted."""
    rgb = frames.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    saturation = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = (np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))

    motion, cuts_per_min = 0.0, 0.0
    if len(thumbs) >= 2:
        t = thumbs.astype(np.float32)
        gaps = np.diff(thumb_times_s)
        contiguous = gaps < 2.0  # pairs across analysis windows are not motion
        diffs = np.abs(np.diff(t, axis=0)).mean(axis=(1, 2)) / 255.0
        if contiguous.any():
            motion = float(diffs[contiguous].mean())
        hists = np.stack([np.histogram(x, bins=16, range=(0, 256))[0] for x in thumbs]).astype(np.float32)
        hists /= np.maximum(hists.sum(axis=1, keepdims=True), 1)
        hist_dist = 0.5 * np.abs(np.diff(hists, axis=0)).sum(axis=1)  # total variation, 0..1
        cuts = int(((hist_dist > cut_threshold) & (diffs > 0.08) & contiguous).sum())
        span_s = float(gaps[contiguous].sum())
        cuts_per_min = 60.0 * cuts / span_s if span_s > 0 else 0.0
    return VisualDescriptors(
        brightness=float(luma.mean() / 255.0),
        contrast=float(luma.reshape(len(frames), -1).std(axis=1).mean() / 128.0),
        saturation=float(saturation.mean()),
        colourfulness=float(colourfulness / 100.0),
        warmth=float((r - b).mean() / 255.0),
        motion=motion,
        cuts_per_min=cuts_per_min,
        dominant_colours=dominant_colours(frames, k=n_colours, seed=seed),
    )


def dominant_colours(frames: np.ndarray, *, k: int = 5, n_pixels: int = 4000, iters: int = 12,
                     seed: int = 0) -> tuple[tuple[str, float], ...]:
    """k-means (Lloyd, k-means++ init, seeded) on a pixel sample: ((hex, share), ...) largest first."""
    pixels = frames.reshape(-1, 3).astype(np.float32)
    rng = np.random.default_rng(seed)
    if len(pixels) > n_pixels:
        pixels = pixels[rng.choice(len(pixels), n_pixels, replace=False)]
    k = min(k, len(np.unique(pixels, axis=0)))
    centres = [pixels[rng.integers(len(pixels))]]
    for _ in range(1, k):
        d2 = np.min(((pixels[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(pixels[rng.choice(len(pixels), p=d2 / d2.sum())] if d2.sum() > 0 else pixels[0])
    centres = np.asarray(centres)
    for _ in range(iters):
        labels = ((pixels[:, None, :] - centres[None]) ** 2).sum(-1).argmin(axis=1)
        centres = np.stack([pixels[labels == j].mean(0) if np.any(labels == j) else centres[j] for j in range(k)])
    shares = np.bincount(labels, minlength=k) / len(pixels)
    order = np.argsort(-shares)
    return tuple(("#%02x%02x%02x" % tuple(int(c) for c in np.clip(centres[j], 0, 255)), float(shares[j]))
                 for j in order)
