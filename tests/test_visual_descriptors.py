"""recsys.media.visual_descriptors on generated video, encoded and decoded for real (MP4 and WebM)."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.factories import moving_square_frames, solid_frames, write_video
from recsys.media.decode import decode
from recsys.media.visual_descriptors import describe_frames, dominant_colours


def _describe(path):
    m = decode(path)
    return describe_frames(m.frames, m.thumbs, m.thumb_times_s)


@pytest.mark.parametrize("ext", [".mp4", ".webm"])
def test_brightness_colour_and_motion_are_ordered_as_constructed(tmp_path, ext):
    dark = _describe(write_video(tmp_path / f"dark{ext}", solid_frames((20, 20, 30), n=20), fps=10))
    bright = _describe(write_video(tmp_path / f"bright{ext}", solid_frames((230, 230, 220), n=20), fps=10))
    red = _describe(write_video(tmp_path / f"red{ext}", solid_frames((220, 30, 30), n=20), fps=10))
    grey = _describe(write_video(tmp_path / f"grey{ext}", solid_frames((128, 128, 128), n=20), fps=10))
    slow = _describe(write_video(tmp_path / f"slow{ext}", moving_square_frames(n=40, speed=1), fps=10))
    fast = _describe(write_video(tmp_path / f"fast{ext}", moving_square_frames(n=40, speed=7), fps=10))
    assert dark.brightness < 0.2 < 0.8 < bright.brightness
    assert red.saturation > 0.6 > 0.1 > grey.saturation
    assert red.colourfulness > grey.colourfulness and red.warmth > 0.5
    assert grey.motion < slow.motion < fast.motion
    assert dark.cuts_per_min == 0.0


def test_hard_cuts_are_counted(tmp_path):
    frames = np.concatenate([solid_frames(c, n=10) for c in [(10, 10, 10), (240, 240, 240)] * 3])
    d = _describe(write_video(tmp_path / "cuts.mp4", frames, fps=10))
    assert d.cuts_per_min == pytest.approx(5 * 60 / 6.0, rel=0.35)  # 5 cuts in 6 s


def test_dominant_colours_find_the_two_halves():
    img = np.zeros((1, 40, 40, 3), np.uint8)
    img[:, :, :30] = (255, 0, 0)
    img[:, :, 30:] = (0, 0, 255)
    cols = dominant_colours(img, k=2)
    assert cols[0][0] == "#ff0000" and cols[0][1] == pytest.approx(0.75, abs=0.05)
    assert cols[1][0] == "#0000ff"
