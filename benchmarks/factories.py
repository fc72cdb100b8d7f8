"""Generated inputs for benchmarks and tests: signals and clips with known answers, and hostile files.

One module for both, so a hostile input the bad-input table finds and the regression test that
pins it are made by the same code. Nothing is downloaded; everything is deterministic for its
arguments.

Signals (float32 arrays): :func:`tone`, :func:`click_track`, :func:`white_noise`; frames (uint8
(n, H, W, 3) RGB): :func:`solid_frames`, :func:`moving_square_frames`. Files: :func:`write_wav`,
:func:`write_video`; in-memory encodings: :func:`sound_bytes`, :func:`mp3_bytes`, :func:`av_bytes`,
:func:`png_bytes`. Hostile and extreme inputs: random bytes, codec ids and format tags no decoder
knows, subtitle- or data-only containers, 2-hour files built for no work, an 8K clip, a frame
over the pixel limit, a non-seekable stream, and upload names that look like paths or commands.
A synthetic :class:`~recsys.catalog.catalog.Catalog` with a known answer is at the end.
"""
from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.av_writer import write_av

SR = 16000  # Hz: the sample rate the library analyses sound at


# --- signals and frames with known answers --------------------------------------------------

def tone(freq: float, *, seconds: float = 3.0, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    """(round(sr * seconds),) float32 sine at ``freq`` Hz, peak ``amp``."""
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(round(sr * seconds))) / sr)).astype(np.float32)


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


def white_noise(*, seconds: float = 3.0, sr: int = SR, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """(n,) float32 Gaussian noise with standard deviation ``amp``."""
    return (amp * np.random.default_rng(seed).standard_normal(int(sr * seconds))).astype(np.float32)


def solid_frames(rgb: tuple[int, int, int], *, n: int = 20, size: tuple[int, int] = (96, 64)) -> np.ndarray:
    """(n, H, W, 3) uint8 frames of one colour; ``size`` is (W, H)."""
    w, h = size
    return np.broadcast_to(np.asarray(rgb, np.uint8), (n, h, w, 3)).copy()


def moving_square_frames(*, n: int = 30, size: tuple[int, int] = (96, 64), speed: int = 4,
                         seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8: a 16-pixel yellow square crossing a grey background at ``speed``
    pixels per frame; ``size`` is (W, H), at least 32 x 36."""
    w, h = size
    frames = np.full((n, h, w, 3), 90, np.uint8)
    for i in range(n):
        x = (i * speed) % (w - 16)
        frames[i, 20:36, x:x + 16] = (250, 220, 40)
    return frames


# --- encodings ---------------------------------------------------------------------------------

def write_wav(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    """``y`` (n,) or (n, channels) float32 as 16-bit PCM WAV at ``path``."""
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


def sound_bytes(y: np.ndarray, sr: int = SR, *, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    """``y`` encoded by libsndfile in memory: WAV/PCM_16, OGG/VORBIS, FLAC/PCM_16, ..."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def wav_bytes(y: np.ndarray, sr: int = SR) -> bytes:
    return sound_bytes(y, sr)


def ogg_bytes(y: np.ndarray, sr: int = SR) -> bytes:
    return sound_bytes(y, sr, fmt="OGG", subtype="VORBIS")


def mp3_bytes(y: np.ndarray, sr: int, *, bit_rate: int | None = None, headers: bool = True) -> bytes:
    """Mono ``y`` as MP3 (LAME) in memory; ``headers=False`` leaves out the Xing and ID3 headers,
    so that copies of the bytes concatenate into one longer stream."""
    import av

    buf = io.BytesIO()
    options = {} if headers else {"write_xing": "0", "id3v2_version": "0"}
    with av.open(buf, "w", format="mp3", options=options) as out:
        st = out.add_stream("libmp3lame", rate=sr)
        st.layout = "mono"
        if bit_rate:
            st.bit_rate = bit_rate
        for i in range(0, y.size, 1152):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(y[None, i:i + 1152], np.float32), format="fltp",
                                            layout="mono")
            fr.sample_rate, fr.pts, fr.time_base = sr, i, Fraction(1, sr)
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def av_bytes(fmt: str, *, frames=None, fps: int = 10, vcodec: str = "libx264", audio: np.ndarray | None = None,
             acodec: str = "aac", sr: int = 48000, options: dict | None = None, vopts: dict | None = None,
             start_s: float = 0.0) -> bytes:
    """Video frames and/or mono audio in container ``fmt``, in memory (see :func:`write_av`)."""
    buf = io.BytesIO()
    write_av(buf, fmt=fmt, frames=frames, fps=fps, vcodec=vcodec, video_options=vopts, audio=audio, acodec=acodec,
             sr=sr, container_options=options, start_s=start_s)
    return buf.getvalue()


def png_bytes() -> bytes:
    """A 96x64 PNG image (not a clip)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(moving_square_frames(n=1)[0]).save(buf, format="PNG")
    return buf.getvalue()


def pcm_mka(codec_id: bytes = b"A_PCM/INT/LIT", *, seconds: float = 1.0) -> bytes:
    """A 440 Hz tone as 16-bit PCM in Matroska, its CodecID replaced by ``codec_id`` (13 bytes)."""
    import av

    y = (tone(440, seconds=seconds) * 32767).astype(np.int16)
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
    return data.replace(b"A_PCM/INT/LIT", codec_id)


# --- hostile and extreme inputs ---------------------------------------------------------------

# Upload names that would do harm if the library used them as paths, URLs or shell words.
HOSTILE_NAMES = ["a;rm -rf x$(id).mp3", "../../etc/passwd.wav", "../victim.wav", "名前 🎵.ogg",
                 "two\nlines `touch pwned`.wav", "/dev/zero", "|cat /etc/passwd", "file:victim.wav",
                 "pipe:0", "-rf --json.wav", "x" * 300 + ".wav", ".wav", "con.wav", "a\x00b.wav"]
# Those a real file can be named (for the command line), one per kind of harm.
HOSTILE_FILE_NAMES = [HOSTILE_NAMES[i] for i in (0, 1, 3, 4, 9)]


def truncated(data: bytes, fraction: float) -> bytes:
    """The first ``fraction`` of ``data``: a download cut short."""
    return data[: int(len(data) * fraction)]


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
    return pcm_mka(b"A_XYZ/INT/LIT")


def unknown_format_tag_wav() -> bytes:
    """A WAV whose fmt chunk names format tag 0x3344 (no such codec)."""
    w = bytearray(wav_bytes(tone(440, seconds=1.0)))
    i = w.find(b"fmt ")
    w[i + 8:i + 10] = struct.pack("<H", 0x3344)
    return bytes(w)


def unknown_codec_mkv_video() -> bytes:
    """H.264 in Matroska whose CodecID names no known video codec (V_MPEG4/ISO/XYZ)."""
    data = av_bytes("matroska", frames=moving_square_frames(n=10, size=(160, 96), speed=6))
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    return data.replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ")


def long_wav(seconds: float = 7200.0, sr: int = 8000) -> bytes:
    """``seconds`` of 330 Hz as 8 kHz unsigned 8-bit mono WAV (57.6 MB for 2 h), built by
    repeating one second: hours of audio for no work."""
    one = (tone(330, seconds=1.0, sr=sr) * 127 + 128).astype(np.uint8).tobytes()
    n_sec = int(seconds)
    data_len = len(one) * n_sec
    header = (b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE" + b"fmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr, 1, 8) + b"data" + struct.pack("<I", data_len))
    return header + one * n_sec


def long_mp3(seconds: float = 7200.0) -> bytes:
    """``seconds`` of 8 kbit/s MP3 (7.2 MB for 2 h): 10 s encoded once without headers, repeated."""
    sr = 8000
    y = tone(330, seconds=10.0, sr=sr) + tone(660, seconds=10.0, sr=sr, amp=0.2)
    return mp3_bytes(y, sr, bit_rate=8000, headers=False) * int(seconds / 10)


def video_8k(n: int = 2, w: int = 7680, h: int = 4320) -> bytes:
    """``n`` frames at 1 fps of H.264 at ``w`` x ``h`` (faststart MP4). x264 needs about 0.5 GB
    for 8K: callers that care about their own peak memory make it in a subprocess."""
    def frames():  # one at a time: an 8K RGB frame is 100 MB
        for i in range(n):
            img = np.zeros((h, w, 3), np.uint8)
            img[:, :, i % 3] = 180
            img[h // 4: h // 2, w // 4 + 400 * i: w // 2 + 400 * i] = 255
            yield img

    return av_bytes("mp4", frames=frames(), fps=1, options={"movflags": "+faststart"}, vopts={"preset": "ultrafast"})


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


class NonSeekable(io.RawIOBase):
    """A binary stream that cannot seek or tell, like a pipe or a socket."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._data.readinto(buffer)


# --- a catalog with a known answer ------------------------------------------------------------

def synthetic_catalog(n: int = 40, *, seed: int = 0):
    """A Catalog of ``n`` items in two clusters with a known answer: cluster 0 (the first n // 2
    rows, titled "Forest ...") scores high on the Nature Lover's labels, cluster 1 ("Neon ...")
    on the Night Owl Gamer's. Blocks are random vectors around one centre per cluster; even rows
    are audio, odd rows video."""
    import json as _json

    from recsys.analysis.item_vector import block_layout
    from recsys.catalog.catalog import BLOCKS, from_records
    from recsys.catalog.feature_cache import FeatureRecord
    from recsys.understanding.label_scoring import label_names
    from recsys.users.personas import get_persona

    rng = np.random.default_rng(seed)
    layout = block_layout()
    names = label_names()
    tastes = [get_persona("Nature Lover").taste(), get_persona("Night Owl Gamer").taste()]
    # One generator per block, so a block that changes size (the label block grows with the
    # vocabulary) does not reshuffle the random draws of the others.
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
        records.append(FeatureRecord(blocks=blocks, label_scores=labels, analysis={"kind": kind}))
    return from_records(rows, records, Path("."), meta={"feature_version": "test", "n_items": n})


def two_persona_users(catalog, *, users_per_persona: int = 15, seed: int = 1):
    """Simulated Nature Lovers and Night Owl Gamers on ``catalog`` (see :func:`synthetic_catalog`),
    and each user's (384,) persona text vector: +0.05 everywhere for a Nature Lover, -0.05 for a
    Night Owl Gamer. Returns (interactions, user_text)."""
    from recsys.users.personas import get_persona, simulate_interactions

    personas = [get_persona("Nature Lover"), get_persona("Night Owl Gamer")]
    inter = simulate_interactions(catalog, personas, users_per_persona=users_per_persona, seed=seed)
    text = {u: np.full(384, 0.05 if p == "Nature Lover" else -0.05, np.float32)
            for u, p in inter.groupby("user_id")["persona"].first().items()}
    return inter, text
