"""Concurrent browser sessions against the app: upload -> recommendations, with cross-talk checks.

Starts ``streamlit run app.py`` on a free 127.0.0.1 port (or uses ``--url``, localhost only),
then for each round opens N isolated browser sessions at once (one Debian chromium, one
Playwright context per session: separate cookies, storage and Streamlit session), and every
session uploads a *different* real clip on the Discover page at the same moment. The server
therefore decodes, analyses and ranks N clips concurrently, in N Streamlit sessions that share
one service (catalog, models, encoders).

Per session it measures upload -> first recommendation card with its player on screen (the time
is taken in the page itself, by a MutationObserver, so it does not depend on the order in which
this script looks at the pages), and checks, once the page is idle:

* no ``stException`` and no error alert;
* the header is the session's own upload title and the status says ``Analysed <its file>``;
* the analysis is of its own kind of clip (a frame strip for a video, none for an audio clip);
* none of the other sessions' upload titles appears anywhere on the page (hidden parts included);
* at least 5 recommendation cards.

Every clip is uploaded under a file name that carries a token (``load03-...``), which becomes its
title. Round r gives session i clip ``(i + r - 1) % N``, so each round uses fresh sessions and
other pairings, and from round 2 on the top-10 ranking shown for a clip must equal the one shown
for the same clip in round 1 (same bytes, same title, default weights): another session's state
leaking into the ranking would change it. Round 1 is cold (the first uploads of a fresh server,
models possibly still loading in the warm-up thread); later rounds are warm.

Every wait is bounded by ``--session-timeout`` and by the overall ``--timeout``; every failure is
counted and reported with a one-line reason. Reports: a table on stdout, progress on stderr,
``reports/load_sessions.json`` and ``reports/load_sessions.md`` (``--out ''`` writes none).
Exit code: 0 when every session succeeded, 1 when some failed, 2 when the run could not start.

Usage::

    python benchmarks/load_sessions.py [--sessions 8] [--rounds 2] [--timeout 300]
        [--session-timeout 180] [--clips FILE ...] [--url http://127.0.0.1:8501] [--out reports]
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent

from benchmarks.app_latency import (  # noqa: E402
    CHROMIUM,
    FIRST_CARD,
    IDLE,
    AppServer,
    launch_browser,
    make_clip,
    wait_idle,
)

MAX_SESSIONS = 16
MAX_ROUNDS = 5
MIN_CARDS = 5
AUDIO_EXT = {".mp3", ".ogg", ".wav", ".flac", ".m4a", ".opus", ".aac"}
VIDEO_EXT = {".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v"}
FIRST_CARD_PLAYER = f"{FIRST_CARD} [data-testid='stAudio'], {FIRST_CARD} [data-testid='stVideo']"
ERROR_ALERT = "[data-testid='stMain'] [data-testid='stAlertContentError']"
EXCEPTION = "[data-testid='stException']"
UPLOADER = "[data-testid='stFileUploaderDropzoneInput']"
# A page is usable when its run is idle with the uploader on screen; it has failed when it shows
# an exception, or an error alert once idle (e.g. the catalog could not be loaded).
_USABLE_JS = """([idle, uploader, exception, error]) => {
  if (document.querySelector(exception)) return 'failed';
  if (!document.querySelector(idle)) return false;
  if (document.querySelector(uploader)) return 'usable';
  return document.querySelector(error) ? 'failed' : false;
}"""

# Installed in each page before its upload: records (Date.now()) when the first card's player is
# laid out, or when an exception / error alert shows, whichever comes first.
_WATCH_JS = """([player, error, exception]) => {
  window.__loadFirstCard = null; window.__loadFailure = null;
  const look = () => {
    if (window.__loadFirstCard || window.__loadFailure) return true;
    const p = document.querySelector(player);
    if (p && p.getBoundingClientRect().height > 0) { window.__loadFirstCard = Date.now(); return true; }
    const f = document.querySelector(exception) || document.querySelector(error);
    if (f) { window.__loadFailure = (f.innerText || f.textContent || 'error').split('\\n')[0].slice(0, 200); return true; }
    return false;
  };
  const obs = new MutationObserver(() => { if (look()) obs.disconnect(); });
  obs.observe(document.body, {childList: true, subtree: true, attributes: true});
  const timer = setInterval(() => { if (look()) clearInterval(timer); }, 100);
}"""


class LoadError(Exception):
    """The run could not start (bad option, no browser, server did not come up)."""


@dataclass
class Clip:
    source: Path
    kind: str            # "audio" | "video"
    index: int           # its number in this run (the token)

    @property
    def upload_name(self) -> str:
        """The file name the browser uploads: a token, then the source's stem (no underscores,
        so the title the app derives from it is the same string)."""
        stem = self.source.stem.replace("_", "-").replace(" ", "-")
        return f"{token(self.index)}-{stem}{self.source.suffix.lower()}"

    @property
    def title(self) -> str:
        return Path(self.upload_name).stem


@dataclass
class SessionResult:
    round: int
    session: int
    clip: str
    kind: str
    title: str
    ok: bool = False
    open_s: float | None = None          # new session -> Discover page usable
    latency_s: float | None = None       # upload -> first recommendation card with its player
    cards: int = 0
    ranking: list[str] = field(default_factory=list)
    error: str | None = None


def token(index: int) -> str:
    return f"load{index:02d}"


def check_localhost(url: str) -> str:
    """Return ``url`` without a trailing slash when its host is this machine, else raise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadError(f"--url must be http(s)://HOST:PORT, got {url!r}")
    host = parts.hostname
    local = host == "localhost"
    if not local:
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
    if not local:
        raise LoadError(f"refusing to load a non-local server ({host}): only localhost / 127.0.0.1 / ::1")
    return url.rstrip("/")


def pick_clips(n: int, tmp: Path, given: list[Path] | None = None) -> list[Clip]:
    """``n`` different real clips: ``given``, else the embedded sample catalog (audio and video
    alternating, spread over the catalog), else the shared media folder, else generated ones."""
    def kind_of(p: Path) -> str | None:
        ext = p.suffix.lower()
        return "audio" if ext in AUDIO_EXT else "video" if ext in VIDEO_EXT else None

    if given:
        if len(given) < n:
            raise LoadError(f"{n} sessions need {n} different clips, --clips gave {len(given)}")
        chosen = []
        for p in given[:n]:
            if not p.is_file() or kind_of(p) is None:
                raise LoadError(f"not a clip file: {p}")
            chosen.append(p)
    else:
        chosen = []
        for root in (REPO_ROOT / "sample_data", REPO_ROOT.parent / "shared" / "media"):
            files = sorted(p for p in root.rglob("*") if p.is_file() and kind_of(p)) if root.is_dir() else []
            audio = [p for p in files if kind_of(p) == "audio"]
            video = [p for p in files if kind_of(p) == "video"]
            if len(audio) + len(video) < n:
                continue
            n_video = min(len(video), n // 2)
            n_audio = min(len(audio), n - n_video)
            n_video = n - n_audio
            spread = lambda xs, k: [xs[(2 * j + 1) * len(xs) // (2 * k)] for j in range(k)] if k else []  # noqa: E731
            a, v = spread(audio, n_audio), spread(video, n_video)
            chosen = [x for pair in zip(a, v) for x in pair] + a[len(v):] + v[len(a):]
            break
        if not chosen:
            chosen = [make_clip(tmp / f"generated-{i}.mp4", seconds=6 + i, size=(320 + 16 * i, 180))
                      for i in range(n)]
    if len({p.resolve() for p in chosen}) != len(chosen):
        raise LoadError("the clips must be different files")
    return [Clip(source=p, kind=kind_of(p), index=i) for i, p in enumerate(chosen)]


def check_page(*, own: Clip, others: list[Clip], main_text: str, header: str | None, exceptions: list[str],
               errors: list[str], has_frames: bool, cards: int) -> str | None:
    """One-line reason why a session's finished page is wrong, or None when it is right."""
    if exceptions:
        return f"stException: {exceptions[0].splitlines()[0][:200] if exceptions[0] else '(empty)'}"
    if errors:
        return f"error shown: {errors[0].splitlines()[0][:200] if errors[0] else '(empty)'}"
    leaked = sorted({token(o.index) for o in others if token(o.index) in main_text})
    if leaked:
        return f"cross-talk: the page shows other sessions' uploads {', '.join(leaked)}"
    if header is None or header.strip() != own.title:
        return f"cross-talk: header is {header!r}, expected {own.title!r}"
    if f"Analysed {own.upload_name}" not in main_text:
        return f"cross-talk: no 'Analysed {own.upload_name}' status on the page"
    if has_frames != (own.kind == "video"):
        return f"cross-talk: the analysis {'shows' if has_frames else 'lacks'} a frame strip for a {own.kind} clip"
    if cards < MIN_CARDS:
        return f"only {cards} recommendation cards (expected >= {MIN_CARDS})"
    return None


def wait_usable(page, *, timeout_ms: float) -> None:
    """Wait until a freshly opened page is idle with the uploader on screen; raise at once with
    the page's own message when it shows an exception or an error instead."""
    handle = page.wait_for_function(_USABLE_JS, arg=[IDLE, UPLOADER, EXCEPTION, ERROR_ALERT],
                                    timeout=timeout_ms, polling=200)
    if handle.json_value() == "failed":
        shown = (page.locator(f"{EXCEPTION}, {ERROR_ALERT}").first.text_content(timeout=5_000) or "").strip()
        lines = [ln for ln in shown.splitlines() if ln.strip()]
        raise RuntimeError(f"the page shows an error: {' / '.join(lines[:2])[:300] if lines else '(empty)'}")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200] if text else ''}"


class _Clock:
    def __init__(self, timeout_s: float):
        self.end = time.monotonic() + timeout_s

    def left_ms(self, cap_s: float | None = None) -> float:
        left = self.end - time.monotonic()
        if cap_s is not None:
            left = min(left, cap_s)
        return max(1.0, 1000 * left)

    def expired(self) -> bool:
        return time.monotonic() >= self.end


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_round(browser, url: str, clips: list[Clip], rnd: int, *, clock: _Clock, session_timeout: float,
              log=_log) -> tuple[list[SessionResult], float]:
    """One round: open ``len(clips)`` sessions at once, upload a different clip in each at the
    same moment, wait for all, check each. Returns the results and the round's wall time."""
    n = len(clips)
    t_round = time.perf_counter()
    assign = [clips[(i + rnd - 1) % n] for i in range(n)]
    results = [SessionResult(round=rnd, session=i, clip=c.source.name, kind=c.kind, title=c.title)
               for i, c in enumerate(assign)]
    contexts, pages = [None] * n, [None] * n
    started: list[float | None] = [None] * n

    def fail(i: int, reason: str) -> None:
        if results[i].error is None:
            results[i].error = reason
            log(f"  round {rnd} session {i} ({assign[i].upload_name}): FAILED {reason}")

    try:
        # 1. Open every session without waiting, so the server starts them concurrently.
        for i in range(n):
            try:
                contexts[i] = browser.new_context(viewport={"width": 1280, "height": 1000})
                pages[i] = contexts[i].new_page()
                started[i] = time.perf_counter()
                pages[i].goto(url, wait_until="commit", timeout=clock.left_ms(session_timeout))
            except Exception as err:  # noqa: BLE001 -- counted, never raised
                fail(i, f"open: {_first_line(err)}")
        # 2. Wait until each Discover page is usable (idle, uploader on screen).
        for i in range(n):
            if results[i].error:
                continue
            try:
                wait_usable(pages[i], timeout_ms=clock.left_ms(started[i] + session_timeout - time.perf_counter()))
                results[i].open_s = round(time.perf_counter() - started[i], 3)
            except Exception as err:  # noqa: BLE001
                fail(i, f"page not usable: {_first_line(err)}")
        # 3. Upload in every session, back to back.
        t0: list[float | None] = [None] * n
        for i in range(n):
            if results[i].error:
                continue
            try:
                pages[i].evaluate(_WATCH_JS, [FIRST_CARD_PLAYER, ERROR_ALERT, EXCEPTION])
                t0[i] = time.time()
                pages[i].locator(UPLOADER).set_input_files(
                    files=[{"name": assign[i].upload_name, "mimeType": _mime(assign[i]),
                            "buffer": assign[i].source.read_bytes()}],
                    timeout=clock.left_ms(session_timeout))
            except Exception as err:  # noqa: BLE001
                fail(i, f"upload: {_first_line(err)}")
        log(f"  round {rnd}: {sum(t is not None and not r.error for t, r in zip(t0, results))} uploads sent")
        # 4. Wait for each first card (or a failure the page shows), then for the run to finish.
        for i in range(n):
            if results[i].error:
                continue
            page = pages[i]
            try:
                page.wait_for_function("() => window.__loadFirstCard || window.__loadFailure",
                                       timeout=clock.left_ms(t0[i] + session_timeout - time.time()), polling=100)
                first, failure = page.evaluate("() => [window.__loadFirstCard, window.__loadFailure]")
                if failure and not first:
                    fail(i, f"page shows an error before any card: {failure}")
                    continue
                results[i].latency_s = round(first / 1000 - t0[i], 3)
                wait_idle(page, timeout_ms=clock.left_ms(t0[i] + session_timeout - time.time()), started_ms=1)
            except Exception as err:  # noqa: BLE001
                fail(i, f"no recommendation card within the time limit ({_first_line(err)})")
                continue
        # 5. Check every finished page.
        for i in range(n):
            if results[i].error:
                continue
            page = pages[i]
            try:
                main = page.locator("[data-testid='stMain']")
                cards = page.locator("[class*='st-key-discover-card-']")
                results[i].cards = cards.count()
                results[i].ranking = [
                    page.locator(f".st-key-discover-card-{k}").inner_text(timeout=10_000).strip().splitlines()[0]
                    for k in range(results[i].cards)]
                h2 = main.locator("h2")
                reason = check_page(
                    own=assign[i], others=[c for c in assign if c is not assign[i]],
                    main_text=main.text_content(timeout=10_000) or "",
                    header=h2.first.inner_text(timeout=10_000) if h2.count() else None,
                    exceptions=[e.text_content() or "" for e in page.locator(EXCEPTION).all()],
                    errors=[e.text_content() or "" for e in page.locator(ERROR_ALERT).all()],
                    has_frames=page.get_by_text("sampled frames at", exact=False).count() > 0,
                    cards=results[i].cards)
                if reason:
                    fail(i, reason)
                else:
                    results[i].ok = True
            except Exception as err:  # noqa: BLE001
                fail(i, f"check: {_first_line(err)}")
    finally:
        for ctx in contexts:
            if ctx is not None:
                try:
                    ctx.close()
                except Exception:  # noqa: BLE001 -- the browser may be gone already
                    pass
    return results, time.perf_counter() - t_round


def _mime(clip: Clip) -> str:
    ext = clip.source.suffix.lower().lstrip(".")
    return {"mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav", "flac": "audio/flac", "m4a": "audio/mp4",
            "mp4": "video/mp4", "webm": "video/webm", "mkv": "video/x-matroska", "mov": "video/quicktime"}.get(
        ext, f"{clip.kind}/{ext}")


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarise(results: list[SessionResult], wall_s: float) -> dict:
    lat = [r.latency_s for r in results if r.ok and r.latency_s is not None]
    opens = [r.open_s for r in results if r.open_s is not None]
    r3 = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return {"sessions": len(results), "ok": sum(r.ok for r in results), "errors": sum(not r.ok for r in results),
            "latency_p50_s": r3(percentile(lat, 50)), "latency_p95_s": r3(percentile(lat, 95)),
            "latency_max_s": r3(max(lat) if lat else None), "latency_min_s": r3(min(lat) if lat else None),
            "open_p50_s": r3(percentile(opens, 50)), "wall_s": round(wall_s, 2),
            "error_reasons": [f"session {r.session} ({r.title}): {r.error}" for r in results if not r.ok]}


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_load(*, sessions: int = 8, rounds: int = 2, timeout: float = 300.0, session_timeout: float = 180.0,
             clips: list[Path] | None = None, url: str | None = None, log=_log) -> dict:
    """Run the whole load test; returns the report dict (see the module docstring).

    Raises :class:`LoadError` when it cannot start; session failures are in the report.
    """
    if not 1 <= sessions <= MAX_SESSIONS:
        raise LoadError(f"--sessions must be 1..{MAX_SESSIONS}, got {sessions}")
    if not 1 <= rounds <= MAX_ROUNDS:
        raise LoadError(f"--rounds must be 1..{MAX_ROUNDS}, got {rounds}")
    if timeout <= 0 or session_timeout <= 0:
        raise LoadError("timeouts must be positive")
    if url is not None:
        url = check_localhost(url)
    if not Path(CHROMIUM).exists():
        raise LoadError(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise LoadError(f"playwright is not installed ({err})") from err

    clock = _Clock(timeout)
    t_all = time.perf_counter()
    report: dict = {"sessions": sessions, "rounds": rounds, "timeout_s": timeout, "session_timeout_s": session_timeout,
                    "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                                "python": platform.python_version(), "loadavg_start": _loadavg()},
                    "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    tmp = Path(tempfile.mkdtemp(prefix="recsys-load-"))
    server = None
    try:
        chosen = pick_clips(sessions, tmp, clips)
        report["clips"] = [{"token": token(c.index), "file": str(c.source), "kind": c.kind,
                            "bytes": c.source.stat().st_size} for c in chosen]
        if url is None:
            server = AppServer(log_path=tmp / "streamlit.log")
            try:
                report["server_start_s"] = round(server.start(timeout=clock.left_ms() / 1000), 2)
            except (RuntimeError, TimeoutError) as err:
                raise LoadError(f"the app did not start: {str(err).splitlines()[0]}") from err
            url = server.url
        report["url"] = url
        with sync_playwright() as pw:
            browser = launch_browser(pw)
            try:
                # The first page of a fresh server loads the catalog and fits the recommender
                # (builds the sample catalog when missing): not part of the rounds.
                t0 = time.perf_counter()
                try:
                    ctx = browser.new_context()
                    page = ctx.new_page()
                    page.goto(url, timeout=clock.left_ms())
                    wait_usable(page, timeout_ms=clock.left_ms())
                    ctx.close()
                except Exception as err:  # noqa: BLE001
                    raise LoadError(f"the app's first page did not load: {_first_line(err)}"
                                    + (f"; server log: {server.log_tail(300)!r}" if server else "")) from err
                report["first_page_usable_s"] = round(time.perf_counter() - t0, 2)
                log(f"app usable at {url} ({report['first_page_usable_s']} s); {sessions} sessions x {rounds} rounds")
                all_results: list[SessionResult] = []
                report["rounds_summary"] = []
                for rnd in range(1, rounds + 1):
                    if clock.expired():
                        log(f"round {rnd}: skipped, the overall time limit ({timeout:g} s) is spent")
                        skipped = [SessionResult(round=rnd, session=i, clip=c.source.name, kind=c.kind,
                                                 title=c.title, error="not run: overall time limit spent")
                                   for i, c in enumerate(chosen)]
                        all_results += skipped
                        report["rounds_summary"].append({"round": rnd, **summarise(skipped, 0.0),
                                                         "loadavg_end": _loadavg()})
                        continue
                    log(f"round {rnd} ({'cold' if rnd == 1 else 'warm'}): {sessions} sessions")
                    res, wall = run_round(browser, url, chosen, rnd, clock=clock, session_timeout=session_timeout,
                                          log=log)
                    all_results += res
                    summ = {"round": rnd, **summarise(res, wall), "loadavg_end": _loadavg()}
                    report["rounds_summary"].append(summ)
                    log(f"round {rnd}: {summ['ok']}/{summ['sessions']} ok, p50 {summ['latency_p50_s']} s, "
                        f"p95 {summ['latency_p95_s']} s, wall {summ['wall_s']} s, load {summ['loadavg_end']}")
                _check_rankings(all_results, log)
                for s in report["rounds_summary"]:  # ranking mismatches found after the round
                    s.update({k: v for k, v in summarise([r for r in all_results if r.round == s["round"]],
                                                         s["wall_s"]).items() if k != "wall_s"})
            finally:
                browser.close()
        report["results"] = [asdict(r) for r in all_results]
        report["errors"] = sum(not r.ok for r in all_results)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report["machine"]["loadavg_end"] = _loadavg()
    report["wall_s"] = round(time.perf_counter() - t_all, 2)
    return report


def _check_rankings(results: list[SessionResult], log=_log) -> None:
    """From round 2 on, a clip's top-10 must be the one it got in round 1."""
    first = {r.title: r.ranking for r in results if r.round == 1 and r.ok}
    for r in results:
        if r.round > 1 and r.ok and r.title in first and r.ranking != first[r.title]:
            r.ok = False
            diff = next((k for k, (a, b) in enumerate(zip(r.ranking, first[r.title])) if a != b),
                        min(len(r.ranking), len(first[r.title])))
            r.error = (f"cross-talk: ranking for {r.title} differs from round 1 at rank {diff + 1} "
                       f"({len(r.ranking)} vs {len(first[r.title])} cards)")
            log(f"  round {r.round} session {r.session}: FAILED {r.error}")


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# Concurrent sessions: {report['sessions']} sessions x {report['rounds']} rounds",
             "",
             f"Run of {report['started_utc']} UTC against {report.get('url')}; {m['cpu_count']} CPUs, load average "
             f"{m['loadavg_start']} at start, {m.get('loadavg_end')} at end; wall {report.get('wall_s')} s; "
             f"server start {report.get('server_start_s', 'n/a')} s, first page usable "
             f"{report.get('first_page_usable_s')} s.",
             "",
             "Latency: upload -> first recommendation card with its player on screen, per session, all sessions "
             "uploading at the same moment (percentiles by linear interpolation).",
             "",
             "| round | sessions | ok | errors | p50 s | p95 s | max s | min s | open p50 s | wall s | load avg at end |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in report.get("rounds_summary", []):
        lines.append(f"| {s['round']}{' (cold)' if s['round'] == 1 else ' (warm)'} | {s['sessions']} | {s['ok']} | "
                     f"{s['errors']} | {s['latency_p50_s']} | {s['latency_p95_s']} | {s['latency_max_s']} | "
                     f"{s['latency_min_s']} | {s['open_p50_s']} | {s['wall_s']} | {s['loadavg_end']} |")
    lines += ["", "| round | session | clip | kind | ok | open s | upload -> first card s | cards | error |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in report.get("results", []):
        lines.append(f"| {r['round']} | {r['session']} | {r['title']} | {r['kind']} | {'yes' if r['ok'] else 'NO'} | "
                     f"{r['open_s']} | {r['latency_s']} | {r['cards']} | {(r['error'] or '').replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8, help=f"concurrent browser sessions (1..{MAX_SESSIONS})")
    ap.add_argument("--rounds", type=int, default=2, help=f"rounds of fresh sessions (1..{MAX_ROUNDS}); 1 is cold")
    ap.add_argument("--timeout", type=float, default=300.0, help="overall wall-clock limit, seconds (server start "
                    "included; give more when the sample catalog must be built first)")
    ap.add_argument("--session-timeout", type=float, default=180.0, help="limit per session and step, seconds")
    ap.add_argument("--clips", type=Path, nargs="+", help="clips to upload (one per session; default: the sample "
                    "catalog's, audio and video alternating)")
    ap.add_argument("--url", help="use a running app on this machine (localhost only) instead of starting one")
    ap.add_argument("--out", default=str(REPO_ROOT / "reports"), help="report folder ('' writes none)")
    args = ap.parse_args(argv)
    try:
        report = run_load(sessions=args.sessions, rounds=args.rounds, timeout=args.timeout,
                          session_timeout=args.session_timeout, clips=args.clips, url=args.url)
    except LoadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    md = markdown(report)
    print(md)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "load_sessions.json").write_text(json.dumps(report, indent=1) + "\n")
        (out / "load_sessions.md").write_text(md)
        print(f"wrote {out / 'load_sessions.json'} and {out / 'load_sessions.md'}", file=sys.stderr)
    return 0 if report.get("errors", 1) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
