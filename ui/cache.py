"""Every Streamlit cache of the app, in one place.

Design: heavy shared objects live in ``st.cache_resource`` and are keyed on a *catalog
fingerprint* (a short string: the catalog folder plus the modification time of the file that
defines it, plus the store's clip stamp once people have added clips), never on large arrays,
which Streamlit would have to hash. The :class:`~recsys.catalog.store.Store` (likes, dislikes and added
clips, in SQLite) is one shared object too, keyed on its file. Per-item derived data
(browser previews, decoded frames for display) is cached per ``(fingerprint, item_id)``. Nothing
derived from an upload is cached here: uploads stay in the session that made them
(``st.session_state``, see :mod:`ui.state`).

Slow first-time work (the pretrained encoders, UMAP, card pictures, the validation split) is
done in one background thread once the service is loaded, so the pages that need it are ready
when visited. The encoders come first (an upload needs them); every later step waits until no
upload is being analysed (:func:`analysing`), so the warm-up does not take the CPU from one.
Each step's time goes to the server log (``recsys warm-up: ...``), ending with ``done``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import streamlit as st

from recsys import FEATURE_VERSION
from recsys.errors import RecsysError
from recsys.paths import REPO_ROOT, SAMPLE_DATA_DIR, data_dir
from recsys.understanding.label_key import LabelKey

_build_lock = threading.Lock()
_validator_lock = threading.Lock()
_loaded: set[str] = set()          # fingerprints whose service is in the cache

# Must equal ``[server] maxUploadSize`` in .streamlit/config.toml (Streamlit counts 1 MB as 2**20
# bytes): the uploader refuses bigger files in the browser, decode refuses them on the server.
UPLOAD_MAX_MB = 200


def upload_limits(limits):
    """``limits`` (a :class:`~recsys.media.decode.MediaLimits`) with ``max_bytes`` = the upload limit."""
    return dataclasses.replace(limits, max_bytes=UPLOAD_MAX_MB * 2**20)


# --- the store (feedback and added clips) -----------------------------------------------------

def store_path() -> Path:
    """``data_dir()/recsys.sqlite3``: ``RECSYS_DATA_DIR`` moves it (tests use a temporary folder)."""
    from recsys.catalog.store import DB_NAME

    return data_dir() / DB_NAME


@st.cache_resource(max_entries=4, show_spinner=False)
def get_store(path: str):
    """The :class:`~recsys.catalog.store.Store` at ``path``, shared by every session (it is thread-safe)."""
    from recsys.catalog.store import Store

    return Store(path)


def open_store():
    """``(store, None)``, or ``(None, one-line reason)`` when the database cannot be opened (the
    app then keeps ratings in the session only). A failed open is not cached: the next run retries."""
    try:
        return get_store(str(store_path())), None
    except (RecsysError, OSError) as err:
        return None, str(err)


# --- the catalog and the service ------------------------------------------------------------

def catalog_dir() -> str | None:
    """The catalog folder named by ``RECSYS_CATALOG_DIR``, or None for the embedded sample."""
    return os.environ.get("RECSYS_CATALOG_DIR") or None


def catalog_fingerprint() -> str:
    """A stable id of the effective catalog: the built one (changes when it is rebuilt) plus the
    clips people added (changes with every added clip, so the service is refitted)."""
    base = _built_fingerprint()
    store, _ = open_store()
    try:
        stamp = store.clips_stamp() if store is not None else "0:0"
    except RecsysError:
        stamp = "0:0"
    # No added clip: the same service whatever the store's path (tests with fresh stores share it).
    return base if stamp == "0:0" else f"{base}|clips:{store.path.resolve()}:{stamp}"


def _built_fingerprint() -> str:
    folder = catalog_dir()
    if folder:
        items = Path(folder) / "items.parquet"
        stamp = items.stat().st_mtime_ns if items.is_file() else 0
        return f"dir:{Path(folder).resolve()}:{stamp}"
    manifest = SAMPLE_DATA_DIR / "manifest.csv"
    stamp = manifest.stat().st_mtime_ns if manifest.is_file() else 0
    return f"sample:{stamp}:{FEATURE_VERSION}"


def service_loaded(fp: str) -> bool:
    return fp in _loaded


def prepare_catalog(progress=None) -> None:
    """Build the embedded sample catalog when it is missing or stale (first run only), calling
    ``progress(done, total, path)``. A no-op for a catalog given by folder."""
    if catalog_dir():
        return
    from recsys.catalog.catalog import load_or_build_sample_catalog

    with _build_lock:
        load_or_build_sample_catalog(progress=progress)


@st.cache_resource(show_spinner="Loading the catalog and fitting the recommender…", max_entries=2)
def get_service(fp: str):
    """The shared :class:`~recsys.serving.service.RecsysService` (read-only after loading) over the built
    catalog plus the store's added clips."""
    from recsys.serving.service import load_service

    store, _ = open_store()
    service = load_service(store=store, catalog_dir=catalog_dir())
    _loaded.add(fp)
    return service


def get_validator(fp: str):
    """Held-out validation metrics for the Tune page (fitted once per catalog; thread-safe)."""
    service = get_service(fp)
    if not hasattr(service, "validator"):
        return None
    with _validator_lock:
        return service.validator()


@st.cache_data(max_entries=512, show_spinner=False)
def validation_metrics(fp: str, weights: tuple[tuple[str, float], ...]) -> dict | None:
    """Recall@10 / NDCG@10 on validation users for one weight vector (milliseconds, cached)."""
    validator = get_validator(fp)
    if validator is None:
        return None
    return {k: (int(v) if k == "n_users" else float(v)) for k, v in validator.metrics(dict(weights)).items()}


@st.cache_resource(max_entries=2, show_spinner=False)
def get_map(fp: str):
    """The catalog's 2-D map: PCA at once, UMAP fitted in a background thread."""
    from recsys.serving.embedding_map import BackgroundMap

    return BackgroundMap(get_service(fp).catalog.embeddings)


# Uploads being analysed now, in any session; the warm-up waits for none (plus QUIET_S after the
# last one ended: the page still draws its cards and pictures then).
_analyses = 0
_analyses_cond = threading.Condition()
_last_analysis_end = 0.0
QUIET_S = 1.5


@contextlib.contextmanager
def analysing():
    """Around an upload's analysis: the warm-up thread yields the CPU until it is over."""
    global _analyses, _last_analysis_end
    with _analyses_cond:
        _analyses += 1
    try:
        yield
    finally:
        with _analyses_cond:
            _analyses -= 1
            _last_analysis_end = time.monotonic()
            _analyses_cond.notify_all()


def _wait_until_quiet() -> None:
    """Block until no upload is being analysed and none ended in the last ``QUIET_S`` seconds."""
    while True:
        with _analyses_cond:
            _analyses_cond.wait_for(lambda: _analyses == 0)
            rest = _last_analysis_end + QUIET_S - time.monotonic()
        if rest <= 0:
            return
        time.sleep(rest)


def _log(message: str) -> None:
    print(f"recsys warm-up: {message}", file=sys.stderr, flush=True)


@st.cache_resource(max_entries=2, show_spinner=False)
def start_warmup(fp: str) -> threading.Thread | None:
    """Once per catalog, in a background thread: load and exercise the encoders (what an upload
    waits on), then -- each step waiting until no upload is being analysed -- fit UMAP and
    compile its transform, decode the card pictures, and fit the Tune page's validator, so
    Discover, the map and Tune respond at once when first visited.
    ``RECSYS_APP_WARMUP=0`` turns it off (tests that need none of it)."""
    service = get_service(fp)
    if os.environ.get("RECSYS_APP_WARMUP", "1") == "0":
        return None

    def work():
        start = time.perf_counter()
        steps = (("encoders", lambda: _warm_analyzer(service.analyzer)),
                 ("map", lambda: _warm_umap(get_map(fp), service)),  # get_map starts the UMAP fit
                 ("pictures", lambda: _warm_pictures(fp, service)),
                 ("validator", lambda: _fit_validator(service)))
        for i, (name, step) in enumerate(steps):
            if i:
                _wait_until_quiet()
            t0 = time.perf_counter()
            try:
                step()
                _log(f"{name} ready in {time.perf_counter() - t0:.1f} s")
            except Exception as err:  # noqa: BLE001 -- warming is best effort; pages report real errors
                _log(f"{name} failed ({type(err).__name__}: {err})")
        _log(f"done in {time.perf_counter() - start:.1f} s")

    thread = threading.Thread(target=work, name="recsys-warmup", daemon=True)
    thread.start()
    return thread


def _warm_analyzer(analyzer) -> None:
    """Load the encoders and run each once on a generated input, so that the lazy imports
    (librosa, PyAV), the ONNX sessions' first runs and the semantic space are paid before the
    first upload: a 1 s tone through the whole pipeline, and one blank frame through the image model."""
    import io

    import soundfile as sf

    encoders = analyzer.encoders()
    buf = io.BytesIO()
    t = np.arange(16000) / 16000
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, format="WAV")
    analyzer.analyze(buf.getvalue(), name="warmup.wav")
    encoders["image"].encode(np.zeros((1, 256, 256, 3), np.uint8))


def _warm_pictures(fp: str, service) -> None:
    """Card and gallery pictures of every catalog item (decoding only; a few seconds)."""
    for item_id in service.catalog.item_ids:
        _wait_until_quiet()
        item_picture(fp, item_id)


def _fit_validator(service) -> None:
    if hasattr(service, "validator"):
        with _validator_lock:
            service.validator()


def _warm_umap(bmap, service) -> None:
    m = bmap.wait()
    if m.method == "umap":
        m.transform(service.catalog.embeddings[:1])  # numba compiles transform on first call


@st.cache_resource(max_entries=4, show_spinner=False)
def clusters(fp: str, k: int = 8) -> np.ndarray:
    """(n,) k-means cluster of every catalog item (on the item vectors)."""
    from sklearn.cluster import KMeans

    emb = get_service(fp).catalog.embeddings
    k = max(1, min(k, len(emb)))
    return KMeans(n_clusters=k, n_init=4, random_state=0).fit_predict(emb)


@st.cache_resource(max_entries=2, show_spinner=False)
def item_tags(fp: str) -> list[list[str]]:
    """Per item: its manifest tags plus its inferred labels scoring at least 0.5 (for filters)."""
    from recsys.understanding.label_scoring import label_names

    cat = get_service(fp).catalog
    names = label_names()
    out = []
    for r, raw in enumerate(cat.items["tags"].fillna("")):
        own = [t.strip().lower() for t in str(raw).replace(",", ";").split(";") if t.strip()]
        inferred = [LabelKey.parse(names[j]).label for j in np.flatnonzero(cat.label_scores[r] >= 0.5)]
        out.append(sorted(set(own) | set(inferred)))
    return out


@st.cache_resource(max_entries=2, show_spinner=False)
def item_summaries(fp: str) -> list[str]:
    """Per item: "kind · its three top labels" (map hovers)."""
    from recsys.catalog.browse import top_labels
    from recsys.understanding.label_scoring import label_names

    cat = get_service(fp).catalog
    names = label_names()
    return [f"{kind} · {', '.join(top_labels(cat.label_scores[r], names, k=3))}"
            for r, kind in enumerate(cat.items["kind"])]


# --- per-item media ---------------------------------------------------------------------------

@st.cache_resource(max_entries=1024, show_spinner=False)
def item_preview(fp: str, item_id: str) -> tuple[bytes | None, str]:
    """``(data, mime)`` a browser plays for a catalog item, or ``(None, reason)``."""
    from recsys.media.preview import browser_safe

    path = get_service(fp).catalog.media_path(item_id)
    try:
        return browser_safe(path)
    except (RecsysError, OSError) as err:
        return None, str(err)


@st.cache_resource(max_entries=4096, show_spinner=False)
def item_picture(fp: str, item_id: str):
    """A (180, 320, 3) uint8 picture of a catalog item for cards and the gallery (video: a frame
    from its middle; audio: its spectrogram), or None when the file cannot be decoded. ~60 KB each."""
    from recsys.media.display import thumbnail_file
    from recsys.paths import cache_dir

    try:
        return thumbnail_file(get_service(fp).catalog.media_path(item_id), folder=cache_dir() / "thumbnails")
    except (RecsysError, OSError):
        return None


@st.cache_resource(max_entries=64, show_spinner=False)
def item_display(fp: str, item_id: str) -> dict:
    """Frames, waveform envelope and mel-spectrogram of a catalog item, for the analysis panel
    (decoding only: no model runs). ``{"error": msg}`` when the file cannot be decoded."""
    from recsys.media.decode import decode
    from recsys.media.display import display_arrays

    try:
        media = decode(get_service(fp).catalog.media_path(item_id))
    except (RecsysError, OSError) as err:
        return {"error": str(err)}
    return display_arrays(media)


# --- reports and documents --------------------------------------------------------------------

def reports_dir() -> Path:
    """Where ``python -m recsys evaluate --report`` writes (``RECSYS_REPORTS_DIR`` overrides)."""
    return Path(os.environ.get("RECSYS_REPORTS_DIR") or (REPO_ROOT / "reports"))


def latest_report_path() -> Path | None:
    """The newest ``reports/evaluate-*.json`` written by ``python -m recsys evaluate --report``."""
    folder = reports_dir()
    found = sorted(folder.glob("evaluate-*.json"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if folder.is_dir() else []
    return found[0] if found else None


@st.cache_data(max_entries=16, show_spinner=False)
def read_report(path: str, mtime_ns: int) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@st.cache_data(max_entries=4, show_spinner=False)
def read_text(path: str, mtime_ns: int) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
