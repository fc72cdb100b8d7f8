"""Concurrent browser sessions (``benchmarks/load_sessions.py``): a few sessions upload different
clips at the same moment; each must get its own analysis and recommendations, with no
cross-talk. The checker and the localhost guard are tested on their own first (fast), so that the
browser test's "no cross-talk" means something.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
from benchmarks.app_latency import CHROMIUM  # noqa: E402
from benchmarks.load_sessions import (  # noqa: E402
    Clip,
    LoadError,
    check_localhost,
    check_page,
    percentile,
    pick_clips,
    run_load,
)

SESSIONS = 3


def _page_text(clip: Clip, extra: str = "") -> str:
    return f"Discover {clip.title} Analysed {clip.upload_name} in 1.2 s Recommendations 1. Rain {extra}"


@pytest.fixture
def clips():
    return [Clip(Path("a/env_rain.mp3"), "audio", 0), Clip(Path("v/green_valleys.mp4"), "video", 1),
            Clip(Path("a/sfx_car.mp3"), "audio", 2)]


def test_check_page_accepts_a_right_page(clips):
    own, others = clips[1], [clips[0], clips[2]]
    assert own.title == "load01-green-valleys" and own.upload_name == "load01-green-valleys.mp4"
    assert check_page(own=own, others=others, main_text=_page_text(own), header=own.title, exceptions=[],
                      errors=[], has_frames=True, cards=10) is None


@pytest.mark.parametrize("change, reason", [
    ({"main_text": "+load02"}, "cross-talk: the page shows other sessions' uploads load02"),
    ({"header": "load00-env-rain"}, "cross-talk: header"),
    ({"has_frames": False}, "lacks a frame strip"),
    ({"exceptions": ["KeyError: 'clip'\nTraceback"]}, "stException: KeyError: 'clip'"),
    ({"errors": ["Could not decode"]}, "error shown: Could not decode"),
    ({"cards": 2}, "only 2 recommendation cards"),
    ({"main_text": "-status"}, "no 'Analysed load01-green-valleys.mp4' status"),
])
def test_check_page_catches_cross_talk_and_errors(clips, change, reason):
    own, others = clips[1], [clips[0], clips[2]]
    kw = dict(own=own, others=others, main_text=_page_text(own), header=own.title, exceptions=[], errors=[],
              has_frames=True, cards=10)
    for key, value in change.items():
        if value == "+load02":
            kw["main_text"] += f" {others[1].title}"
        elif value == "-status":
            kw["main_text"] = kw["main_text"].replace("Analysed", "Analysing")
        else:
            kw[key] = value
    got = check_page(**kw)
    assert got is not None and reason in got


@pytest.mark.parametrize("url", ["http://example.com:8501", "http://10.0.0.5:8501", "http://0.0.0.0:8501",
                                 "http://localhost.evil.org/", "ftp://127.0.0.1/", "127.0.0.1:8501"])
def test_refuses_non_local_urls(url):
    with pytest.raises(LoadError):
        check_localhost(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8501/", "http://localhost:8501", "http://[::1]:8501",
                                 "http://127.0.0.2:9000"])
def test_accepts_local_urls(url):
    assert check_localhost(url) == url.rstrip("/")


def test_run_refuses_bad_options_before_starting_anything():
    with pytest.raises(LoadError, match="non-local"):
        run_load(sessions=2, url="http://192.168.1.10:8501")
    with pytest.raises(LoadError, match="sessions"):
        run_load(sessions=17)
    with pytest.raises(LoadError, match="rounds"):
        run_load(sessions=2, rounds=0)


def test_percentile_and_clip_choice(tmp_path):
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5 and percentile([5.0], 95) == 5.0
    assert percentile([], 50) is None
    assert percentile(list(range(1, 9)), 95) == pytest.approx(7.65)
    chosen = pick_clips(8, tmp_path)
    assert len({c.source for c in chosen}) == 8 and len({c.title for c in chosen}) == 8
    if (REPO_ROOT / "sample_data" / "video").is_dir():
        assert [c.kind for c in chosen] == ["audio", "video"] * 4


@pytest.mark.e2e
def test_concurrent_sessions_have_no_cross_talk():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is not installed")
    report = run_load(sessions=SESSIONS, rounds=2, timeout=600, session_timeout=240, log=print)
    results = report["results"]
    assert len(results) == 2 * SESSIONS
    failed = [f"round {r['round']} session {r['session']}: {r['error']}" for r in results if not r["ok"]]
    assert not failed, failed
    assert report["errors"] == 0
    for r in results:
        assert r["cards"] >= 5 and r["latency_s"] is not None and r["latency_s"] > 0
    # Every session of a round uploaded a different clip, and round 2 paired them differently.
    for rnd in (1, 2):
        assert len({r["title"] for r in results if r["round"] == rnd}) == SESSIONS
    assert [r["title"] for r in results if r["round"] == 1] != [r["title"] for r in results if r["round"] == 2]
    # The same clip got the same top-10 in both rounds (checked by run_load too: it would have failed).
    first = {r["title"]: r["ranking"] for r in results if r["round"] == 1}
    assert all(r["ranking"] == first[r["title"]] for r in results if r["round"] == 2)
    # Different catalog clips got different recommendations (each is its own nearest item).
    if all(Path(c["file"]).is_relative_to(REPO_ROOT / "sample_data") for c in report["clips"]):
        assert len({tuple(r["ranking"]) for r in results if r["round"] == 1}) == SESSIONS
