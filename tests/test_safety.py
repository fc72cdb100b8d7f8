"""Safety: no unpickling anywhere in recsys/, uploads leave no temp files, a hostile upload name
never becomes a path, and decoding stays within its time and memory limits."""
from __future__ import annotations

import ast
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import SR, moving_square_frames, tone, write_video, write_wav
from benchmarks.av_writer import write_av
from recsys.errors import (CorruptMediaError, MediaError, MediaTimeoutError, MediaTooLargeError,
                           UnsupportedMediaError)
from recsys.media.decode import MediaLimits, decode

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "recsys"


# --- no pickle -------------------------------------------------------------------------------

UNPICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _unsafe_loads(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every import of a pickling module, ``allow_pickle`` not literally False,
    ``torch.load`` without ``weights_only=True``, and pandas' ``read_pickle``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if a.name.split(".")[0] in UNPICKLING_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNPICKLING_MODULES:
            found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            allow = kw.get("allow_pickle")
            if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                found.append((node.lineno, f"{name}(allow_pickle=...) not literally False"))
            if name == "load" and owner == "torch":
                wo = kw.get("weights_only")
                if not (isinstance(wo, ast.Constant) and wo.value is True):
                    found.append((node.lineno, "torch.load without weights_only=True"))
            if name in ("read_pickle", "to_pickle"):
                found.append((node.lineno, name))
    return found


def test_no_pickle_loading_anywhere_in_the_package():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    problems = []
    for path in files:
        source = path.read_text(encoding="utf-8")
        problems += [f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in _unsafe_loads(ast.parse(source))]
        # Belt and braces for what the AST cannot see (strings fed to eval/exec, odd spellings).
        for i, text in enumerate(source.splitlines(), 1):
            squashed = text.replace(" ", "")
            if "allow_pickle=True" in squashed or "pickle.load" in squashed or "weights_only=False" in squashed:
                problems.append(f"{path.relative_to(ROOT)}:{i}: {text.strip()}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("code,bad", [
    ("import pickle", True), ("from joblib import load", True), ("np.load(p, allow_pickle=True)", True),
    ("np.load(p, allow_pickle=flag)", True), ("torch.load(p)", True), ("torch.load(p, weights_only=False)", True),
    ("torch.load(p, map_location='cpu', weights_only=True)", False), ("np.load(p, allow_pickle=False)", False),
    ("pd.read_pickle(p)", True), ("x = 'no pickle here'", False),
])
def test_the_pickle_scan_catches_what_it_should(code, bad):
    assert bool(_unsafe_loads(ast.parse(code))) is bad


# --- uploads leave no temp file; a hostile name is never a path ------------------------------

@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A fresh temp folder used by tempfile (and TMPDIR for native code) during the test: the
    system one is shared with other processes, whose files would make a listing diff flaky."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    assert tempfile.gettempdir() == str(folder)
    return folder


def _upload_cases(tmp_path) -> list[tuple[str, bytes]]:
    wav = write_wav(tmp_path / "t.wav", tone(440, seconds=1.0)).read_bytes()
    mp4 = write_video(tmp_path / "v.mp4", moving_square_frames(n=10), fps=10,
                      audio=tone(440, seconds=1.0, sr=48000), sr=48000).read_bytes()
    return [("good.wav", wav), ("good.mp4", mp4), ("empty.mp3", b""), ("cut.mp4", mp4[: len(mp4) // 2]),
            ("cut.wav", wav[: len(wav) // 3]), ("text.mp3", b"hello\n" * 500),
            ("noise.mp4", np.random.default_rng(0).bytes(30000)), ("flipped.wav", wav[:20] + b"\xff" * 40 + wav[60:])]


def test_decoding_uploads_leaves_no_temp_file(tmp_path, private_tmp):
    cases = _upload_cases(tmp_path)
    before = sorted(os.listdir(private_tmp))
    outcomes = []
    for name, data in cases:
        for source in (data, io.BytesIO(data)):
            try:
                decode(source, name=name)
                outcomes.append("ok")
            except MediaError as err:
                outcomes.append(type(err).__name__)
    assert sorted(os.listdir(private_tmp)) == before
    assert "ok" in outcomes and len(set(outcomes)) > 2, "both good and failing uploads were exercised"


_EVENTS: list[tuple[str, tuple]] | None = None


def _audit(event: str, args: tuple) -> None:  # installed once; records only while _EVENTS is a list
    if _EVENTS is not None and (event == "open" or event.startswith(("os.", "shutil.", "subprocess."))):
        _EVENTS.append((event, args))


sys.addaudithook(_audit)

HOSTILE_NAMES = ["a;rm -rf x$(id).mp3", "../../etc/passwd.wav", "../victim.wav", "名前 🎵.ogg",
                 "two\nlines `touch pwned`.wav", "/dev/zero", "|cat /etc/passwd", "file:victim.wav",
                 "pipe:0", "-rf --json.wav", "x" * 300 + ".wav", ".wav", "con.wav", "a\x00b.wav"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_upload_name_never_creates_reads_or_touches_a_file(tmp_path, monkeypatch, name):
    global _EVENTS
    import av

    work = tmp_path / "work" / "a" / "b"
    work.mkdir(parents=True)
    victim = tmp_path / "work" / "victim.wav"  # what "../victim.wav" etc. would reach if used as a path
    write_wav(victim, tone(220, seconds=3.0))
    monkeypatch.chdir(work)
    data = write_wav(tmp_path / "upload.wav", tone(880, seconds=1.0)).read_bytes()
    opened_by_av = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda src, *a, **k: (opened_by_av.append(src), real_open(src, *a, **k))[1])
    listing = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    stat = victim.stat()

    _EVENTS = []
    try:
        m = decode(data, name=name)
        with pytest.raises(MediaError) as info:
            decode(b"not audio" * 100, name=name)
    finally:
        events, _EVENTS = _EVENTS, None
    assert m.duration_s == pytest.approx(1.0, abs=0.05), "the bytes were decoded, not a file the name points to"
    spec = np.abs(np.fft.rfft(m.audio))
    assert np.fft.rfftfreq(m.audio.size, 1 / SR)[spec.argmax()] == pytest.approx(880, abs=5)
    assert "\n" not in str(info.value) and len(str(info.value).splitlines()) == 1
    assert opened_by_av and all(not isinstance(s, (str, os.PathLike)) for s in opened_by_av), \
        "FFmpeg was handed a file object, never a path or URL"
    assert events == [], f"decoding bytes opened or touched files: {events[:5]}"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == listing
    assert victim.stat().st_mtime_ns == stat.st_mtime_ns and victim.stat().st_size == stat.st_size


# --- limits: time and memory -----------------------------------------------------------------

def _long_wav_bytes(minutes: float, sr: int = 8000) -> bytes:
    """Unsigned 8-bit mono WAV built by repeating one second: minutes of audio for no work."""
    one = ((0.5 * np.sin(2 * np.pi * 330 * np.arange(sr) / sr)) * 127 + 128).astype(np.uint8).tobytes()
    n = int(minutes * 60)
    size = len(one) * n
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr, 1, 8)
            + b"data" + struct.pack("<I", size) + one * n)


def test_timeout_bounds_a_slow_decode():
    data = _long_wav_bytes(10)  # decoding all 10 minutes takes far more than 10 ms; the limit stops it early
    limits = MediaLimits(timeout_s=0.01, max_analysed_s=10 * 3600)
    t0 = time.perf_counter()
    with pytest.raises(MediaTimeoutError, match="long.wav: decoding took longer than 0.01 s"):
        decode(data, name="long.wav", limits=limits)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.5, f"stopped {elapsed:.2f} s after a 0.01 s limit"
    t0 = time.perf_counter()
    m = decode(data, name="long.wav")  # the default limits analyse windows only: fast
    assert m.analysed_audio_s == pytest.approx(30.0, abs=0.2) and time.perf_counter() - t0 < 5


def test_two_hour_clip_decodes_only_its_windows():
    data = _long_wav_bytes(120)  # 57.6 MB
    t0 = time.perf_counter()
    m = decode(data, name="two-hours.wav")
    elapsed = time.perf_counter() - t0
    assert m.duration_s == pytest.approx(7200.0)
    assert m.analysed_audio_s == pytest.approx(30.0, abs=0.2) and len(m.windows_s) == 3
    starts = [s for s, _ in m.windows_s]
    assert starts[0] < 1500 < starts[1] < 5000 < starts[2], "windows spread over the whole clip"
    assert elapsed < 5, f"{elapsed:.1f} s: more than the windows was decoded"


_EIGHT_K = r"""
import sys
from fractions import Fraction
import av, numpy as np
w, h, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with av.open(path, "w") as out:
    vs = out.add_stream("libx264", rate=1, options={"preset": "ultrafast"})
    vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
    for i in range(3):
        img = np.zeros((h, w, 3), np.uint8); img[:, :, i] = 180; img[h // 4: h // 2, w // 4: w // 2] = 255
        f = av.VideoFrame.from_ndarray(img, format="rgb24"); f.pts, f.time_base = i, Fraction(1, 1)
        for p in vs.encode(f): out.mux(p)
    for p in vs.encode(): out.mux(p)
"""

_PEAK = r"""
import json, sys
from recsys.media.decode import decode
import av, numpy
def mb(key):
    return next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith(key + ":"))
before = mb("VmRSS")
try:
    open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM: measure this decode alone
except OSError:
    pass
m = decode(sys.argv[2])
print(json.dumps({"before": before, "peak": mb("VmHWM"), "shape": list(m.frames.shape), "w": m.width}))
"""


@pytest.fixture(scope="module")
def eight_k_clip(tmp_path_factory) -> Path:
    """A 3-frame 7680x4320 H.264 MP4, encoded in a subprocess (x264 needs ~0.5 GB for it)."""
    path = tmp_path_factory.mktemp("8k") / "8k.mp4"
    subprocess.run([sys.executable, "-c", _EIGHT_K, "7680", "4320", str(path)], check=True, timeout=300)
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_8k_video_is_downscaled_with_bounded_memory(eight_k_clip):
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(ROOT), str(eight_k_clip)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.splitlines()[-1])
    added = r["peak"] - r["before"]
    print(f"\n8K decode: RSS {r['before']:.0f} MB before, peak {r['peak']:.0f} MB (+{added:.0f} MB)")
    assert r["w"] == 7680 and r["shape"][1] == 256 and r["shape"][2] == 456
    # One decoded 8K frame is 50 MB (yuv420p); the decoder threads are capped so a few are in flight.
    assert added < 400, f"decoding one 8K clip added {added:.0f} MB"


def test_frame_size_over_max_pixels_is_refused(eight_k_clip):
    t0 = time.perf_counter()
    with pytest.raises(UnsupportedMediaError, match="frame size 7680x4320 is over the limit"):
        decode(eight_k_clip, limits=MediaLimits(max_pixels=3840 * 2160))
    assert time.perf_counter() - t0 < 1.0, "refused from the header, before decoding a frame"


def test_timeout_bounds_a_slow_video_decode(eight_k_clip):
    """The limit is checked per decoded frame: an 8K decode stops after its first frame."""
    t0 = time.perf_counter()
    with pytest.raises(MediaTimeoutError):
        decode(eight_k_clip, limits=MediaLimits(timeout_s=0.001))
    assert time.perf_counter() - t0 < 5


@pytest.mark.slow
def test_analysis_timeout_stops_between_stages(monkeypatch, tmp_path):
    from recsys.analysis import analyzer as analysis
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer

    an = Analyzer(AnalysisConfig(transcribe="never", timeout_s=1.0))
    an.encoders()
    path = write_wav(tmp_path / "t.wav", tone(440, seconds=2.0))
    an.analyze(path)  # warm-up: first-call costs (librosa, numba) are not the point here
    real = analysis.describe_audio

    def slow(*args, **kwargs):
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "describe_audio", slow)
    t0 = time.perf_counter()
    with pytest.raises(MediaTimeoutError, match=r"t.wav: analysis took longer than 1 s \(stopped after sound\)"):
        an.analyze(path)
    assert time.perf_counter() - t0 < 3.0
    monkeypatch.setattr(analysis, "describe_audio", real)
    assert Analyzer(AnalysisConfig(transcribe="never", timeout_s=None)).analyze(path).kind == "audio"


# --- regressions: inputs the bad-input table found escaping or mis-handled --------------------

def _pcm_mka(codec_id: bytes) -> bytes:
    import av

    buf = io.BytesIO()
    y = (tone(440, seconds=1.0) * 32767).astype(np.int16)
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
    return buf.getvalue().replace(b"A_PCM/INT/LIT", codec_id)


def test_a_stream_without_decoder_is_unsupported_not_an_attribute_error():
    assert decode(_pcm_mka(b"A_PCM/INT/LIT"), name="ok.mka").kind == "audio"
    with pytest.raises(UnsupportedMediaError, match="no decoder for its audio codec"):
        decode(_pcm_mka(b"A_XYZ/INT/LIT"), name="unknown.mka")


def _encode(fmt: str, *, n: int = 60, fps: int = 10, offset_s: float = 0.0, audio: bool = True,
            options: dict | None = None) -> bytes:
    """H.264 (+ AAC) in ``fmt``, timestamps from ``offset_s``."""
    buf = io.BytesIO()
    write_av(buf, fmt=fmt, frames=moving_square_frames(n=n, size=(64, 48)), fps=fps, start_s=offset_s,
             audio=tone(330, seconds=n / fps, sr=48000) if audio else None, container_options=options)
    return buf.getvalue()


def test_truncated_faststart_mp4_webm_and_ogg_are_corrupt_not_silently_short(tmp_path):
    mp4 = _encode("mp4", options={"movflags": "+faststart"})
    assert mp4.find(b"moov") < mp4.find(b"mdat"), "the index is in front, so the cut file still opens"
    assert decode(mp4, name="whole.mp4").duration_s == pytest.approx(6.0, abs=0.1)
    with pytest.raises(CorruptMediaError, match=r"cut.mp4: truncated \(decoded 2.\d s of 6.0 s\)"):
        decode(mp4[: len(mp4) // 3], name="cut.mp4")
    webm = write_video(tmp_path / "v.webm", moving_square_frames(n=60), fps=10,
                       audio=tone(440, seconds=6.0, sr=48000), sr=48000).read_bytes()
    with pytest.raises(CorruptMediaError, match="truncated"):
        decode(webm[: len(webm) // 3], name="cut.webm")
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, tone(440, seconds=6.0), SR, format="OGG", subtype="VORBIS")
    with pytest.raises(CorruptMediaError, match="truncated or corrupt"):
        decode(buf.getvalue()[:2000], name="cut.ogg")
    # A video track shorter than its sound is a normal file, not a truncated one.
    short_video = write_video(tmp_path / "sv.mp4", moving_square_frames(n=10), fps=10,
                              audio=tone(440, seconds=6.0, sr=48000), sr=48000)
    assert decode(short_video).kind == "video"


@pytest.mark.parametrize("fmt", ["mpegts", "matroska", "mp4"])
def test_timestamps_that_start_late_are_read_in_clip_time(fmt):
    m = decode(_encode(fmt, n=200, offset_s=600.0), name=f"late.{fmt}")
    assert m.duration_s == pytest.approx(20.0, abs=0.2)
    assert m.frames.shape[0] >= 10 and 0 <= m.frame_times_s.min() and m.frame_times_s.max() < 20.5
    assert m.analysed_audio_s == pytest.approx(20.0, abs=0.5)


def test_raw_h264_without_timestamps_decodes_and_an_endless_one_is_cut_at_the_analysed_span():
    short = _encode("h264", n=30, audio=False)
    m = decode(short, name="raw.h264")
    assert m.kind == "video" and m.duration_s == pytest.approx(3.0, abs=0.2) and m.frames.shape[0] >= 2
    long = _encode("h264", n=1200, audio=False)  # 2 minutes, no declared duration
    t0 = time.perf_counter()
    m = decode(long, name="long.h264")
    assert m.duration_s == pytest.approx(30.0, abs=0.5) and "duration unknown" in m.warnings[0]
    assert time.perf_counter() - t0 < 5


def test_a_non_seekable_file_object_is_read_within_the_size_limit():
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, tone(440, seconds=1.0), SR, format="WAV")
    data = buf.getvalue()

    class Pipe(io.RawIOBase):
        def __init__(self, payload: bytes):
            self._payload = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            return self._payload.readinto(buffer)

    assert decode(Pipe(data), name="pipe.wav").duration_s == pytest.approx(1.0, abs=0.01)
    with pytest.raises(MediaTooLargeError):
        decode(Pipe(data), name="pipe.wav", limits=MediaLimits(max_bytes=1000))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open descriptors in /proc")
def test_early_refusals_close_the_file_they_opened(tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp3"
    text.write_bytes(b"hello\n" * 100)
    for path, limits in [(empty, MediaLimits()), (text, MediaLimits(max_bytes=10)), (text, MediaLimits())]:
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(MediaError) as info:
            decode(path, limits=limits)
        # `info` keeps the traceback (and its frames' locals) alive: a file left open would show.
        assert len(os.listdir("/proc/self/fd")) == before, f"{path.name}: {info.value}"
