"""Encode arrays of frames and samples into a real media file with PyAV.

For generated media: the bench's clips (:mod:`benchmarks.bench`), the hostile and upload inputs of
``benchmarks/``, and the test suite's clips. Playable output for people goes through
:mod:`recsys.media.preview` instead, which transcodes what was uploaded.
"""
from __future__ import annotations

import itertools
import os
import tempfile
from fractions import Fraction
from typing import BinaryIO, Iterable

import numpy as np

from recsys.errors import ConfigError

_LAYOUTS = {1: "mono", 2: "stereo"}
# Codec options without which a codec is too slow for generated clips (libvpx-vp9 defaults to its
# "good" quality deadline, seconds per frame at 720p).
_FAST_OPTIONS = {"libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"}}


def write_av(target: str | BinaryIO, *, frames: np.ndarray | Iterable[np.ndarray] | None = None, fps: int = 10,
             vcodec: str = "libx264", video_options: dict | None = None, audio: np.ndarray | None = None,
             sr: int = 48000, acodec: str = "aac", fmt: str | None = None, container_options: dict | None = None,
             start_s: float = 0.0, audio_step: int = 1024) -> None:
    """Write a clip with a video stream, an audio stream, both, or (for 0-frame clips) neither.

    ``target``: a path, or a writable binary file object (``fmt`` is then required, as PyAV
    cannot guess the container from a name). ``frames``: RGB uint8, (n, H, W, 3) or an iterable
    of (H, W, 3) (a generator keeps a long 720p clip out of memory); None: no video stream.
    ``audio``: float32 in [-1, 1] at ``sr`` Hz, (n,) mono or (n, 2) stereo; None: no audio
    stream. ``start_s``: time stamp of the first frame and sample, in seconds (a capture whose
    clock did not start at zero). ``container_options`` go to the muxer (e.g. ``{"movflags":
    "+faststart"}``; for a file object that one goes through a private temporary file),
    ``video_options`` to the video encoder (e.g.
    ``{"preset": "veryfast", "crf": "23"}``).

    Audio is interleaved with the video: after each frame, the samples up to that frame's end
    (in ``audio_step``-sample frames), the rest after the last frame, as real files are laid out.
    The header is written even when no packet follows.
    """
    import av

    if audio is not None:
        audio = np.asarray(audio, np.float32)
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        if channels not in _LAYOUTS:
            raise ConfigError(f"audio must be (n,) or (n, 2), got shape {audio.shape}")
    if frames is not None and hasattr(frames, "shape"):
        height, width = frames.shape[1], frames.shape[2]
    elif frames is not None:  # an iterable: its first frame gives the size
        rest = iter(frames)
        first = next(rest, None)
        if first is None:
            raise ConfigError("frames: an empty iterable has no frame size; pass a (0, H, W, 3) array")
        height, width = first.shape[:2]
        frames = itertools.chain([first], rest)
    if not isinstance(target, (str, os.PathLike)) and "faststart" in (container_options or {}).get("movflags", ""):
        # faststart rewrites the finished file to move the index to the front: it needs a real file.
        with tempfile.TemporaryDirectory(prefix="recsys-av-") as folder:
            path = os.path.join(folder, "clip")
            write_av(path, frames=frames, fps=fps, vcodec=vcodec, video_options=video_options, audio=audio, sr=sr,
                     acodec=acodec, fmt=fmt, container_options=container_options, start_s=start_s,
                     audio_step=audio_step)
            with open(path, "rb") as fh:
                target.write(fh.read())
        return
    with av.open(target, "w", format=fmt, options=container_options or {}) as out:
        video = sound = None
        if frames is not None:
            video = out.add_stream(vcodec, rate=fps)
            video.width, video.height = width, height
            video.pix_fmt = "yuvj420p" if vcodec == "mjpeg" else "yuv420p"
            video.options = {**_FAST_OPTIONS.get(vcodec, {}), **(video_options or {})}
        if audio is not None:
            sound = out.add_stream(acodec, rate=sr)
            sound.layout = _LAYOUTS[channels]
        out.start_encoding()
        done = 0  # samples already encoded
        offset_frames, offset_samples = round(start_s * fps), round(start_s * sr)

        def encode_audio(stop: int) -> None:
            nonlocal done
            for i in range(done, min(stop, len(audio)), audio_step):
                chunk = audio[i:i + audio_step]
                chunk = chunk[None] if chunk.ndim == 1 else chunk.T
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp",
                                                layout=_LAYOUTS[channels])
                af.sample_rate, af.pts, af.time_base = sr, i + offset_samples, Fraction(1, sr)
                for pkt in sound.encode(af):
                    out.mux(pkt)
            done = max(done, min(stop, len(audio)))

        if video is not None:
            for i, img in enumerate(frames):
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                vf.pts, vf.time_base = i + offset_frames, Fraction(1, fps)
                for pkt in video.encode(vf):
                    out.mux(pkt)
                if sound is not None:  # up to this frame's end, in whole audio frames
                    encode_audio((i + 1) * sr // fps // audio_step * audio_step)
            for pkt in video.encode():
                out.mux(pkt)
        if sound is not None:
            encode_audio(len(audio))
            for pkt in sound.encode():
                out.mux(pkt)
