"""Decode and validate audio/video clips with PyAV (FFmpeg), sampling what the encoders need.

One entry point, :func:`decode`, takes a path or bytes and returns a :class:`DecodedMedia`:
mono 16 kHz audio (all encoders and librosa descriptors share one rate, so the track is decoded
and resampled once), a few evenly spaced RGB frames downscaled for the image model, and tiny
grey thumbnails at a fixed rate for motion and shot-cut descriptors.

Memory stays bounded: frames are converted only at the sampled instants (the rest are decoded
and dropped, or skipped by seeking for long clips), and clips longer than
``MediaLimits.max_analysed_s`` are analysed in windows spread across the whole clip.
Every failure is one of the typed errors in :mod:`recsys.errors`, with a one-line message.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from recsys.deadline import Deadline
from recsys.errors import (
    CorruptMediaError,
    EmptyMediaError,
    FrameTooLargeError,
    MediaError,
    MediaTimeoutError,
    MediaTooLargeError,
    NotMediaError,
    NoUsableStreamError,
    TooShortMediaError,
    UnsupportedCodecError,
    UnsupportedMediaError,
)

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac",
                    # libsndfile formats (FFmpeg reads some of them; the others fall back to soundfile)
                    ".aif", ".aiff", ".au", ".caf", ".w64", ".sds", ".xi", ".htk", ".wve"}
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".gif"}
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS

# FFmpeg happily "demuxes" still images and text (the `tty` demuxer shows ANSI art): not clips.
_REJECTED_FORMATS = {"tty", "image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe",
                     "tiff_pipe", "svg_pipe", "pgm_pipe", "ppm_pipe", "j2k_pipe", "jpegls_pipe",
                     "qoi_pipe", "pam_pipe", "dds_pipe", "psd_pipe", "xpm_pipe", "pcx_pipe",
                     "txd", "srt", "ass", "webvtt", "subviewer", "lrc", "mpl2", "json", "html"}


@dataclass(frozen=True)
class MediaLimits:
    """Bounds on what one decode may cost. All durations in seconds, sizes in bytes/pixels."""

    max_bytes: int = 500 * 2**20          # refuse bigger files outright
    max_duration_s: float = 6 * 3600.0    # a container claiming more is refused
    max_analysed_s: float = 30.0          # at most this much audio/video is analysed ...
    n_windows: int = 3                    # ... in this many windows spread over a longer clip
    n_frames: int = 12                    # RGB frames sampled evenly for the image model
    frame_short_side: int = 256           # downscale so the shorter side is this (model crops 224)
    thumb_fps: float = 4.0                # grey thumbnails for motion / cut detection
    thumb_size: tuple[int, int] = (64, 36)
    sample_rate: int = 16000              # mono audio rate shared by every audio consumer
    min_duration_s: float = 0.01          # shorter clips carry nothing to analyse
    short_clip_s: float = 0.5             # shorter clips are analysed padded, flagged low confidence
    pad_audio_s: float = 0.1              # ... their audio zero-padded to this for the descriptors
    timeout_s: float = 60.0               # wall-clock bound on one decode
    max_pixels: int = 8192 * 8192         # refuse absurd frame sizes (decompression bombs)


DEFAULT_LIMITS = MediaLimits()
_DECODER_FRAME_BUDGET = 128 * 2**20  # bytes of decoded video frames in flight across threads


@dataclass
class DecodedMedia:
    """What :func:`decode` returns.

    Attributes
    ----------
    kind : "audio" | "video"
    duration_s : full duration of the clip in seconds (not just the analysed part)
    audio : (n_samples,) float32 mono in [-1, 1] at ``sample_rate`` Hz; empty if no audio track.
        For long clips, the analysed windows concatenated.
    frames : (n_frames, H, W, 3) uint8 RGB, shorter side ``frame_short_side``; empty for audio.
    frame_times_s : (n_frames,) float, the instant of each frame in seconds.
    thumbs : (n_thumbs, h, w) uint8 grey thumbnails at ``thumb_fps`` (per analysed window).
    thumb_times_s : (n_thumbs,) float seconds.
    windows_s : list of (start, end) seconds that were analysed.
    """

    kind: str
    duration_s: float
    sample_rate: int
    audio: np.ndarray
    frames: np.ndarray
    frame_times_s: np.ndarray
    thumbs: np.ndarray
    thumb_times_s: np.ndarray
    windows_s: list[tuple[float, float]]
    width: int = 0
    height: int = 0
    fps: float = 0.0
    container: str = ""
    video_codec: str | None = None
    audio_codec: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def has_audio(self) -> bool:
        return self.audio.size > 0

    @property
    def analysed_audio_s(self) -> float:
        return self.audio.size / self.sample_rate


def analysis_windows(duration_s: float, limits: MediaLimits = DEFAULT_LIMITS) -> list[tuple[float, float]]:
    """Windows (start, end) in seconds to analyse: the whole clip, or ``n_windows`` spread evenly."""
    if duration_s <= limits.max_analysed_s:
        return [(0.0, duration_s)]
    n = max(1, limits.n_windows)
    length = limits.max_analysed_s / n
    # Centres at (i + 0.5) / n of the clip: beginning, middle and end are all represented.
    starts = [(i + 0.5) * duration_s / n - length / 2 for i in range(n)]
    return [(max(0.0, s), min(duration_s, max(0.0, s) + length)) for s in starts]


def decode(source: str | os.PathLike | bytes | BinaryIO, *, limits: MediaLimits = DEFAULT_LIMITS,
           name: str | None = None) -> DecodedMedia:
    """Decode a clip from a path, bytes or a binary file object.

    ``name`` (an upload's file name) is only used for its extension in messages; it is never
    used as a path. Raises a :class:`~recsys.errors.MediaError` subclass on any bad input.
    """
    deadline = Deadline(limits.timeout_s, "upload", activity="decoding")
    label, fileobj, size = _open_source(source, name, limits.max_bytes)
    deadline.label = label
    try:
        return _decode_file(fileobj, size, label, name, limits, deadline)
    finally:  # every way out, the early refusals included, closes a file we opened
        if isinstance(source, (str, os.PathLike)):
            fileobj.close()


def _decode_file(fileobj: BinaryIO, size: int, label: str, name: str | None, limits: MediaLimits,
                 deadline: Deadline) -> DecodedMedia:
    if size == 0:
        raise EmptyMediaError(f"{label}: file is empty (0 bytes)")
    if size > limits.max_bytes:
        raise MediaTooLargeError(
            f"{label}: file is {size / 2**20:.1f} MB, over the {limits.max_bytes / 2**20:.0f} MB limit")
    _check_riff_size(fileobj, size, label)
    import av

    try:
        container = av.open(fileobj, mode="r", metadata_errors="ignore")
    except av.error.EOFError as err:
        # A demuxer recognised the format, then ran out of data while reading its headers.
        raise CorruptMediaError(f"{label}: truncated or corrupt ({ffmpeg_reason(err)})") from None
    except av.error.FFmpegError as err:
        # FFmpeg's demuxers refuse some files libsndfile reads (SDS, XI, HTK, MAT, odd Ogg/AIFF
        # variants): try libsndfile before giving up.
        fallback = _decode_with_sndfile(fileobj, label, limits, deadline)
        if fallback is not None:
            return fallback
        ext = Path(name or label).suffix.lower()
        what = "not a media file, or damaged beyond recognition" if ext in MEDIA_EXTENSIONS else "not a recognised audio/video format"
        raise NotMediaError(f"{label}: {what} ({ffmpeg_reason(err)})") from None
    except (OSError, ValueError, MemoryError) as err:
        raise CorruptMediaError(f"{label}: cannot be read ({err})") from None
    try:
        with container:
            return _decode_container(container, label, limits, deadline)
    except (UnsupportedMediaError, NoUsableStreamError):
        # FFmpeg opened it but has no decoder for its codec (or found no stream it knows).
        fallback = _decode_with_sndfile(fileobj, label, limits, deadline)
        if fallback is None:
            raise
        return fallback
    except MediaError:
        raise
    except av.error.FFmpegError as err:
        # A demuxer that claimed the file and then failed on it (a mis-probed format): libsndfile
        # may still know it.
        fallback = _decode_with_sndfile(fileobj, label, limits, deadline)
        if fallback is None:
            raise CorruptMediaError(f"{label}: corrupt or truncated ({ffmpeg_reason(err)})") from None
        return fallback
    except (ValueError, IndexError, OverflowError, ZeroDivisionError, MemoryError, RuntimeError) as err:
        raise CorruptMediaError(f"{label}: cannot be decoded ({type(err).__name__}: {err})") from None


def _open_source(source, name, max_bytes: int) -> tuple[str, BinaryIO, int]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return (name or "upload"), io.BytesIO(data), len(data)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or path.name
        try:
            if not path.is_file():
                raise MediaError(f"{label}: no such file")
            fileobj = open(path, "rb")
        except (OSError, ValueError) as err:  # unreadable (permissions), a NUL in the path, ...
            raise MediaError(f"{label}: cannot be read ({getattr(err, 'strerror', None) or err})") from None
        return label, fileobj, os.fstat(fileobj.fileno()).st_size
    # A binary file object (e.g. Streamlit's UploadedFile): measure without reading it all.
    label = str(name or getattr(source, "name", None) or "upload")
    try:
        pos = source.tell()
        size = source.seek(0, io.SEEK_END) - pos
        source.seek(pos)
    except (OSError, ValueError, AttributeError):
        # Not seekable (a pipe, a socket, stdin): read it, one byte past the limit at most.
        try:
            data = source.read(max_bytes + 1)
        except (OSError, ValueError, AttributeError) as err:
            raise MediaError(f"{label}: cannot be read ({type(err).__name__}: {err})") from None
        if not isinstance(data, (bytes, bytearray)):
            raise MediaError(f"{label}: not a binary file object")
        return label, io.BytesIO(data), len(data)
    return label, source, size


def _check_riff_size(fileobj: BinaryIO, size: int, label: str) -> None:
    """A WAV/AVI (RIFF) file states its own length; FFmpeg would quietly decode a cut-off one."""
    pos = fileobj.tell()
    head = fileobj.read(12)
    fileobj.seek(pos)
    if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        declared = int.from_bytes(head[4:8], "little") + 8
        if 0 < size < 0.98 * declared:
            raise CorruptMediaError(f"{label}: truncated ({size} of {declared} bytes)")


def ffmpeg_reason(err: Exception) -> str:
    """FFmpeg's own short reason for a failure ("Invalid data found when processing input")."""
    reason = getattr(err, "strerror", None) or str(err)
    return str(reason).split(":")[0].strip() or type(err).__name__


def _is_cover_art(stream) -> bool:
    import av

    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return False


def _decode_container(container, label: str, limits: MediaLimits, deadline: Deadline) -> DecodedMedia:
    fmt = container.format.name.split(",")[0]
    if fmt in _REJECTED_FORMATS:
        raise NotMediaError(f"{label}: a '{fmt}' file, not an audio or video clip")
    videos = [s for s in container.streams.video if not _is_cover_art(s)]
    audios = list(container.streams.audio)
    # A stream whose codec FFmpeg cannot decode (unknown Matroska CodecID, unknown WAV format
    # tag, ...) has no codec context: skip it, and say so when nothing else is left.
    video = next((s for s in videos if s.codec_context is not None), None)
    audio = next((s for s in audios if s.codec_context is not None), None)
    if video is None and audio is None:
        if videos or audios:
            raise UnsupportedCodecError(f"{label}: no decoder for its {'video' if videos else 'audio'} codec")
        raise NoUsableStreamError(f"{label}: no audio or video stream")
    if video is not None and video.codec_context.width * video.codec_context.height > limits.max_pixels:
        raise FrameTooLargeError(
            f"{label}: frame size {video.codec_context.width}x{video.codec_context.height} is over the limit")
    duration = _duration_s(container, video, audio)
    # Timestamps need not start at 0 (MPEG-TS captures, clips cut with their timestamps kept):
    # windows are in clip time, frame times and seek targets in stream time, `origin` apart.
    origin = container.start_time / 1_000_000 if container.start_time is not None else 0.0
    if fmt == "matroska" and 0 < origin < duration:
        duration -= origin  # FFmpeg reads Matroska's Duration as the end timestamp, not the length
    if duration > limits.max_duration_s:
        raise MediaTooLargeError(f"{label}: {duration / 3600:.1f} h long, over the "
                                 f"{limits.max_duration_s / 3600:.0f} h limit")
    # No declared duration (raw H.264/AAC streams, some live captures): analyse the start only,
    # so an endless stream costs no more than a long one.
    windows = analysis_windows(duration, limits) if duration > 0 else [(0.0, float(limits.max_analysed_s))]

    out = DecodedMedia(
        kind="video" if video is not None else "audio", duration_s=duration,
        sample_rate=limits.sample_rate, audio=np.zeros(0, np.float32),
        frames=np.zeros((0, 0, 0, 3), np.uint8), frame_times_s=np.zeros(0),
        thumbs=np.zeros((0, limits.thumb_size[1], limits.thumb_size[0]), np.uint8),
        thumb_times_s=np.zeros(0), windows_s=windows, container=fmt,
        video_codec=video.codec_context.name if video is not None else None,
        audio_codec=audio.codec_context.name if audio is not None else None,
    )
    if audio is not None:
        try:
            out.audio = _decode_audio(container, audio, windows, limits, deadline, origin)
        except MediaTimeoutError:
            raise
        except Exception as err:  # a broken audio track must not sink a good video
            if video is None:
                raise
            out.warnings.append(f"audio track unreadable ({type(err).__name__}); analysed without sound")
    video_decoded_s = 0.0
    if video is not None:
        video_decoded_s = _decode_video(container, video, windows, limits, deadline, out, origin)
        if out.frames.shape[0] == 0:
            raise CorruptMediaError(f"{label}: video stream holds no decodable frame")
    elif out.audio.size == 0:
        raise EmptyMediaError(f"{label}: audio stream holds no samples")

    decoded_s = out.analysed_audio_s if video is None else (out.frame_times_s.max(initial=0.0))
    declared = duration > 0
    if not declared:  # streams without a declared duration: trust what we decoded
        out.duration_s = duration = float(decoded_s if video is None else
                                          max(decoded_s, out.analysed_audio_s, video_decoded_s))
        out.windows_s = [(0.0, duration)]
        if duration >= limits.max_analysed_s - 0.5:
            out.warnings.append(f"duration unknown: analysed the first {duration:.0f} s")
    if duration < limits.min_duration_s:
        raise TooShortMediaError(f"{label}: too short ({duration * 1000:.0f} ms) to analyse")
    _pad_short(out, limits)
    # A cut-off file whose header still states the full length (a WAV data chunk, an MP4 with the
    # index in front, a WebM): FFmpeg decodes what is there and stops. Less than half of the
    # analysed span in every stream is a broken file; a video track shorter than its sound is not.
    expected = sum(e - s for s, e in out.windows_s)
    decoded = max(out.analysed_audio_s, video_decoded_s)
    if declared and decoded < 0.5 * expected - 0.05:
        raise CorruptMediaError(f"{label}: truncated (decoded {decoded:.1f} s of {expected:.1f} s)")
    return out


def _pad_short(out: DecodedMedia, limits: MediaLimits) -> None:
    """A one-shot shorter than ``short_clip_s`` is analysed, padded with silence to
    ``pad_audio_s`` for the descriptors (the audio encoder pads to its own patch), and flagged:
    ``warnings`` says "low confidence" and ``duration_s`` keeps the true length."""
    if out.duration_s >= limits.short_clip_s:
        return
    want = int(round(limits.pad_audio_s * out.sample_rate))
    if 0 < out.audio.size < want:
        out.audio = np.pad(out.audio, (0, want - out.audio.size))
    out.warnings.append(f"very short clip ({out.duration_s * 1000:.0f} ms): analysed padded with silence, "
                        f"low confidence")


def _decode_with_sndfile(fileobj: BinaryIO, label: str, limits: MediaLimits,
                         deadline: Deadline) -> DecodedMedia | None:
    """Decode an audio file with libsndfile (``soundfile``) when FFmpeg refuses it.

    Returns None when libsndfile does not read it either (the caller raises FFmpeg's error).
    Only the analysed windows are read (seeking), mixed to mono and resampled to
    ``limits.sample_rate``; the same limits as the FFmpeg path apply.
    """
    try:
        import soundfile as sf
    except ImportError:
        return None
    try:
        fileobj.seek(0)
        snd = sf.SoundFile(fileobj)
    except (RuntimeError, TypeError, ValueError, OSError, EOFError):  # LibsndfileError is a RuntimeError
        return None
    with snd:
        rate, n, channels = int(snd.samplerate), int(snd.frames), int(snd.channels)
        if rate <= 0 or n <= 0 or not 0 < channels <= 256:
            return None
        duration = n / rate
        if duration > limits.max_duration_s:
            raise MediaTooLargeError(f"{label}: {duration / 3600:.1f} h long, over the "
                                     f"{limits.max_duration_s / 3600:.0f} h limit")
        if duration < limits.min_duration_s:
            raise TooShortMediaError(f"{label}: too short ({duration * 1000:.0f} ms) to analyse")
        windows = analysis_windows(duration, limits)
        pieces = []
        try:
            for start, end in windows:
                deadline.check()
                if start > 0:  # some formats (XI) cannot seek at all
                    snd.seek(int(start * rate))
                block = snd.read(max(1, int(round((end - start) * rate))), dtype="float32", always_2d=True)
                pieces.append(_resample(block.mean(axis=1), rate, limits.sample_rate))
        except (RuntimeError, ValueError, OSError, MemoryError) as err:
            raise CorruptMediaError(f"{label}: cannot be decoded ({type(err).__name__}: {err})") from None
        fmt = f"{snd.format.lower()} (libsndfile)"
        codec = snd.subtype.lower()
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    if audio.size == 0:
        raise EmptyMediaError(f"{label}: audio stream holds no samples")
    np.nan_to_num(audio, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    out = DecodedMedia(
        kind="audio", duration_s=duration, sample_rate=limits.sample_rate,
        audio=np.clip(audio, -1.0, 1.0).astype(np.float32, copy=False),
        frames=np.zeros((0, 0, 0, 3), np.uint8), frame_times_s=np.zeros(0),
        thumbs=np.zeros((0, limits.thumb_size[1], limits.thumb_size[0]), np.uint8),
        thumb_times_s=np.zeros(0), windows_s=windows, container=fmt, audio_codec=codec)
    _pad_short(out, limits)
    return out


def _resample(y: np.ndarray, rate: int, target: int) -> np.ndarray:
    """(n,) float32 at ``rate`` -> float32 at ``target`` (polyphase, anti-aliased)."""
    if rate == target or y.size == 0:
        return y.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(y, target // g, rate // g).astype(np.float32)


def _duration_s(container, video, audio) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000  # AV_TIME_BASE (microseconds)
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    return 0.0


def _seek(container, stream, t: float, origin: float = 0.0) -> None:
    if t <= 0.05:
        import av

        try:
            container.seek(0)  # rewind: another stream may have been read to the end already
        except av.error.FFmpegError:
            # No timestamp index (a raw H.264 elementary stream): rewind by bytes instead; the
            # failed seek has already flushed the demuxer, so staying put would read nothing.
            container.seek(0, unsupported_byte_offset=True)
        return
    container.seek(int((t + origin) / stream.time_base), stream=stream, backward=True, any_frame=False)


def _decode_audio(container, stream, windows, limits: MediaLimits, deadline: Deadline,
                  origin: float = 0.0) -> np.ndarray:
    """(n,) float32 mono at ``limits.sample_rate``: the analysed windows, concatenated."""
    import av

    stream.thread_type = "AUTO"
    pieces: list[np.ndarray] = []
    for start, end in windows:
        # A new resampler per window: its internal buffer must not leak across a seek.
        resampler = av.AudioResampler(format="flt", layout="mono", rate=limits.sample_rate)
        _seek(container, stream, start, origin)
        got: list[np.ndarray] = []
        window_t0 = None
        n_samples = 0  # decoded in this window: the clock of a stream without timestamps
        for frame in container.decode(stream):
            deadline.check()
            t = float(frame.time) - origin if frame.time is not None else start + n_samples / max(frame.sample_rate, 1)
            n_samples += frame.samples
            if window_t0 is None:
                window_t0 = t
            if t + frame.samples / max(frame.sample_rate, 1) < start:
                continue
            if t >= end:
                break
            for rf in resampler.resample(frame):
                got.append(rf.to_ndarray().reshape(-1))
        for rf in resampler.resample(None):
            got.append(rf.to_ndarray().reshape(-1))
        if not got:
            continue
        samples = np.concatenate(got).astype(np.float32, copy=False)
        # Trim to the window: the seek lands on a packet at or before `start`.
        offset = int(max(0.0, start - (window_t0 or 0.0)) * limits.sample_rate)
        want = int((end - start) * limits.sample_rate) if np.isfinite(end) else None
        samples = samples[offset:] if offset < samples.size else samples[-0:]
        pieces.append(samples[:want] if want else samples)
    if not pieces:
        return np.zeros(0, np.float32)
    audio = np.concatenate(pieces)
    np.nan_to_num(audio, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(audio, -1.0, 1.0)


def _decode_video(container, stream, windows, limits: MediaLimits, deadline: Deadline,
                  out: DecodedMedia, origin: float = 0.0) -> float:
    """Fill ``out.frames`` (evenly spaced RGB frames) and ``out.thumbs`` (grey, ``thumb_fps``).

    Returns the seconds of the analysed windows that decodable frames cover (for truncation).
    """
    stream.thread_type = "AUTO"
    cc = stream.codec_context
    out.width, out.height = int(cc.width or 0), int(cc.height or 0)
    # Frame threading keeps about one decoded frame per thread in flight, and FFmpeg picks
    # cores + 1 threads: an 8K clip would hold ~0.9 GB on a 16-core machine. Cap the threads so
    # the frames in flight stay within _DECODER_FRAME_BUDGET (8K: 2 threads, 1080p: up to 16).
    frame_bytes = max(1, out.width * out.height * 3 // 2)  # 8-bit 4:2:0
    cc.thread_count = max(1, min(os.cpu_count() or 1, 16, _DECODER_FRAME_BUDGET // frame_bytes))
    out.fps = float(stream.average_rate or stream.guessed_rate or 0.0)
    total = sum(e - s for s, e in windows if np.isfinite(e))
    # Targets for RGB frames: evenly spaced over the analysed windows, at window-interior instants.
    targets: list[float] = []
    for s, e in windows:
        if not np.isfinite(e):
            e = s + limits.max_analysed_s
        n = max(1, round(limits.n_frames * (e - s) / total)) if total > 0 else limits.n_frames
        targets += [s + (i + 0.5) * (e - s) / n for i in range(n)]
    targets = sorted(targets)[: max(limits.n_frames, 1)]
    frames, frame_times, thumbs, thumb_times = [], [], [], []
    tw, th = limits.thumb_size
    next_target = 0
    covered = 0.0
    frame_s = 1.0 / out.fps if out.fps > 0 else 0.0
    # Frame spacing for streams without timestamps; r_frame_rate (guessed) beats the average there.
    tick = 1.0 / float(stream.guessed_rate or stream.average_rate or limits.thumb_fps)
    size = None  # (w, h) fixed from the first frame, so a mid-stream resolution change still stacks
    for start, end in windows:
        _seek(container, stream, start, origin)
        next_thumb = start
        last_frame, last_t, n_decoded = None, start, 0
        for frame in container.decode(stream):
            deadline.check()
            # No timestamps (raw elementary streams): count frames at the stream's rate instead.
            t = float(frame.time) - origin if frame.time is not None else start + n_decoded * tick
            n_decoded += 1
            if t < start - 1e-3:
                continue
            if t >= end:
                break
            last_frame, last_t = frame, t
            if t >= next_thumb:
                thumbs.append(frame.to_ndarray(format="gray", width=tw, height=th))
                thumb_times.append(t)
                next_thumb = t + 1.0 / limits.thumb_fps
            while next_target < len(targets) and t >= targets[next_target] - 1e-3:
                if not frame_times or frame_times[-1] != t:
                    size = size or _small_size(frame, limits.frame_short_side)
                    frames.append(frame.to_ndarray(format="rgb24", width=size[0], height=size[1]))
                    frame_times.append(t)
                next_target += 1
        if last_frame is not None and np.isfinite(end):
            covered += max(0.0, min(end, last_t + frame_s) - start)
        # A window whose targets lie past its last decodable frame (short/truncated streams):
        # take the last frame rather than returning nothing.
        window_targets = [x for x in targets[next_target:] if x < end]
        if window_targets and last_frame is not None:
            t = last_t
            if not frame_times or frame_times[-1] != t:
                size = size or _small_size(last_frame, limits.frame_short_side)
                frames.append(last_frame.to_ndarray(format="rgb24", width=size[0], height=size[1]))
                frame_times.append(t)
            next_target += len(window_targets)
    if frames:
        out.frames = np.stack(frames)
        out.frame_times_s = np.asarray(frame_times, dtype=np.float64)
    if thumbs:
        out.thumbs = np.stack(thumbs)
        out.thumb_times_s = np.asarray(thumb_times, dtype=np.float64)
    return covered


def _small_size(frame, short_side: int) -> tuple[int, int]:
    """(width, height) with the shorter side at most ``short_side``; libswscale does the scaling."""
    w, h = frame.width, frame.height
    scale = min(1.0, short_side / max(1, min(w, h)))
    # Even sizes keep the yuv420 -> rgb conversion exact.
    return max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
