"""Bad and extreme inputs through every layer: library decode, Analyzer.analyze, the command line.

    .venv/bin/python benchmarks/bad_inputs.py [--out reports/bad_inputs.md] [--no-cli] [--no-analysis]
                                              [--only SUBSTRING]

Every input is generated here (nothing is downloaded) into a scratch folder, then goes through

1. ``recsys.media.decode.decode(data, name=FILENAME)``: the upload path (bytes plus the upload's name),
2. ``Analyzer(AnalysisConfig(transcribe="never")).analyze(data, name=FILENAME)``, real models,
3. ``python -m recsys analyze FILE --json --transcribe never`` on a real file of that name:
   exit code 2 and one JSON line with ``error`` for a bad input, exit 0 and one JSON line
   without it for a good one, and never a traceback on stderr.

A row gives the outcome (typed error class and its one-line message, or OK with kind and
duration), whether it is what that input calls for, and the time taken. Any other exception, a
traceback or a hang is a bug (a watchdog aborts a call that runs past ``--hang-s``). Also measured:
peak RSS of decoding and analysing the 8K clip (each in a fresh subprocess, against a 320x240
baseline), the analysed windows of the 2-hour clips, and that ``MediaLimits.timeout_s`` and
``AnalysisConfig.timeout_s`` stop a slow decode/analysis.
"""
from __future__ import annotations

import argparse
import faulthandler
import io
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from benchmarks.av_writer import write_av  # noqa: E402
from recsys.errors import (  # noqa: E402
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaTimeoutError,
    MediaTooLargeError,
    NoUsableStreamError,
    UnsupportedMediaError,
)
from recsys.media.decode import DEFAULT_LIMITS, MediaLimits, decode  # noqa: E402

SR = 16000
OK_AUDIO, OK_VIDEO = "audio", "video"  # expected outcome of a good input: its kind


# --- generators: each returns the bytes of one input ------------------------------------------

def tone(seconds: float, *, sr: int = SR, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav_bytes(y: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def ogg_bytes(y: np.ndarray, sr: int = SR) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def frames_of(n: int, w: int = 160, h: int = 96) -> np.ndarray:
    """(n, h, w, 3) uint8: a yellow square crossing a grey background."""
    out = np.full((n, h, w, 3), 90, np.uint8)
    for i in range(n):
        x = (i * 6) % max(1, w - h // 3)
        out[i, h // 4: h // 4 + h // 3, x: x + h // 3] = (250, 220, 40)
    return out


def av_bytes(fmt: str, *, frames: np.ndarray | None = None, fps: int = 10, vcodec: str = "libx264",
             audio: np.ndarray | None = None, acodec: str = "aac", sr: int = 48000,
             options: dict | None = None, vopts: dict | None = None) -> bytes:
    """Encode video frames and/or mono audio into container ``fmt`` with PyAV, in memory."""
    buf = io.BytesIO()
    write_av(buf, fmt=fmt, frames=frames, fps=fps, vcodec=vcodec, video_options=vopts, audio=audio, acodec=acodec,
             sr=sr, container_options=options)
    return buf.getvalue()


def offset_clip(fmt: str, offset_s: float, seconds: float = 40.0, fps: int = 10) -> bytes:
    """H.264 + AAC whose timestamps start at ``offset_s`` (a capture, or a cut that kept them)."""
    buf = io.BytesIO()
    write_av(buf, fmt=fmt, frames=frames_of(int(seconds * fps), 64, 48), fps=fps, audio=tone(seconds, sr=48000),
             start_s=offset_s)
    return buf.getvalue()


def _note_offset(m) -> str:
    assert abs(m.duration_s - 40.0) < 0.5 and m.frames.shape[0] >= 6, (m.duration_s, m.frames.shape)
    assert m.analysed_audio_s > 0.8 * DEFAULT_LIMITS.max_analysed_s, m.analysed_audio_s
    return (f"{m.frames.shape[0]} frames at {m.frame_times_s.min():.1f}-{m.frame_times_s.max():.1f} s (clip time), "
            f"{m.analysed_audio_s:.1f} s of sound")


def png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frames_of(1)[0]).save(buf, format="PNG")
    return buf.getvalue()


def random_bytes(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def subtitle_only_mkv() -> bytes:
    """A Matroska file whose only stream is SubRip subtitles (remuxed from an .srt)."""
    import av

    srt = b"1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,500 --> 00:00:03,000\nWorld\n\n"
    buf = io.BytesIO()
    with av.open(io.BytesIO(srt), format="srt") as inp, av.open(buf, "w", format="matroska") as out:
        st = out.add_stream_from_template(inp.streams[0])
        for pkt in inp.demux():
            if pkt.size:
                pkt.stream = st
                out.mux(pkt)
    return buf.getvalue()


def data_only_ts() -> bytes:
    """An MPEG-TS file whose only stream is opaque binary data."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        ds = out.add_data_stream("bin_data")
        for i in range(20):
            pkt = av.Packet(bytes([i]) * 188)
            pkt.stream, pkt.pts, pkt.dts, pkt.time_base = ds, i * 100, i * 100, Fraction(1, 1000)
            out.mux(pkt)
    return buf.getvalue()


def unknown_codec_mka() -> bytes:
    """Matroska audio whose CodecID names a codec no decoder knows (A_PCM -> A_XYZ)."""
    y = (tone(1.0) * 32767).astype(np.int16)
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        st = out.add_stream("pcm_s16le", rate=SR)
        st.layout = "mono"
        for i in range(0, y.size, 1600):
            fr = av.AudioFrame.from_ndarray(y[None, i:i + 1600].copy(), format="s16", layout="mono")
            fr.sample_rate, fr.pts = SR, i
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    data = buf.getvalue()
    assert data.count(b"A_PCM/INT/LIT") == 1
    return data.replace(b"A_PCM/INT/LIT", b"A_XYZ/INT/LIT")


def unknown_format_tag_wav() -> bytes:
    """A WAV whose fmt chunk names format tag 0x3344 (no such codec)."""
    w = bytearray(wav_bytes(tone(1.0)))
    i = w.find(b"fmt ")
    w[i + 8:i + 10] = struct.pack("<H", 0x3344)
    return bytes(w)


def unknown_codec_mkv_video() -> bytes:
    data = av_bytes("matroska", frames=frames_of(10))
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    return data.replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ")


def long_wav(hours: float = 2.0, sr: int = 8000) -> bytes:
    """``hours`` of 8 kHz unsigned 8-bit mono WAV (57.6 MB for 2 h), built by repeating 1 s."""
    one = tone(1.0, sr=sr, freq=330.0)
    u8 = (one * 127 + 128).astype(np.uint8).tobytes()
    n_sec = int(hours * 3600)
    data_len = len(u8) * n_sec
    header = (b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE" + b"fmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr, 1, 8) + b"data" + struct.pack("<I", data_len))
    return header + u8 * n_sec


def long_mp3(hours: float = 2.0) -> bytes:
    """``hours`` of 8 kbit/s MP3: 10 s encoded once without Xing/ID3 headers, frames repeated."""
    import av

    sr = 8000
    y = tone(10.0, sr=sr, freq=330.0) + tone(10.0, sr=sr, freq=660.0, amp=0.2)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3", options={"write_xing": "0", "id3v2_version": "0"}) as out:
        st = out.add_stream("libmp3lame", rate=sr)
        st.layout, st.bit_rate = "mono", 8000
        for i in range(0, y.size, 576):
            fr = av.AudioFrame.from_ndarray(y[None, i:i + 576].copy(), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = sr, i
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    ten_s = buf.getvalue()
    return ten_s * int(hours * 360)


def video_8k(n: int = 2, w: int = 7680, h: int = 4320) -> bytes:
    """A 2-frame 1 fps H.264 clip at 7680x4320 (faststart MP4)."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        frames[i, :, :, i % 3] = 180
        frames[i, h // 4: h // 2, w // 4 + 400 * i: w // 2 + 400 * i] = 255
    return av_bytes("mp4", frames=frames, fps=1, options={"movflags": "+faststart"},
                    vopts={"preset": "ultrafast"})


def over_max_pixels_mkv(side: int = 8200) -> bytes:
    """One black MJPEG frame of side x side (67.2 Mpx > the 8192x8192 default) in Matroska."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        vs = out.add_stream("mjpeg", rate=1)
        vs.width, vs.height, vs.pix_fmt = side, side, "yuvj420p"
        frame = av.VideoFrame(side, side, "yuvj420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts, frame.time_base = 0, Fraction(1, 1)
        for pkt in vs.encode(frame):
            out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    return buf.getvalue()


# --- the cases --------------------------------------------------------------------------------

def _note_long(m) -> str:
    """Check and describe a long clip: only the analysed windows were decoded."""
    lim = DEFAULT_LIMITS
    assert abs(m.analysed_audio_s - lim.max_analysed_s) < 0.5, m.analysed_audio_s
    assert len(m.windows_s) == lim.n_windows
    spread = ", ".join(f"{s / 60:.0f}-{e / 60:.1f} min" for s, e in m.windows_s)
    return f"decoded {m.analysed_audio_s:.1f} s in {len(m.windows_s)} windows ({spread})"


def _note_8k(m) -> str:
    assert (m.width, m.height) == (7680, 4320)
    assert min(m.frames.shape[1:3]) == DEFAULT_LIMITS.frame_short_side, m.frames.shape
    return f"{m.width}x{m.height} -> frames {m.frames.shape[2]}x{m.frames.shape[1]}"


def _note_silent(m) -> str:
    assert m.audio.size and not np.any(m.audio)
    return "all-zero samples"


def _note_no_sound(m) -> str:
    assert not m.has_audio and m.frames.shape[0] > 0
    return f"no audio track, {m.frames.shape[0]} frames"


def _silent_analysis(a) -> str:
    assert "audio track is silent" in a.warnings, a.warnings
    return "warning: audio track is silent"


def _no_sound_analysis(a) -> str:
    assert a.audio is None and a.visual is not None
    return "no audio block, visual descriptors present"


@dataclass
class Case:
    label: str                      # what the input is (first table column)
    filename: str                   # name= for the bytes, and the file name for the CLI
    make: Callable[[], bytes]
    expect: type | str              # a MediaError subclass, or OK_AUDIO / OK_VIDEO
    limits: MediaLimits | None = None            # library/analysis limits (default: DEFAULT_LIMITS)
    check: Callable | None = None                # extra check on DecodedMedia -> note
    analysis_check: Callable | None = None       # extra check on ClipAnalysis -> note
    cli: str = "file"               # "file": file of these bytes; "sparse": a 600 MB sparse file;
    cli_note: str = ""              # "relative": run with a ../../ path; "skip": no CLI row
    source: str = "bytes"           # library/analysis get "bytes", or a "nonseekable" file object


class NonSeekable(io.RawIOBase):
    """A binary stream that cannot seek or tell, like a pipe or a socket."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._data.readinto(buffer)


def _source(case: Case, data: bytes):
    return NonSeekable(data) if case.source == "nonseekable" else data


def _note_unknown_duration(m) -> str:
    assert any("duration unknown" in w for w in m.warnings), m.warnings
    assert m.duration_s <= DEFAULT_LIMITS.max_analysed_s + 0.5
    return f"{m.warnings[0]}; {m.frames.shape[0]} frames"


HOSTILE = ["a;rm -rf x$(id).mp3", "../../etc/passwd.wav", "名前 🎵.ogg", "two\nlines `id`.wav",
           "-rf --json.wav"]


def cases() -> list[Case]:
    good_wav = lambda: wav_bytes(tone(2.0))  # noqa: E731
    tiny = MediaLimits(max_bytes=1 * 2**20)
    c = [
        Case("empty file (0 bytes)", "empty.mp3", lambda: b"", EmptyMediaError),
        Case("random bytes, .mp3", "random.mp3", lambda: random_bytes(65536, 1), UnsupportedMediaError),
        Case("random bytes, .mp4", "random.mp4", lambda: random_bytes(65536, 2), UnsupportedMediaError),
        Case("text file renamed .mp3", "notes.mp3", lambda: b"just some text, not a song\n" * 200,
             UnsupportedMediaError),
        Case("PNG image renamed .mp4", "picture.mp4", png_bytes, UnsupportedMediaError),
        Case("truncated WAV (first 1/3)", "cut.wav", lambda: wav_bytes(tone(4.0))[: 42000], CorruptMediaError),
        Case("truncated OGG/Vorbis (first 1/3)", "cut.ogg",
             lambda: (lambda b: b[: len(b) // 3])(ogg_bytes(tone(6.0))), CorruptMediaError),
        Case("truncated MP4, faststart (first 1/3)", "cut.mp4",
             lambda: (lambda b: b[: len(b) // 3])(av_bytes("mp4", frames=frames_of(60), audio=tone(6.0, sr=48000),
                                                           options={"movflags": "+faststart"})),
             CorruptMediaError),
        Case("truncated WebM (first 1/3)", "cut.webm",
             lambda: (lambda b: b[: len(b) // 3])(av_bytes("webm", frames=frames_of(60), vcodec="libvpx-vp9",
                                                           audio=tone(6.0, sr=48000), acodec="libopus")),
             CorruptMediaError),
        Case("truncated MP4, moov at end (first 1/2)", "cut-moov-end.mp4",
             lambda: (lambda b: b[: len(b) // 2])(av_bytes("mp4", frames=frames_of(30))), UnsupportedMediaError),
        Case("unknown audio codec (Matroska CodecID A_XYZ)", "unknown.mka", unknown_codec_mka,
             UnsupportedMediaError),
        Case("unknown video codec (Matroska CodecID V_MPEG4/ISO/XYZ)", "unknown.mkv", unknown_codec_mkv_video,
             UnsupportedMediaError),
        Case("unknown WAV format tag 0x3344", "unknown-tag.wav", unknown_format_tag_wav, UnsupportedMediaError),
        Case("subtitle-only MKV", "subs.mkv", subtitle_only_mkv, NoUsableStreamError),
        Case("data-only MPEG-TS", "data.ts", data_only_ts, NoUsableStreamError),
        Case("zero-length WAV (header, 0 samples)", "zero.wav", lambda: wav_bytes(np.zeros(0, np.float32)),
             EmptyMediaError),
        Case("zero-length OGG/Vorbis (headers, 0 samples)", "zero.ogg",
             lambda: ogg_bytes(np.zeros(0, np.float32)), EmptyMediaError),
        Case("zero-length MP4 (muxed with 0 frames: the file lists no track)", "zero.mp4",
             lambda: av_bytes("mp4", frames=frames_of(0)), NoUsableStreamError),
        Case("zero-length MKV (video track header, no cluster)", "zero.mkv",
             lambda: av_bytes("matroska", frames=frames_of(0)), CorruptMediaError),
        Case("0.005 s WAV", "short-5ms.wav", lambda: wav_bytes(tone(0.005)), EmptyMediaError),
        Case("0.05 s WAV (a one-shot: analysed, low confidence)", "short-50ms.wav",
             lambda: wav_bytes(tone(0.05)), OK_AUDIO),
        Case("0.5 s WAV", "short-500ms.wav", lambda: wav_bytes(tone(0.5)), OK_AUDIO),
        Case("0.5 s MP4 with sound", "short-500ms.mp4",
             lambda: av_bytes("mp4", frames=frames_of(5), audio=tone(0.5, sr=48000)), OK_VIDEO),
        Case("silent WAV (5 s of zeros)", "silence.wav", lambda: wav_bytes(np.zeros(5 * SR, np.float32)),
             OK_AUDIO, check=_note_silent, analysis_check=_silent_analysis),
        Case("video without sound (MP4)", "nosound.mp4", lambda: av_bytes("mp4", frames=frames_of(30)),
             OK_VIDEO, check=_note_no_sound, analysis_check=_no_sound_analysis),
        Case("audio-only M4A (AAC)", "audio.m4a", lambda: av_bytes("mp4", audio=tone(3.0, sr=48000)), OK_AUDIO),
        Case("audio-only MKV (FLAC)", "audio.mkv",
             lambda: av_bytes("matroska", audio=tone(3.0, sr=48000), acodec="flac"), OK_AUDIO),
        Case("audio-only WebM (Opus)", "audio.webm",
             lambda: av_bytes("webm", audio=tone(3.0, sr=48000), acodec="libopus"), OK_AUDIO),
        Case("raw H.264 elementary stream (no container, no timestamps), 3 s", "raw.h264",
             lambda: av_bytes("h264", frames=frames_of(30)), OK_VIDEO),
        Case("raw H.264, 2 min (duration unknown: only the start is decoded)", "long-raw.h264",
             lambda: av_bytes("h264", frames=frames_of(1200, 64, 48)), OK_VIDEO, check=_note_unknown_duration),
        Case("MPEG-TS with H.264 + AAC", "clip.ts",
             lambda: av_bytes("mpegts", frames=frames_of(30), audio=tone(3.0, sr=48000)), OK_VIDEO),
        Case("MPEG-TS whose timestamps start at 600 s (40 s clip)", "capture.ts", lambda: offset_clip("mpegts", 600),
             OK_VIDEO, check=_note_offset),
        Case("MKV whose timestamps start at 600 s (40 s clip)", "cut.mkv", lambda: offset_clip("matroska", 600),
             OK_VIDEO, check=_note_offset),
        Case("6-channel WAV", "surround.wav", lambda: wav_bytes(np.tile(tone(2.0)[:, None], (1, 6))), OK_AUDIO),
        Case("non-seekable file object (a pipe), WAV", "pipe.wav", lambda: wav_bytes(tone(2.0)), OK_AUDIO,
             source="nonseekable", cli="skip"),
        Case("2 h WAV, 8 kHz u8 (57.6 MB)", "long-2h.wav", long_wav, OK_AUDIO, check=_note_long),
        Case("2 h MP3, 8 kbit/s (7.2 MB)", "long-2h.mp3", long_mp3, OK_AUDIO, check=_note_long),
        Case("8K video 7680x4320, 2 frames (H.264)", "8k.mp4", video_8k, OK_VIDEO, check=_note_8k),
        Case("8200x8200 MJPEG frame (> max_pixels 8192^2)", "huge-frame.mkv", over_max_pixels_mkv,
             UnsupportedMediaError),
        Case("file over the size limit (library: max_bytes=1 MiB, 1.9 MB WAV; CLI: 600 MB sparse file)",
             "big.wav", lambda: wav_bytes(tone(60.0)), MediaTooLargeError, limits=tiny, cli="sparse"),
    ]
    for name in HOSTILE:
        ext = Path(name).suffix
        make = {".ogg": lambda: ogg_bytes(tone(2.0))}.get(ext, good_wav if ext == ".wav" else
                                                          (lambda: av_bytes("mp3", audio=tone(2.0, sr=44100),
                                                                            acodec="libmp3lame", sr=44100)))
        c.append(Case(f"hostile name {name!r}", name, make, OK_AUDIO,
                      cli="relative" if name.startswith("../") else "file"))
    return c


# --- running one input through one layer ------------------------------------------------------

@dataclass
class Outcome:
    layer: str
    text: str
    as_expected: bool
    seconds: float
    note: str = ""


def _expected_text(expect) -> str:
    return f"OK ({expect})" if isinstance(expect, str) else expect.__name__


def _judge(expect, err: BaseException | None, kind: str | None) -> bool:
    if isinstance(expect, str):
        return err is None and kind == expect
    return err is not None and isinstance(err, expect)


def _guarded(fn, hang_s: float):
    """Run fn() with a watchdog: a hang dumps every thread's stack and exits (that is a bug)."""
    faulthandler.dump_traceback_later(hang_s, exit=True)
    try:
        return fn()
    finally:
        faulthandler.cancel_dump_traceback_later()


def run_library(case: Case, data: bytes, hang_s: float) -> Outcome:
    t0 = time.perf_counter()
    note = ""
    try:
        m = _guarded(lambda: decode(_source(case, data), name=case.filename,
                                    limits=case.limits or DEFAULT_LIMITS), hang_s)
    except MediaError as err:
        dt = time.perf_counter() - t0
        return Outcome("library", f"{type(err).__name__}: {err}", _judge(case.expect, err, None), dt)
    except Exception as err:  # noqa: BLE001 - anything else is a bug, reported as such
        dt = time.perf_counter() - t0
        return Outcome("library", f"BUG {type(err).__name__}: {err}", False, dt)
    dt = time.perf_counter() - t0
    ok = _judge(case.expect, None, m.kind)
    if ok and case.check:
        try:
            note = case.check(m)
        except AssertionError as err:
            ok, note = False, f"check failed: {err}"
    return Outcome("library", f"OK {m.kind}, {m.duration_s:.2f} s", ok, dt, note)


def run_analysis(case: Case, data: bytes, analyzer_for, hang_s: float) -> Outcome:
    analyzer = analyzer_for(case.limits)
    t0 = time.perf_counter()
    note = ""
    try:
        a = _guarded(lambda: analyzer.analyze(_source(case, data), name=case.filename), hang_s)
    except MediaError as err:
        dt = time.perf_counter() - t0
        return Outcome("analysis", f"{type(err).__name__}: {err}", _judge(case.expect, err, None), dt)
    except Exception as err:  # noqa: BLE001
        dt = time.perf_counter() - t0
        return Outcome("analysis", f"BUG {type(err).__name__}: {err}", False, dt)
    dt = time.perf_counter() - t0 - a.timings_ms.get("load_models", 0.0) / 1000
    ok = _judge(case.expect, None, a.kind) and np.isclose(np.linalg.norm(a.embedding), 1.0, atol=1e-3)
    if ok and case.analysis_check:
        try:
            note = case.analysis_check(a)
        except AssertionError as err:
            ok, note = False, f"check failed: {err}"
    if ok and not note:
        top = a.understanding.themes[0].label if a.understanding.themes else "-"
        note = f"top theme: {top}"
    return Outcome("analysis", f"OK {a.kind}, {a.duration_s:.2f} s", ok, dt, note)


def run_cli(case: Case, data: bytes, scratch: Path, timeout_s: float) -> Outcome:
    """A real file named ``case.filename``; ``python -m recsys analyze FILE --json``."""
    folder = Path(tempfile.mkdtemp(prefix="cli-", dir=scratch))
    cwd = folder
    if case.cli == "sparse":
        arg = folder / case.filename
        with open(arg, "wb") as f:  # 600 MB that take no disk space: only the size check sees it
            f.truncate(600 * 2**20)
        arg = str(arg)
    elif case.cli == "relative":  # run in folder/a/b and name the file by a path that climbs out
        target = folder / Path(case.filename.replace("../", ""))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        cwd = folder / "a" / "b"
        cwd.mkdir(parents=True)
        arg = case.filename
    else:
        (folder / case.filename).write_bytes(data)
        arg = str(folder / case.filename)
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "recsys", "analyze", arg, "--json", "--transcribe", "never",
                               "--no-embedding"], cwd=cwd, capture_output=True, text=True, timeout=timeout_s,
                              env=env)
    except subprocess.TimeoutExpired:
        return Outcome("cli", f"BUG hang: no exit within {timeout_s:.0f} s", False, time.perf_counter() - t0)
    dt = time.perf_counter() - t0
    after = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    problems = []
    if "Traceback" in proc.stderr:
        problems.append("traceback on stderr")
    if before != after:
        problems.append(f"files changed: {sorted(set(map(str, after)) ^ set(map(str, before)))}")
    lines = proc.stdout.splitlines()
    obj = None
    if len(lines) != 1:
        problems.append(f"{len(lines)} stdout lines")
    else:
        try:
            obj = json.loads(lines[0])
        except json.JSONDecodeError:
            problems.append("stdout is not JSON")
    want_error = not isinstance(case.expect, str)
    if obj is not None:
        if obj.get("path") != arg:
            problems.append(f"path {obj.get('path')!r} != argument")
        if want_error and ("error" not in obj or proc.returncode != 2):
            problems.append(f"exit {proc.returncode}, expected 2 with an error")
        if not want_error and ("error" in obj or proc.returncode != 0 or obj.get("kind") != case.expect):
            problems.append(f"exit {proc.returncode}, expected 0 and kind {case.expect}")
    if obj is not None and "error" in obj:
        text = f"exit {proc.returncode}: {obj['error']}"
    elif obj is not None:
        text = f"exit {proc.returncode}: OK {obj.get('kind')}, {obj.get('duration_s')} s"
    else:
        text = f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:] or proc.stdout[:200]}"
    return Outcome("cli", text, not problems, dt, "; ".join(problems) or case.cli_note)


# --- limits: timeouts and memory --------------------------------------------------------------

_RSS_CHILD = r"""
import json, sys, time
mode, path, warm = sys.argv[2], sys.argv[3], sys.argv[4]
from recsys.media.decode import decode
import av, numpy  # imported before the baseline, like the app would have them

def status_mb(key):  # VmRSS / VmHWM of this process (ru_maxrss would carry the parent's peak)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024

if mode == "analysis":
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer
    an = Analyzer(AnalysisConfig(transcribe="never")); an.analyze(warm)  # models loaded, warmed up
before = status_mb("VmRSS")
try:  # reset the high-water mark to the current RSS, so the peak is that of the call alone
    open("/proc/self/clear_refs", "w").write("5")
    reset = True
except OSError:
    reset = False
t0 = time.perf_counter()
out = decode(path) if mode == "decode" else an.analyze(path)
dt = time.perf_counter() - t0
print(json.dumps({"before_mb": before, "peak_mb": status_mb("VmHWM"), "seconds": dt, "hwm_reset": reset}))
"""


def peak_rss(mode: str, path: Path, warm: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(ROOT), mode, str(path), str(warm)],
                          capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timeout_checks(scratch: Path, with_analysis: bool) -> list[str]:
    rows = []
    long = scratch / "timeout-long.wav"
    long.write_bytes(long_wav(hours=1.0))
    # Decode the whole hour (no windows): seconds of work, stopped by a 0.25 s limit.
    limits = MediaLimits(timeout_s=0.25, max_analysed_s=4 * 3600)
    t0 = time.perf_counter()
    try:
        decode(long, limits=limits)
        rows.append(f"| decode 1 h WAV whole, `MediaLimits(timeout_s=0.25)` | not stopped (BUG) | "
                    f"{time.perf_counter() - t0:.2f} s |")
    except MediaTimeoutError as err:
        rows.append(f"| decode 1 h WAV whole, `MediaLimits(timeout_s=0.25)` | MediaTimeoutError: {err} | "
                    f"{time.perf_counter() - t0:.2f} s |")
    t0 = time.perf_counter()
    m = decode(long)
    rows.append(f"| decode the same file with default limits (3 windows) | OK, {m.analysed_audio_s:.0f} s "
                f"analysed | {time.perf_counter() - t0:.2f} s |")
    if with_analysis:
        from recsys.analysis import analyzer as A

        an = A.Analyzer(A.AnalysisConfig(transcribe="never", timeout_s=1.0))
        an.encoders()
        real = A.describe_audio

        def slow_describe(*a, **k):  # stands in for a stage that runs long on a loaded machine
            time.sleep(1.5)
            return real(*a, **k)

        A.describe_audio = slow_describe
        t0 = time.perf_counter()
        try:
            an.analyze(wav_bytes(tone(2.0)), name="slow-stage.wav")
            rows.append(f"| analysis with `AnalysisConfig(timeout_s=1)`, sound stage slowed by 1.5 s | not stopped "
                        f"(BUG) | {time.perf_counter() - t0:.2f} s |")
        except MediaTimeoutError as err:
            rows.append(f"| analysis with `AnalysisConfig(timeout_s=1)`, sound stage slowed by 1.5 s | "
                        f"MediaTimeoutError: {err} | {time.perf_counter() - t0:.2f} s |")
        finally:
            A.describe_audio = real
    return rows


# --- main -------------------------------------------------------------------------------------

def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bad_inputs.md")
    ap.add_argument("--no-cli", action="store_true", help="skip the command-line layer (a model load per OK file)")
    ap.add_argument("--no-analysis", action="store_true", help="skip the Analyzer layer (no models)")
    ap.add_argument("--only", help="only cases whose label contains this text")
    ap.add_argument("--hang-s", type=float, default=180.0, help="watchdog per call, seconds")
    args = ap.parse_args(argv)

    selected = [c for c in cases() if not args.only or args.only.lower() in c.label.lower()]
    analyzers: dict = {}

    def analyzer_for(limits):
        from recsys.analysis.analyzer import AnalysisConfig, Analyzer

        key = limits or DEFAULT_LIMITS
        if key not in analyzers:
            shared = next(iter(analyzers.values()), None)
            analyzers[key] = Analyzer(AnalysisConfig(transcribe="never", limits=key))
            if shared is not None:  # encoders are process-wide singletons: share the loaded ones
                analyzers[key]._encoders = shared.encoders()
            else:  # load the models and pay the one-off warm-ups (librosa/numba) before timing
                analyzers[key].analyze(wav_bytes(tone(2.0)), name="warm-up.wav")
        return analyzers[key]

    rows, bugs = [], 0
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="recsys-bad-inputs-") as tmp:
        scratch = Path(tmp)
        os.chdir(scratch)  # a name= that were used as a path would land here, and be seen
        try:
            for case in selected:
                t0 = time.perf_counter()
                data = case.make()
                gen_s = time.perf_counter() - t0
                listing = sorted(os.listdir(scratch))
                outs = [run_library(case, data, args.hang_s)]
                if not args.no_analysis:
                    outs.append(run_analysis(case, data, analyzer_for, args.hang_s))
                if sorted(os.listdir(scratch)) != listing:
                    outs[-1].as_expected, outs[-1].note = False, "name= created a file in the working folder"
                if not args.no_cli and case.cli != "skip":
                    outs.append(run_cli(case, data, scratch, args.hang_s))
                for o in outs:
                    bugs += not o.as_expected
                    rows.append((case, len(data), o))
                    print(f"{'ok ' if o.as_expected else 'BAD'} {case.label[:50]:50s} {o.layer:8s} {o.seconds:7.2f}s "
                          f"{o.text[:110]}", flush=True)
                del data
                print(f"    (generated in {gen_s:.1f} s)", flush=True)

            eight_k = scratch / "rss-8k.mp4"
            eight_k.write_bytes(video_8k())
            small = scratch / "rss-small.mp4"
            small.write_bytes(av_bytes("mp4", frames=frames_of(20, 320, 240), fps=10,
                                       options={"movflags": "+faststart"}))
            warm = scratch / "rss-warm.mp4"  # a video with sound: both encoders run once first
            warm.write_bytes(av_bytes("mp4", frames=frames_of(20), audio=tone(2.0, sr=48000)))
            modes = ["decode"] + ([] if args.no_analysis else ["analysis"])
            rss = {(mode, label): peak_rss(mode, p, warm) for mode in modes
                   for label, p in (("320x240, 20 frames", small), ("7680x4320, 2 frames", eight_k))}
            limit_rows = timeout_checks(scratch, with_analysis=not args.no_analysis)
        finally:
            os.chdir(home)

    lines = [
        "# Bad and extreme inputs",
        "",
        f"Generated by `benchmarks/bad_inputs.py` on {time.strftime('%Y-%m-%d %H:%M')} "
        f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}).",
        "Layers: **library** = `recsys.media.decode.decode(data, name=FILENAME)`; **analysis** = "
        "`Analyzer(AnalysisConfig(transcribe=\"never\")).analyze(data, name=FILENAME)` with the real models "
        "(time excludes the one-off model load); **cli** = `python -m recsys analyze FILE --json --transcribe never` "
        "on a real file of that name (time includes interpreter start, and the model load for a good file; a bad "
        "file is rejected before the models load). The CLI must exit 2 with one JSON line holding `path` and "
        "`error` for a bad file, exit 0 with one JSON line for a good one, and never print a traceback.",
        "",
        f"Result: **{bugs} unexpected outcome(s)** over {len(rows)} runs.",
        "",
        "| input | bytes | layer | expected | outcome | as expected | time | note |",
        "|---|---:|---|---|---|:-:|---:|---|",
    ]
    for case, size, o in rows:
        lines.append(f"| {_md(case.label)} (`{_md(repr(case.filename)[1:-1])}`) | {size:,} | {o.layer} | "
                     f"{_expected_text(case.expect)} | {_md(o.text)} | {'yes' if o.as_expected else '**NO**'} | "
                     f"{o.seconds:.2f} s | {_md(o.note)} |")
    lines += ["", "## Time limits", "", "| check | outcome | time |", "|---|---|---:|", *limit_rows, "",
              "## Peak memory (RSS) of one decode / analysis, each in a fresh subprocess", "",
              "`before` is the RSS of the process after imports (for analysis: models loaded and one small "
              "video with sound analysed as a warm-up); `peak` is the high-water mark (VmHWM, reset just "
              "before the call) during the call.",
              "",
              "| what | clip | before (MB) | peak (MB) | added (MB) | time |", "|---|---|---:|---:|---:|---:|"]
    for (mode, label), r in rss.items():
        if "error" in r:
            lines.append(f"| {mode} | {label} | error: {_md(r['error'])} | | | |")
        else:
            since = "" if r.get("hwm_reset") else " (peak since start: high-water mark not resettable)"
            lines.append(f"| {mode} | {label}{since} | {r['before_mb']:.0f} | {r['peak_mb']:.0f} | "
                         f"{r['peak_mb'] - r['before_mb']:.0f} | {r['seconds']:.2f} s |")
    lines += ["", "## Upload size in the app", "",
              "The library refuses files over `MediaLimits.max_bytes` (default 500 MiB) before reading them "
              "(`MediaTooLargeError`). The Streamlit app's upload limit is `[server] maxUploadSize` in "
              "`.streamlit/config.toml` (currently 200 MB): the browser refuses a bigger file before it is "
              "sent, so the app never holds more than that in memory; the app should also pass "
              "`MediaLimits(max_bytes=200 * 2**20)` so the two limits agree and the message is ours.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}: {bugs} unexpected outcome(s) over {len(rows)} runs")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
