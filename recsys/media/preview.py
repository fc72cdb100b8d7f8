"""Browser-playable previews of clips: the original when a browser plays it, else a transcode.

``browser_safe(path_or_bytes)`` returns ``(data, mime)``. Browsers (Chrome, Firefox, Safari)
play H.264 (8-bit 4:2:0) with AAC/MP3 in MP4, VP8/VP9/AV1 with Vorbis/Opus in WebM, and MP3,
Ogg Vorbis/Opus, AAC (M4A) and PCM WAV audio; such files are returned untouched. Anything else
(Matroska, AVI/MPEG-4 Part 2, GIF, FLAC, 24-bit WAV, ...) is converted with PyAV:

* video -> MP4, H.264 yuv420p, longer side at most ``max_side`` (640) px, at most 30 fps, AAC
  audio when the source has sound. Matroska holding H.264 (+ AAC/MP3 or no sound) is remuxed
  without re-encoding when it already fits the size bound.
* audio -> Ogg Opus, 48 kHz, 96 kb/s.

Transcodes stop after ``max_seconds`` of media (a preview, not an archive copy) and after
``timeout_s`` of wall-clock time. Every failure is a :class:`~recsys.errors.MediaError`.
"""
from __future__ import annotations

import io
import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from recsys.deadline import Deadline
from recsys.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaTooLargeError,
    NoUsableStreamError,
    UnsupportedMediaError,
)
from recsys.media.decode import ffmpeg_reason

MAX_BYTES = 500 * 2**20

_SAFE_H264_PIX = {"yuv420p", "yuvj420p"}
_SAFE_MP4_AUDIO = {"aac", "mp3", "mp3float"}
_SAFE_WEBM_VIDEO = {"vp8", "vp9", "av1", "libdav1d", "libvpx", "libvpx-vp9"}
_SAFE_WEBM_AUDIO = {"vorbis", "opus", "libopus"}
_SAFE_WAV = {"pcm_u8", "pcm_s16le", "pcm_f32le"}


def browser_safe(source: str | os.PathLike | bytes, *, name: str | None = None, max_side: int = 640,
                 max_seconds: float = 300.0, timeout_s: float = 120.0) -> tuple[bytes, str]:
    """``(data, mime)`` that a browser's ``<video>``/``<audio>`` element plays.

    Parameters
    ----------
    source : path or bytes
        The clip. ``name`` (an upload's file name) only helps to tell WebM from Matroska when
        the bytes do not say; it is never used as a path.
    max_side : int
        Longer side in pixels of a transcoded video (the original is returned when safe).
    max_seconds : float
        Transcodes keep at most this many seconds from the start.
    timeout_s : float
        Wall-clock bound on a transcode; past it, :class:`MediaTimeoutError`.
    """
    data = _read(source)
    label = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else "clip")
    import av

    try:
        first = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as err:
        raise UnsupportedMediaError(f"{label}: not an audio or video file ({ffmpeg_reason(err)})") from None
    try:
        with first as container:
            mime = _safe_mime(container, data, label)
            if mime is not None:
                return data, mime
            deadline = Deadline(timeout_s, label, activity="preview transcode")
            video = _main_video(container)
            if video is None:
                return _to_ogg_opus(container, label, max_seconds, deadline), "audio/ogg"
            remuxed = _try_remux(container, video, max_side)
        if remuxed is not None:
            return remuxed, "video/mp4"
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            return _to_h264_mp4(container, label, max_side, max_seconds, deadline), "video/mp4"
    except MediaError:
        raise
    except av.error.FFmpegError as err:
        raise CorruptMediaError(f"{label}: cannot make a preview ({ffmpeg_reason(err)})") from None
    except (ValueError, IndexError, OverflowError, ZeroDivisionError, RuntimeError, MemoryError) as err:
        raise CorruptMediaError(f"{label}: cannot make a preview ({type(err).__name__}: {err})") from None


# --- what is already safe ----------------------------------------------------------------------

def _read(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise MediaError(f"{path.name}: no such file")
        if path.stat().st_size > MAX_BYTES:
            raise MediaTooLargeError(f"{path.name}: over the {MAX_BYTES // 2**20} MB preview limit")
        data = path.read_bytes()
    if not data:
        raise EmptyMediaError("clip is empty (0 bytes)")
    if len(data) > MAX_BYTES:
        raise MediaTooLargeError(f"clip is over the {MAX_BYTES // 2**20} MB preview limit")
    return data


def _main_video(container):
    import av

    for s in container.streams.video:
        try:
            if s.disposition & av.stream.Disposition.attached_pic:
                continue  # cover art in an MP3/M4A: an audio file
        except (AttributeError, TypeError):
            pass
        return s
    return None


def _codec(stream) -> str:
    return stream.codec_context.name if stream is not None else ""


def _safe_mime(container, data: bytes, label: str) -> str | None:
    """The MIME type when the original plays in browsers as is, else None."""
    fmt = container.format.name
    video = _main_video(container)
    audios = list(container.streams.audio)
    if video is None and not audios:
        raise NoUsableStreamError(f"{label}: no audio or video stream")
    audio = audios[0] if audios else None
    acodec = _codec(audio)
    if video is not None:
        vcodec = _codec(video)
        if "mp4" in fmt.split(","):
            pix = video.codec_context.format.name if video.codec_context.format else ""
            if vcodec == "h264" and pix in _SAFE_H264_PIX and (audio is None or acodec in _SAFE_MP4_AUDIO) \
                    and len(audios) <= 1:
                return "video/mp4"
        if "webm" in fmt.split(",") and _is_webm(data, label):
            if vcodec in _SAFE_WEBM_VIDEO and (audio is None or acodec in _SAFE_WEBM_AUDIO):
                return "video/webm"
        return None
    if fmt == "mp3" and acodec in ("mp3", "mp3float"):
        return "audio/mpeg"
    if fmt == "ogg" and acodec in _SAFE_WEBM_AUDIO:
        return "audio/ogg"
    if fmt == "wav" and acodec in _SAFE_WAV and audio.codec_context.channels <= 2:
        return "audio/wav"
    if "mp4" in fmt.split(",") and acodec == "aac":
        return "audio/mp4"
    if "webm" in fmt.split(",") and _is_webm(data, label) and acodec in _SAFE_WEBM_AUDIO:
        return "audio/webm"
    return None


def _is_webm(data: bytes, label: str) -> bool:
    """WebM and Matroska share a demuxer; the EBML header's DocType tells them apart."""
    head = data[:64]
    if b"webm" in head:
        return True
    if b"matroska" in head:
        return False
    return label.lower().endswith(".webm")


# --- conversions -------------------------------------------------------------------------------

def _try_remux(container, video, max_side: int) -> bytes | None:
    """Matroska/MOV with 8-bit 4:2:0 H.264 (+ AAC/MP3 or silence) copied into MP4, else None."""
    import av

    cc = video.codec_context
    audios = list(container.streams.audio)
    pix = cc.format.name if cc.format else ""
    if (_codec(video) != "h264" or pix not in _SAFE_H264_PIX or max(cc.width, cc.height) > max_side
            or len(audios) > 1 or (audios and _codec(audios[0]) not in ("aac",))):
        return None
    tmp = tempfile.TemporaryDirectory(prefix="recsys-preview-")
    path = os.path.join(tmp.name, "remux.mp4")
    try:
        container.seek(0)
        with av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
            mapping = {video.index: out.add_stream_from_template(video)}
            if audios:
                mapping[audios[0].index] = out.add_stream_from_template(audios[0])
            packets = [p for p in container.demux(*[s for s in (video, *audios)])
                       if p.size and p.pts is not None and p.stream.index in mapping]
            _fill_dts([p for p in packets if p.stream.index == video.index])
            for packet in packets:
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
        with open(path, "rb") as fh:
            out_bytes = fh.read()
    except (av.error.FFmpegError, ValueError, AttributeError, TypeError, OSError):
        return None  # fall back to a transcode
    finally:
        tmp.cleanup()
    return out_bytes if len(out_bytes) > 1024 else None


def _fill_dts(packets) -> None:
    """Matroska leaves H.264 decode timestamps unset; MP4 needs them. In decode order, the
    i-th dts is the i-th smallest pts, shifted back by the reorder delay so dts <= pts."""
    if not packets or all(p.dts is not None for p in packets):
        return
    pts = [int(p.pts) for p in packets]
    ordered = sorted(pts)
    delay = max(0, max(o - q for o, q in zip(ordered, pts)))
    for p, o in zip(packets, ordered):
        p.dts = o - delay


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def _to_h264_mp4(container, label: str, max_side: int, max_seconds: float, deadline: Deadline) -> bytes:

    video = _main_video(container)
    audio = next(iter(container.streams.audio), None)
    cc = video.codec_context
    w, h = cc.width or 0, cc.height or 0
    if w <= 0 or h <= 0:
        raise CorruptMediaError(f"{label}: video stream has no frame size")
    scale = min(1.0, max_side / max(w, h))
    ow, oh = _even(w * scale), _even(h * scale)
    rate = float(video.average_rate or video.guessed_rate or 0) or 10.0
    fps = int(min(30, max(1, round(rate))))
    video.thread_type = "AUTO"

    # faststart (index before data, so playback starts at once) needs a real file to rewrite.
    with tempfile.TemporaryDirectory(prefix="recsys-preview-") as tmp:
        path = os.path.join(tmp, "preview.mp4")
        _write_h264(container, video, audio, path, label, ow, oh, fps, max_seconds, deadline)
        with open(path, "rb") as fh:
            return fh.read()


def _write_h264(container, video, audio, path: str, label: str, ow: int, oh: int, fps: int,
                max_seconds: float, deadline: Deadline) -> None:
    import av

    with av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        # Every output stream exists before the first packet is written (the header).
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = ow, oh, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "28"}
        sink = _AudioSink(out, audio, "aac", 44100, "fltp", max_seconds) if audio is not None else None
        n_out = 0
        video_done = False
        for packet in container.demux(*[s for s in (video, audio) if s is not None]):
            deadline.check()
            if packet.stream.type == "audio":
                if sink is not None and not sink.done:
                    try:
                        for frame in packet.decode():
                            sink.add(frame)
                    except av.error.FFmpegError:
                        sink.done = True  # a broken sound track: the rest of the preview is silent
                continue
            if video_done:
                if sink is None or sink.done:
                    break
                continue
            for frame in packet.decode():
                t = float(frame.time) if frame.time is not None else n_out / fps
                if t > max_seconds:
                    video_done = True
                    break
                # Constant output rate: repeat or drop source frames to land on every tick.
                while n_out <= t * fps + 1e-6 or n_out == 0:
                    img = frame.reformat(width=ow, height=oh, format="yuv420p")
                    img.pts, img.time_base = n_out, Fraction(1, fps)
                    for pkt in vs.encode(img):
                        out.mux(pkt)
                    n_out += 1
        if n_out == 0:
            raise CorruptMediaError(f"{label}: video stream holds no decodable frame")
        for pkt in vs.encode():
            out.mux(pkt)
        if sink is not None:
            sink.close()


def _to_ogg_opus(container, label: str, max_seconds: float, deadline: Deadline) -> bytes:
    import av

    audio = next(iter(container.streams.audio))
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="ogg") as out:
        sink = _AudioSink(out, audio, "libopus", 48000, "flt", max_seconds)
        for frame in container.decode(audio):
            deadline.check()
            sink.add(frame)
            if sink.done:
                break
        sink.close()
    if sink.written == 0:
        raise EmptyMediaError(f"{label}: audio stream holds no samples")
    return buf.getvalue()


class _AudioSink:
    """Resample and encode decoded audio frames into one output stream, up to ``max_seconds``."""

    def __init__(self, out, source, codec: str, rate: int, fmt: str, max_seconds: float):
        import av

        self.out, self.rate, self.fmt = out, rate, fmt
        self.layout = "mono" if (source.codec_context.channels or 1) == 1 else "stereo"
        self.stream = out.add_stream(codec, rate=rate)
        self.stream.layout = self.layout
        if codec == "libopus":
            self.stream.bit_rate = 96_000
        self.resampler = av.AudioResampler(format=fmt, layout=self.layout, rate=rate)
        self.limit = int(max_seconds * rate)
        self.written = 0
        self.done = False

    def add(self, frame) -> None:
        if self.done:
            return
        frame.pts = None  # the resampler restamps; source timestamps may be missing or odd
        self._emit(self.resampler.resample(frame))

    def _emit(self, frames) -> None:
        import av

        for f in frames:
            if self.written >= self.limit:
                self.done = True
                return
            if self.written + f.samples > self.limit:  # cut the last frame at the bound
                keep = self.limit - self.written
                arr = f.to_ndarray()
                arr = arr[:, :keep] if self.fmt.endswith("p") else arr[:, : keep * (1 if self.layout == "mono" else 2)]
                f = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=self.fmt, layout=self.layout)
                f.sample_rate = self.rate
            f.pts, f.time_base = self.written, Fraction(1, self.rate)
            self.written += f.samples
            for pkt in self.stream.encode(f):
                self.out.mux(pkt)

    def close(self) -> None:
        if not self.done:
            self._emit(self.resampler.resample(None))
        for pkt in self.stream.encode(None):
            self.out.mux(pkt)

