"""Fuzzing: mutated real media through ``recsys.media.decode.decode`` and ``Analyzer.analyze``.

Seeds are small clips generated here (WAV, FLAC, OGG/Vorbis, MP3, MP4 H.264/AAC, WebM VP9/Opus,
MKV H.264, MPEG-TS H.264/AAC, AVI MPEG-4/MP3) plus, when ``../shared/media`` is present, a few
real files from it. Hypothesis mutates them (bit flips, "interesting" integers over length
fields, truncation, deletion, duplication, random insertions, splices from another seed) and
each case runs in a worker process, so that a crash or a hang inside FFmpeg fails the test
instead of killing pytest. What may come out: success or a :class:`~recsys.errors.MediaError`
subclass with a one-line message; never another exception, a hang (``MediaLimits.timeout_s``
plus a watchdog), a crash, or a file left in the temp folder.

Case counts: ``RECSYS_FUZZ_EXAMPLES`` (default 300) for decode over generated seeds,
``RECSYS_FUZZ_SHARED_EXAMPLES`` (default 100) over shared files, ``RECSYS_FUZZ_ANALYSIS_EXAMPLES``
(default 20, slow) for the analysis; a summary line per test reports how many ran and what
came out. Failing examples are kept in ``.cache/hypothesis`` and replayed first next time.
"""
from __future__ import annotations

import collections
import json
import os
import selectors
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ != "__main__":  # the worker (below) needs none of this
    import pytest
    from hypothesis import HealthCheck, given, settings
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis import strategies as st
    from hypothesis.database import DirectoryBasedExampleDatabase

    from benchmarks.factories import moving_square_frames, mp3_bytes, sound_bytes, tone, write_video
    from recsys.paths import SHARED_MEDIA_DIR, cache_dir

N_DECODE = int(os.environ.get("RECSYS_FUZZ_EXAMPLES", "300"))
N_SHARED = int(os.environ.get("RECSYS_FUZZ_SHARED_EXAMPLES", "100"))
N_ANALYSIS = int(os.environ.get("RECSYS_FUZZ_ANALYSIS_EXAMPLES", "20"))
DECODE_TIMEOUT_S = 10.0      # MediaLimits.timeout_s inside the worker
WATCHDOG_S = 60.0            # no answer from the worker in this long: a hang (decode)
SHARED_SEEDS = ["audio/librosa/456440__inspectorj__bird-whistling-robin-single-13.ogg",
                "audio/librosa/sorohanro_-_solo-trumpet-06.ogg", "audio/smstools/soprano-E4.wav",
                "video/blender/big_buck_bunny_432_433.webm", "video/intel/asl_gestures_milk.mkv",
                "video/blender/sintel_opening_example3.mp4"]


# --- the worker process ----------------------------------------------------------------------

def _worker(mode: str) -> None:
    """Read (name, bytes) requests on stdin; answer one JSON line per request on the real stdout."""
    answer = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything the library prints goes to stderr, never into the answers
    from recsys.errors import MediaError
    from recsys.media.decode import MediaLimits, decode

    limits = MediaLimits(timeout_s=DECODE_TIMEOUT_S)
    if mode == "analyze":
        from recsys.analysis.analyzer import AnalysisConfig, Analyzer

        analyzer = Analyzer(AnalysisConfig(transcribe="never", limits=limits, timeout_s=60.0))
        analyzer.encoders()
        run = lambda data, name: analyzer.analyze(data, name=name)  # noqa: E731
    else:
        run = lambda data, name: decode(data, name=name, limits=limits)  # noqa: E731
    tmp = tempfile.gettempdir()
    answer.write(json.dumps({"ready": True, "tmp": tmp}).encode() + b"\n")
    stdin = sys.stdin.buffer
    while True:
        head = stdin.read(8)
        if len(head) < 8:
            return
        n_name, n_data = struct.unpack("<II", head)
        name = stdin.read(n_name).decode("utf-8")
        data = stdin.read(n_data)
        before = set(os.listdir(tmp))
        t0 = time.perf_counter()
        try:
            result = run(data, name)
            res = {"outcome": "ok", "type": f"OK {result.kind}"}
        except MediaError as err:
            res = {"outcome": "typed", "type": type(err).__name__, "message": str(err)}
        except Exception as err:  # noqa: BLE001 - the very thing this test looks for
            res = {"outcome": "bug", "type": type(err).__name__, "message": str(err),
                   "traceback": traceback.format_exc()}
        res["seconds"] = round(time.perf_counter() - t0, 3)
        res["leaked"] = sorted(set(os.listdir(tmp)) - before)
        answer.write(json.dumps(res).encode() + b"\n")


class Worker:
    """A long-lived worker process; restarted after a crash or a hang."""

    def __init__(self, mode: str, *, ready_timeout_s: float, watchdog_s: float):
        self.mode, self.ready_timeout_s, self.watchdog_s = mode, ready_timeout_s, watchdog_s
        self.tmp = tempfile.mkdtemp(prefix=f"recsys-fuzz-{mode}-")  # the worker's private TMPDIR
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def _start(self) -> None:
        self.stderr = tempfile.TemporaryFile()
        env = dict(os.environ, TMPDIR=self.tmp, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", self.mode], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self._buf = b""
        line = self._readline(self.ready_timeout_s)
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError(f"fuzz worker did not start: {self._stderr_tail()}")

    def _readline(self, timeout_s: float) -> bytes | None:
        """One line from the worker; b"" when it died, None when it said nothing in time."""
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                left = end - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    return b""
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-3000:].decode("utf-8", "replace")

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.restarts += 1

    def run(self, name: str, data: bytes) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.restarts += self.proc is not None  # died between cases
            self._start()
        name_b = name.encode("utf-8")
        try:
            self.proc.stdin.write(struct.pack("<II", len(name_b), len(data)) + name_b + data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            line = b""
        else:
            line = self._readline(self.watchdog_s)
        if line is None:
            tail = self._stderr_tail()
            self._kill()
            return {"outcome": "hang", "type": "hang", "message": f"no answer in {self.watchdog_s:.0f} s",
                    "traceback": tail, "leaked": []}
        if line == b"":
            rc = self.proc.wait()
            tail = self._stderr_tail()
            self.proc = None
            self.restarts += 1
            return {"outcome": "crash", "type": f"crash (exit {rc})", "message": tail[-500:], "traceback": tail,
                    "leaked": []}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker(sys.argv[2])
    sys.exit(0)


# --- seeds -----------------------------------------------------------------------------------

def generated_seeds(folder: Path) -> dict[str, bytes]:
    """{file name: bytes} of small clips, 0.6-1.2 s each (a few kB to ~40 kB)."""
    y = tone(440, seconds=1.0, sr=8000) + 0.1 * tone(1320, seconds=1.0, sr=8000)
    frames = moving_square_frames(n=8, size=(64, 48))
    sound = tone(330, seconds=0.8, sr=48000)
    return {
        "seed.wav": sound_bytes(y, 8000),
        "seed.ogg": sound_bytes(y, 8000, fmt="OGG", subtype="VORBIS"),
        "seed.mp3": mp3_bytes(tone(440, seconds=1.2, sr=22050), 22050),
        "seed.mp4": write_video(folder / "seed.mp4", frames, fps=10, audio=sound, sr=48000).read_bytes(),
        "seed.webm": write_video(folder / "seed.webm", frames, fps=10, audio=sound, sr=48000).read_bytes(),
        "seed.mkv": write_video(folder / "seed.mkv", frames, fps=10).read_bytes(),
        "seed.ts": write_video(folder / "seed.ts", frames, fps=10, audio=sound, sr=48000).read_bytes(),
        "seed.avi": write_video(folder / "seed.avi", frames, fps=10, audio=sound, sr=48000).read_bytes(),
        "seed.flac": sound_bytes(y, 8000, fmt="FLAC"),
    }


# --- mutations -------------------------------------------------------------------------------

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def _pos(p, n: int) -> int:
    """A position drawn as an int (absolute, near the headers) or a float (relative, anywhere)."""
    if n <= 0:
        return 0
    return min(int(p), n - 1) if isinstance(p, int) else min(int(p * n), n - 1)


def mutate(data: bytes, ops, seeds: dict[str, bytes]) -> bytes:
    b = bytearray(data)
    for op in ops:
        kind, n = op[0], len(b)
        if kind == "flip" and n:
            i = _pos(op[1], n)
            b[i] ^= 1 << op[2]
        elif kind == "int" and n:
            i, width, big, value = _pos(op[1], n), op[2], op[3], INTERESTING[op[4]] & ((1 << (8 * op[2])) - 1)
            b[i:i + width] = value.to_bytes(width, "big" if big else "little")
        elif kind == "truncate":
            del b[_pos(op[1], n) if n else 0:]
        elif kind == "delete" and n:
            i = _pos(op[1], n)
            del b[i:i + op[2]]
        elif kind == "duplicate" and n:
            i = _pos(op[1], n)
            b[i:i] = b[i:i + op[2]]
        elif kind == "insert":
            i = _pos(op[1], n + 1) if n else 0
            b[i:i] = op[2]
        elif kind == "splice":
            other = seeds[op[1]]
            j = _pos(op[2], len(other))
            chunk = other[j:j + op[3]]
            i = _pos(op[4], n + 1) if n else 0
            b[i:i + (len(chunk) if op[5] else 0)] = chunk  # overwrite or insert
    return bytes(b)


def operations(seed_names: list[str]):
    pos = st.one_of(st.integers(0, 2047), st.floats(0, 1, exclude_max=True, allow_nan=False))
    op = st.one_of(
        st.tuples(st.just("flip"), pos, st.integers(0, 7)),
        st.tuples(st.just("int"), pos, st.sampled_from([1, 2, 4]), st.booleans(), st.integers(0, len(INTERESTING) - 1)),
        st.tuples(st.just("truncate"), pos),
        st.tuples(st.just("delete"), pos, st.integers(1, 4096)),
        st.tuples(st.just("duplicate"), pos, st.integers(1, 4096)),
        st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=256)),
        st.tuples(st.just("splice"), st.sampled_from(seed_names), pos, st.integers(1, 8192), pos, st.booleans()),
    )
    return st.lists(op, min_size=1, max_size=4)


# --- fixtures --------------------------------------------------------------------------------

# Hypothesis keeps its example database and caches under .cache/ (ignored by git), not ./.hypothesis.
set_hypothesis_home_dir(str(cache_dir() / "hypothesis"))
_DB = DirectoryBasedExampleDatabase(str(cache_dir() / "hypothesis" / "examples"))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    return generated_seeds(tmp_path_factory.mktemp("seeds"))


@pytest.fixture(scope="module")
def shared_seeds() -> dict[str, bytes]:
    present = {Path(p).name: (SHARED_MEDIA_DIR / p).read_bytes() for p in SHARED_SEEDS
               if (SHARED_MEDIA_DIR / p).is_file()}
    if not present:
        pytest.skip(f"shared media folder {SHARED_MEDIA_DIR} is absent: no real files to mutate")
    return present


class Tally:
    """Counts outcomes of one fuzz test and prints a summary line at the end."""

    def __init__(self, request, label: str):
        self.request, self.label, self.counts, self.n, self.t0 = request, label, collections.Counter(), 0, time.time()
        self.max_s = 0.0

    def add(self, res: dict) -> None:
        self.n += 1
        self.counts[res["type"]] += 1
        self.max_s = max(self.max_s, float(res.get("seconds", 0.0)))

    def assert_ran(self, wanted: int) -> None:
        """Hypothesis runs ``max_examples`` generated cases when none fails (plus any replayed
        from the example database): fewer means cases were silently dropped (filtered, too large)."""
        assert self.n >= wanted, f"{self.label}: only {self.n} of {wanted} fuzz cases ran"

    def report(self, worker: Worker) -> None:
        top = ", ".join(f"{k} {v}" for k, v in self.counts.most_common())
        line = (f"{self.label}: {self.n} fuzz cases in {time.time() - self.t0:.0f} s (slowest {self.max_s:.2f} s, "
                f"worker restarts {worker.restarts}): {top}")
        capman = self.request.config.pluginmanager.getplugin("capturemanager")
        if capman is None:
            print(line)
            return
        with capman.global_and_fixture_disabled():  # shown even without -s
            print(f"\n{line}", flush=True)


def _check(res: dict, name: str, blob: bytes) -> None:
    detail = f"{name} ({len(blob)} bytes): {res.get('type')}: {res.get('message', '')}\n{res.get('traceback', '')}"
    assert res["outcome"] in ("ok", "typed"), detail
    assert not res["leaked"], f"temp files left behind: {res['leaked']} by {detail}"
    if res["outcome"] == "typed":
        msg = res["message"]
        assert msg and "\n" not in msg and "Traceback" not in msg, detail


def _fuzz(worker: Worker, tally: Tally, pool: dict[str, bytes], splice_pool: dict[str, bytes], data) -> None:
    name = data.draw(st.sampled_from(sorted(pool)), label="seed")
    ops = data.draw(operations(sorted(splice_pool)), label="mutations")
    blob = mutate(pool[name], ops, splice_pool)
    res = worker.run(name, blob)
    tally.add(res)
    _check(res, name, blob)


# --- the tests -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def decode_worker():
    w = Worker("decode", ready_timeout_s=60, watchdog_s=WATCHDOG_S)
    yield w
    w.close()


def test_seeds_decode_cleanly(seeds, decode_worker):
    """The unmutated seeds are good clips: what the fuzzer breaks starts out working."""
    for name, blob in seeds.items():
        res = decode_worker.run(name, blob)
        assert res["outcome"] == "ok", (name, res)


def test_decode_survives_mutated_media(seeds, decode_worker, request):
    tally = Tally(request, "decode, generated seeds")

    @settings(max_examples=N_DECODE, deadline=None, database=_DB, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def fuzz(data):
        _fuzz(decode_worker, tally, seeds, seeds, data)

    try:
        fuzz()
    finally:
        tally.report(decode_worker)
    tally.assert_ran(N_DECODE)


def test_decode_survives_mutated_shared_media(shared_seeds, seeds, decode_worker, request):
    tally = Tally(request, "decode, shared media seeds")
    pool = {**seeds, **shared_seeds}

    @settings(max_examples=N_SHARED, deadline=None, database=_DB, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def fuzz(data):
        _fuzz(decode_worker, tally, shared_seeds, pool, data)

    try:
        fuzz()
    finally:
        tally.report(decode_worker)
    tally.assert_ran(N_SHARED)


@pytest.mark.slow
def test_analysis_survives_mutated_media(seeds, request):
    worker = Worker("analyze", ready_timeout_s=600, watchdog_s=300)
    tally = Tally(request, "Analyzer.analyze, generated seeds")

    @settings(max_examples=N_ANALYSIS, deadline=None, database=_DB, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def fuzz(data):
        _fuzz(worker, tally, seeds, seeds, data)

    try:
        fuzz()
    finally:
        tally.report(worker)
        worker.close()
    tally.assert_ran(N_ANALYSIS)
