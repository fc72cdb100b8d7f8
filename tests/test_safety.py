"""Safety: no unpickling anywhere in recsys/, uploads leave no temp files, a hostile upload name
never becomes a path, and decoding stays within its time and memory limits."""
from __future__ import annotations

import ast
import functools
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from benchmarks.factories import (HOSTILE_NAMES, SR, NonSeekable, av_bytes, long_wav, moving_square_frames,
                                  ogg_bytes, pcm_mka, tone, unknown_codec_mka, wav_bytes, write_video, write_wav)
from recsys.errors import (CorruptMediaError, MediaError, MediaTimeoutError, MediaTooLargeError,
                           UnsupportedMediaError)
from recsys.deadline import Deadline
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


# --- limits: time (a fake clock) and memory ---------------------------------------------------

class FakeClock:
    """Monotonic seconds for :class:`~recsys.deadline.Deadline`: each reading advances ``step``
    (so every deadline check "costs" that long), and a test may jump it with ``advance``."""

    def __init__(self, step: float = 0.0):
        self.now, self.step, self.reads = 0.0, step, 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """Every Deadline that decoding, preview and analysis make reads this fake clock."""
    from recsys.analysis import analyzer
    from recsys.media import decode as decode_mod, preview

    fake = FakeClock()
    for module in (decode_mod, preview, analyzer):
        monkeypatch.setattr(module, "Deadline", functools.partial(Deadline, clock=fake))
    return fake


def test_the_decode_deadline_reads_the_injected_clock_not_the_wall(clock):
    """A frozen clock never expires: a whole two-minute decode under a 1 ns limit completes."""
    m = decode(long_wav(120), name="long.wav", limits=MediaLimits(timeout_s=1e-9, max_analysed_s=3600))
    assert m.analysed_audio_s == pytest.approx(120.0, abs=0.1)
    assert clock.reads > 10, "checked as it decodes, not once"


def test_timeout_stops_a_decode_at_the_first_check_past_the_limit(clock):
    clock.step = 1.0  # the deadline starts at 1 s and ends at 6 s; checks read 2, 3, ... 7 s
    limits = MediaLimits(timeout_s=5.0, max_analysed_s=10 * 3600)
    with pytest.raises(MediaTimeoutError, match=r"^long.wav: decoding took longer than 5 s$"):
        decode(long_wav(600), name="long.wav", limits=limits)
    assert clock.reads == 7, "stopped at the sixth check, not later"


def test_timeout_stops_a_video_decode_per_frame(clock, tmp_path):
    clock.step = 1.0
    path = write_video(tmp_path / "v.mkv", moving_square_frames(n=40), fps=10)
    with pytest.raises(MediaTimeoutError, match="v.mkv: decoding took longer than 2.5 s"):
        decode(path, limits=MediaLimits(timeout_s=2.5))
    assert clock.reads == 4


def _checks(clock: FakeClock, data: bytes, name: str) -> tuple:
    """(decoded media, deadline checks it made): the checks count the packets decoded."""
    before = clock.reads
    return decode(data, name=name), clock.reads - before - 1  # less the Deadline's own start


def test_two_hour_clip_decodes_only_its_windows(clock):
    thirty_s, checks_30 = _checks(clock, long_wav(30), "thirty.wav")
    m, checks = _checks(clock, long_wav(7200), "two-hours.wav")  # 57.6 MB
    assert thirty_s.analysed_audio_s == pytest.approx(30.0, abs=0.2) and thirty_s.windows_s == [(0.0, 30.0)]
    assert m.duration_s == pytest.approx(7200.0)
    assert m.analysed_audio_s == pytest.approx(30.0, abs=0.2) and len(m.windows_s) == 3
    starts = [s for s, _ in m.windows_s]
    assert starts[0] < 1500 < starts[1] < 5000 < starts[2], "windows spread over the whole clip"
    # 240 times the sound, the same 30 s analysed: about the same packets (3 seeks' worth more).
    assert checks_30 > 0 and checks <= 2 * checks_30 + 10, (checks, checks_30)


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
    make = f"from benchmarks.factories import video_8k; open({str(path)!r}, 'wb').write(video_8k(3))"
    subprocess.run([sys.executable, "-c", make], check=True, timeout=300, cwd=ROOT)
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


def test_frame_size_over_max_pixels_is_refused(eight_k_clip, clock):
    with pytest.raises(UnsupportedMediaError, match="frame size 7680x4320 is over the limit"):
        decode(eight_k_clip, limits=MediaLimits(max_pixels=3840 * 2160))
    assert clock.reads == 1, "refused from the header: no frame decoded, so no deadline check"


@pytest.mark.slow
def test_analysis_timeout_stops_between_stages(monkeypatch, tmp_path, clock):
    from recsys.analysis import analyzer as analysis
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer

    an = Analyzer(AnalysisConfig(transcribe="never", timeout_s=1.0))
    an.encoders()
    path = write_wav(tmp_path / "t.wav", tone(440, seconds=2.0))
    real = analysis.describe_audio

    def slow(*args, **kwargs):  # the sound stage "takes" 1.5 s of the fake clock
        clock.advance(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "describe_audio", slow)
    with pytest.raises(MediaTimeoutError, match=r"t.wav: analysis took longer than 1 s \(stopped after sound\)"):
        an.analyze(path)
    assert Analyzer(AnalysisConfig(transcribe="never", timeout_s=None)).analyze(path).kind == "audio"


# --- regressions: inputs the bad-input table found escaping or mis-handled --------------------

def test_a_stream_without_decoder_is_unsupported_not_an_attribute_error():
    assert decode(pcm_mka(), name="ok.mka").kind == "audio"
    with pytest.raises(UnsupportedMediaError, match="no decoder for its audio codec"):
        decode(unknown_codec_mka(), name="unknown.mka")


def _encode(fmt: str, *, n: int = 60, fps: int = 10, offset_s: float = 0.0, audio: bool = True,
            options: dict | None = None) -> bytes:
    """H.264 (+ AAC) in ``fmt``, timestamps from ``offset_s``."""
    return av_bytes(fmt, frames=moving_square_frames(n=n, size=(64, 48)), fps=fps, start_s=offset_s,
                    audio=tone(330, seconds=n / fps, sr=48000) if audio else None, options=options)


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
    with pytest.raises(CorruptMediaError, match="truncated or corrupt"):
        decode(ogg_bytes(tone(440, seconds=6.0))[:2000], name="cut.ogg")
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


def test_raw_h264_without_timestamps_decodes_and_an_endless_one_is_cut_at_the_analysed_span(clock):
    m, checks_3s = _checks(clock, _encode("h264", n=30, audio=False), "raw.h264")
    assert m.kind == "video" and m.duration_s == pytest.approx(3.0, abs=0.2) and m.frames.shape[0] >= 2
    # 2 minutes, no declared duration: decoding stops at the analysed 30 s.
    m, checks = _checks(clock, _encode("h264", n=1200, audio=False), "long.h264")
    assert m.duration_s == pytest.approx(30.0, abs=0.5) and "duration unknown" in m.warnings[0]
    assert checks <= 12 * checks_3s, (checks, checks_3s)


def test_a_non_seekable_file_object_is_read_within_the_size_limit():
    data = wav_bytes(tone(440, seconds=1.0))
    assert decode(NonSeekable(data), name="pipe.wav").duration_s == pytest.approx(1.0, abs=0.01)
    with pytest.raises(MediaTooLargeError):
        decode(NonSeekable(data), name="pipe.wav", limits=MediaLimits(max_bytes=1000))


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
