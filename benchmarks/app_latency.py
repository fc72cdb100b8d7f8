"""App latency, measured in a real browser (Debian chromium driven by Playwright).

Measures, against ``streamlit run app.py`` on a free localhost port:

* cold start: server process start -> first page usable (catalog loaded, hybrid fitted, the
  Discover page idle with its uploader on screen); the first page also starts the app's warm-up
  thread (encoders, UMAP, card pictures, the Tune validator, see ``ui/cache.py``);
* warm-up: server process start -> the warm-up thread's ``recsys warm-up: done`` in the
  server log, with each step's time as the log gives it;
* warm start: a new browser session on the running, warmed-up server -> first page usable;
* first upload after a warm start (the issue's "<= 5 s for a 30 s clip"): the server's first
  upload ever, in a new session, once the warm-up is done: a 30 s clip set on the uploader ->
  the first recommendation card with its player on screen;
* upload -> first recommendations: the same for the uploads after it, each in a new session;
  every upload also reports the analysis time the page shows ("Analysed … in N s") and when
  the server started the run (the rest is the page: ranking, cards, pictures, the browser);
* with ``--during-warmup``, on a second server: an upload as soon as the first page is usable,
  while the warm-up still runs (what a visitor gets who uploads right after a cold start);
* slider -> re-ranked cards: one key press on a Tune weight slider -> the ranking text changed.

Usage::

    python benchmarks/app_latency.py [--clip FILE] [--repeat 3] [--during-warmup] [--json out.json]

Without ``--clip`` a 30 s 640x360 H.264/AAC clip is generated. ``RECSYS_CATALOG_DIR`` picks the
catalog as for the app. The helpers here (``AppServer``, ``launch_browser``, ``wait_idle``) are
shared with ``tests/test_e2e_browser.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``streamlit run app.py`` in its own process group; ``stop()`` ends the whole group."""

    def __init__(self, *, port: int | None = None, env: dict[str, str] | None = None,
                 log_path: Path | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"recsys-app-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self._data_dir: tempfile.TemporaryDirectory | None = None
        sample = REPO_ROOT / "data" / "catalogs" / "sample"
        if "RECSYS_DATA_DIR" not in self.env and (sample / "items.parquet").is_file():
            # Likes and added clips of a test or benchmark go to a throwaway store, not the
            # developer's data/; the built sample catalog is read where it is.
            self._data_dir = tempfile.TemporaryDirectory(prefix="recsys-app-data-")
            self.env["RECSYS_DATA_DIR"] = self._data_dir.name
            self.env.setdefault("RECSYS_CATALOG_DIR", str(sample))

    def start(self, timeout: float = 300.0) -> float:
        """Start the server; returns seconds until ``/_stcore/health`` answered ok."""
        t0 = time.perf_counter()
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
             f"--server.port={self.port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
             "--server.fileWatcherType=none", "--server.runOnSave=false"],
            cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200 and r.read().strip() == b"ok":
                        return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            self._stop_process()
        finally:
            if self._data_dir is not None:
                self._data_dir.cleanup()
                self._data_dir = None

    def _stop_process(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)

    def __enter__(self) -> AppServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def wait_idle(page, *, timeout_ms: float = 120_000, started_ms: float = 1500) -> None:
    """Wait until the script run started by the last action has finished.

    A rerun can start a moment after the action, so first wait (briefly) to see it running.
    """
    try:
        page.wait_for_selector(RUNNING, timeout=started_ms, state="attached")
    except Exception:  # noqa: BLE001 -- a fast rerun may be over before we look
        pass
    page.wait_for_selector(IDLE, timeout=timeout_ms, state="attached")


def open_page(browser, url: str, *, timeout_ms: float = 300_000, viewport=(1400, 1000)):
    """A new browser session on ``url``; returns (context, page) once the first page's title is
    drawn and its run is idle."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.goto(url, timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout_ms)
    page.wait_for_selector(IDLE, timeout=timeout_ms, state="attached")
    return context, page


def goto_page(page, title: str, *, timeout_ms: float = 300_000) -> None:
    """Click a page in the sidebar navigation; wait for its title, then for its run to finish."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    page.wait_for_selector(f"[data-testid='stMain'] h1:has-text('{title}')", timeout=timeout_ms)
    page.wait_for_selector(IDLE, timeout=timeout_ms, state="attached")


def wait_charts(page, *, timeout_ms: float = 30_000) -> None:
    """Wait until every Plotly chart on the page has drawn its SVG."""
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stPlotlyChart']\")]"
        ".every(el => el.querySelector('.main-svg'))", timeout=timeout_ms)


def save_screenshot(page, path: Path, *, width: int = 1100, colors: int = 160) -> Path:
    """A small PNG of the visible page: downscaled to ``width`` px and palette-quantised."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img = img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    return path


def make_clip(path: Path, *, seconds: float = 30.0, size=(640, 360), fps: int = 25) -> Path:
    """A clip with moving colour fields and a chord (H.264/AAC in MP4) for upload tests."""
    import numpy as np

    from benchmarks.av_writer import write_av
    from benchmarks.factories import tone

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    frames = (np.stack([(127 + 120 * np.sin(xx / 40 + t)), (127 + 120 * np.sin(yy / 30 - 0.7 * t)),
                        np.full_like(xx, 90 + 60 * np.sin(t / 3), dtype=float)], -1).astype(np.uint8)
              for t in np.arange(int(seconds * fps)) / fps)
    sr = 48000
    t = np.arange(int(round(seconds * sr))) / sr
    chord = (sum(tone(f, seconds=seconds, sr=sr, amp=0.2) for f in (220, 277, 330))
             * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    write_av(str(path), frames=frames, fps=fps, video_options={"preset": "ultrafast", "crf": "30"}, audio=chord, sr=sr)
    return path


# --- measurements ----------------------------------------------------------------------------

FIRST_CARD = ".st-key-discover-card-0"


def upload_to_recommendations(browser, url: str, clip: Path, *, timeout_ms: float = 300_000) -> float:
    """Seconds from setting the file on the uploader to the first card with its player on screen."""
    return upload_breakdown(browser, url, clip, timeout_ms=timeout_ms)["total_s"]


def upload_breakdown(browser, url: str, clip: Path, *, timeout_ms: float = 300_000) -> dict:
    """One upload in a new session: ``total_s`` from setting the file on the uploader to the first
    card with its player on screen; ``run_started_s`` when the page's script run began (the file
    sent, the rerun started); ``analysis_s`` the analysis time the page reports."""
    import re

    context, page = open_page(browser, url)
    try:
        t0 = time.perf_counter()
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(clip))
        page.wait_for_selector(RUNNING, timeout=timeout_ms, state="attached")
        started = time.perf_counter() - t0
        page.wait_for_selector(f"{FIRST_CARD} [data-testid='stAudio'], {FIRST_CARD} [data-testid='stVideo']",
                               timeout=timeout_ms, state="visible")
        total = time.perf_counter() - t0
        label = page.locator("[data-testid='stMain']").inner_text()
        found = re.search(r"Analysed .+? in ([0-9.]+) s", label)
        return {"total_s": round(total, 3), "run_started_s": round(started, 3),
                "analysis_s": float(found.group(1)) if found else None}
    finally:
        context.close()


def warmup_steps(server: AppServer) -> dict[str, float]:
    """The app's warm-up steps finished so far, from the server log: ``{"encoders": 3.1, ...,
    "done": 20.4}`` (seconds, as the log gives them)."""
    import re

    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"recsys warm-up: (\w+) (?:ready )?in ([0-9.]+) s", server.log_tail(200_000))}


def wait_warmup(server: AppServer, *, timeout_s: float = 900.0) -> dict[str, float]:
    """Wait for the app's ``recsys warm-up: done`` in the server log; returns :func:`warmup_steps`."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        steps = warmup_steps(server)
        if "done" in steps:
            return steps
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {server.log_tail()}")
        time.sleep(0.5)
    raise TimeoutError(f"no 'recsys warm-up: done' in the server log within {timeout_s:.0f} s")


def ranking_text(page) -> str:
    return page.locator(".st-key-tune-ranking").inner_text()


def slider_to_rerank(page, *, label: str, key: str, timeout_ms: float = 30_000) -> float:
    """Seconds from one key press on a Tune slider to the ranking text changing."""
    before = ranking_text(page)
    thumb = page.locator(f"[data-testid='stSlider'] input[type='range'][aria-label='{label}']")
    thumb.focus()
    t0 = time.perf_counter()
    thumb.press(key)
    page.wait_for_function(
        "([sel, before]) => { const el = document.querySelector(sel); return el && el.innerText !== before; }",
        arg=[".st-key-tune-ranking", before], timeout=timeout_ms, polling="raf")
    elapsed = time.perf_counter() - t0
    wait_idle(page)
    return elapsed


def first_usable(browser, url: str) -> float:
    t0 = time.perf_counter()
    context, page = open_page(browser, url)
    page.wait_for_selector("[data-testid='stFileUploaderDropzoneInput']", state="attached", timeout=300_000)
    elapsed = time.perf_counter() - t0
    context.close()
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", type=Path, help="clip to upload (default: a generated 30 s H.264/AAC clip)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--during-warmup", action="store_true",
                    help="also start a second server and upload as soon as its first page is usable")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} is missing (apt-get install -y chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or make_clip(Path(tmp) / "bench_30s.mp4")
        results: dict = {"clip": str(args.clip or "generated 30 s 640x360 H.264/AAC"), "cpu_count": os.cpu_count(),
                         "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
        server = AppServer()
        with sync_playwright() as pw:
            browser = launch_browser(pw)
            try:
                t0 = time.perf_counter()
                server.start()
                first_usable(browser, server.url)
                results["cold_start_to_usable_s"] = round(time.perf_counter() - t0, 3)
                steps = wait_warmup(server)
                results["warmup_done_s"] = round(time.perf_counter() - t0, 3)
                results["warmup_steps_s"] = steps
                results["warm_start_to_usable_s"] = [round(first_usable(browser, server.url), 3)
                                                     for _ in range(args.repeat)]
                first = upload_breakdown(browser, server.url, clip)
                results["first_upload_s"] = first["total_s"]
                uploads = [upload_breakdown(browser, server.url, clip) for _ in range(args.repeat)]
                results["upload_to_recommendations_s"] = [u["total_s"] for u in uploads]
                results["uploads_detail"] = [first, *uploads]
                context, page = open_page(browser, server.url)
                goto_page(page, "Tune")
                page.wait_for_selector(".st-key-tune-ranking", timeout=300_000)
                presses = []
                for i in range(max(args.repeat, 3) * 2):
                    # Raise then lower the collaborative weight, then the audio weight, and so on.
                    presses.append(round(slider_to_rerank(page, label="collaborative" if i % 4 < 2 else "audio",
                                                          key="End" if i % 2 == 0 else "Home"), 3))
                results["slider_to_rerank_s"] = presses
                context.close()
                if args.during_warmup:
                    server.stop()
                    server = AppServer()
                    server.start()
                    first_usable(browser, server.url)
                    during = upload_breakdown(browser, server.url, clip)
                    results["first_upload_during_warmup_s"] = during["total_s"]
                    results["first_upload_during_warmup_detail"] = during
                    results["warmup_steps_done_when_it_ended"] = list(warmup_steps(server))
            finally:
                browser.close()
                server.stop()
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for key in ("warm_start_to_usable_s", "upload_to_recommendations_s", "slider_to_rerank_s"):
        results[key[:-2] + "_median_s"] = round(statistics.median(results[key]), 3)
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
