"""A catalog: many analysed clips, stored as Parquet (metadata) plus one ``.npz`` of arrays.

Building analyses each clip once. Each clip's features are cached on disk under a key made of
the file's content hash, its text metadata and ``FEATURE_VERSION``, so a rebuild only analyses
new or changed files (and a changed title re-embeds that one clip).

Layout of a catalog folder::

    items.parquet   one row per item: item_id, path, kind, title, description, tags, license,
                    author, source, duration_s, valence, arousal, analysis (JSON, no embedding)
    vectors.npz     embedding (n, D); one array per block (n, d_block); label_scores (n, L);
                    item_ids (n,) -- all float32 / str, loadable with allow_pickle=False
    meta.json       feature_version, media_dir, built_at, n_items, build_seconds
    index/          the nearest-neighbour index over ``embedding`` (see :mod:`recsys.catalog.index`):
                    exact below 50k items, FAISS HNSW above; written by ``build``, rebuilt on
                    first use when missing or stale
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from recsys import FEATURE_VERSION
from recsys.analysis.item_vector import BLOCK_NAMES, ItemBlocks, item_vector
from recsys.catalog.feature_cache import FeatureCache, FeatureRecord, file_hash
from recsys.errors import MediaError, RecsysError, UnknownIdError
from recsys.media.decode import MEDIA_EXTENSIONS
from recsys.paths import SAMPLE_DATA_DIR, data_dir
from recsys.understanding.label_scoring import label_names

BLOCKS = BLOCK_NAMES
MANIFEST_COLUMNS = ("item_id", "path", "kind", "title", "description", "tags", "license", "author",
                    "source")
Progress = Callable[[int, int, str], None]  # (done, total, current path)


@dataclass
class Catalog:
    """Items (DataFrame, one row per item, in row order) and their arrays, row-aligned."""

    items: pd.DataFrame
    embeddings: np.ndarray             # (n, D) float32, L2-normalised rows
    blocks: dict[str, np.ndarray]      # name -> (n, d) float32, rows L2-normalised or zero
    label_scores: np.ndarray           # (n, L) float32 in [0, 1], columns = label_names()
    media_dir: Path
    meta: dict
    folder: Path | None = None         # where it was loaded from or saved to (its index lives there)

    def __post_init__(self):
        self._row = {iid: i for i, iid in enumerate(self.items["item_id"])}
        self._vector_index = None
        self._index_lock = threading.Lock()  # app sessions may ask for the index at once

    def __len__(self) -> int:
        return len(self.items)

    @property
    def item_ids(self) -> list[str]:
        return list(self.items["item_id"])

    def index(self, item_id: str) -> int:
        try:
            return self._row[item_id]
        except KeyError:
            raise UnknownIdError(f"unknown item id {item_id!r} (the catalog has {len(self)} items)") from None

    def item(self, item_id: str) -> dict:
        return self.items.iloc[self.index(item_id)].to_dict()

    def media_path(self, item_id_or_row: str | int) -> Path:
        row = item_id_or_row if isinstance(item_id_or_row, (int, np.integer)) else self.index(item_id_or_row)
        return self.media_dir / self.items.iloc[int(row)]["path"]

    def analysis(self, item_id: str) -> dict:
        return json.loads(self.items.iloc[self.index(item_id)]["analysis"])

    # -- persistence ---------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # Write to temporary names, then rename: a reader never sees half a catalog.
        tmp_items, tmp_vec = folder / "items.parquet.tmp", folder / "vectors.tmp.npz"
        self.items.to_parquet(tmp_items, index=False)
        np.savez(tmp_vec, embedding=self.embeddings, label_scores=self.label_scores,
                 item_ids=np.asarray(self.item_ids, dtype=str),
                 **{f"block_{k}": v for k, v in self.blocks.items()})
        os.replace(tmp_items, folder / "items.parquet")
        os.replace(tmp_vec, folder / "vectors.npz")
        (folder / "meta.json").write_text(json.dumps({**self.meta, "media_dir": str(self.media_dir)}, indent=1))
        self.folder = folder
        return folder

    def vector_index(self):
        """The :class:`~recsys.catalog.index.VectorIndex` over ``embeddings``, chosen by size (exact below
        :data:`recsys.catalog.index.DEFAULT_THRESHOLD` items, HNSW above). Loaded from ``<folder>/index``
        when it matches this build, else built here and saved there (when the folder is
        writable). Built once per Catalog object; safe to call from several threads."""
        from recsys.catalog.index import load_index, make_index, save_index

        with self._index_lock:
            if self._vector_index is None:
                index = load_index(self.folder, n_items=len(self)) if self.folder is not None else None
                if index is None:
                    index = make_index(self.embeddings)
                    if self.folder is not None:
                        try:
                            save_index(self.folder, index)
                        except OSError:  # a read-only catalog still works; it rebuilds next time
                            pass
                self._vector_index = index
            return self._vector_index

    def similar(self, vector: np.ndarray, k: int = 10, *, exclude: set[int] = frozenset()
                ) -> tuple[np.ndarray, np.ndarray]:
        """Rows (<= k,) int64 and cosine similarities (<= k,) float32 of the items nearest to
        ``vector`` (D,), best first, leaving out the rows in ``exclude``. Uses the index; an
        approximate one fetches extra candidates and re-ranks them with the full vectors."""
        from recsys.catalog.index import default_candidates
        index = self.vector_index()
        fetch = min(len(self), k + len(exclude))
        exact = index.kind == "exact"
        ids, scores = index.search(np.asarray(vector, np.float32)[None, :], fetch,
                                   rerank=None if exact else self.embeddings,
                                   candidates=None if exact else default_candidates(fetch))
        keep = (ids[0] >= 0) & ~np.isin(ids[0], list(exclude))
        return ids[0][keep][:k], scores[0][keep][:k]

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Catalog:
        folder = Path(folder)
        if not (folder / "items.parquet").is_file():
            raise RecsysError(f"no catalog in {folder} (build one with `python -m recsys build`)")
        items = pd.read_parquet(folder / "items.parquet")
        with np.load(folder / "vectors.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if list(arrays["item_ids"]) != list(items["item_id"]):
            raise RecsysError(f"catalog in {folder} is inconsistent (items and vectors differ)")
        meta = json.loads((folder / "meta.json").read_text())
        missing = [k for k in BLOCKS if f"block_{k}" not in arrays]
        if missing:  # built by an older version: its item vectors lack blocks this one ranks with
            raise RecsysError(f"catalog in {folder} was built with feature version {meta.get('feature_version')} "
                              f"(this is {FEATURE_VERSION}; it lacks {', '.join(missing)}): rebuild it with "
                              f"`python -m recsys build`")
        return cls(items=items, embeddings=arrays["embedding"],
                   blocks={k: arrays[f"block_{k}"] for k in BLOCKS}, label_scores=arrays["label_scores"],
                   media_dir=Path(meta.get("media_dir", ".")), meta=meta, folder=folder)


# --- manifests ---------------------------------------------------------------------------------

def read_manifest(media_dir: Path, manifest: Path | None) -> pd.DataFrame:
    """Manifest rows (see MANIFEST_COLUMNS). Without a manifest, every media file under
    ``media_dir`` becomes an item titled after its file name."""
    if manifest is not None:
        try:
            df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError) as err:
            raise RecsysError(f"cannot read manifest {manifest}: {err}") from None
        if "path" not in df.columns:
            raise RecsysError(f"manifest {manifest} has no 'path' column")
    else:
        from recsys.analysis.analyzer import title_from_filename

        files = sorted(p for p in Path(media_dir).rglob("*") if p.suffix.lower() in MEDIA_EXTENSIONS)
        df = pd.DataFrame({"path": [str(p.relative_to(media_dir)) for p in files]})
        df["title"] = [title_from_filename(p) for p in df["path"]]
    for col in MANIFEST_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    df["item_id"] = [iid or _slug(p) for iid, p in zip(df["item_id"], df["path"])]
    if df["item_id"].duplicated().any():
        raise RecsysError(f"duplicate item ids in manifest: {sorted(df['item_id'][df['item_id'].duplicated()])[:5]}")
    return df


def _slug(path: str) -> str:
    stem = Path(path).with_suffix("").as_posix().lower()
    return "".join(c if c.isalnum() else "-" for c in stem).strip("-")[:80]


# --- building ------------------------------------------------------------------------------------

def build_catalog(media_dir: str | os.PathLike, *, manifest: str | os.PathLike | None = None,
                  out_dir: str | os.PathLike | None = None, analyzer=None,
                  progress: Progress | None = None) -> Catalog:
    """Analyse every clip of a manifest (or folder) and save the catalog in ``out_dir``.

    Cached features are reused; clips that fail to analyse are skipped with a warning in
    ``meta["skipped"]``. Returns the built :class:`Catalog`.
    """
    from recsys.analysis.analyzer import Analyzer

    t0 = time.perf_counter()
    media_dir = Path(media_dir).resolve()
    if not media_dir.is_dir():
        raise RecsysError(f"media folder {media_dir} does not exist")
    df = read_manifest(media_dir, Path(manifest) if manifest else None)
    analyzer = analyzer or Analyzer()
    cache = FeatureCache()
    rows, vectors, skipped, analysed = [], [], [], 0
    for i, r in enumerate(df.itertuples(index=False)):
        if progress:
            progress(i, len(df), r.path)
        try:
            row, record, fresh = analyze_manifest_row(analyzer, media_dir, r._asdict(), cache)
        except (MediaError, OSError) as err:
            skipped.append(f"{r.path}: {err}")
            continue
        analysed += fresh
        rows.append(row)
        vectors.append(record)
    if progress:
        progress(len(df), len(df), "")
    return finish_build(rows, vectors, media_dir, out_dir=out_dir, analysed=analysed, skipped=skipped, t0=t0)


def finish_build(rows: list[dict], vectors: list[FeatureRecord], media_dir: Path, *, out_dir, analysed: int,
                 skipped: list[str], t0: float, **extra_meta) -> Catalog:
    """Assemble, describe and (when ``out_dir``) save a built catalog."""
    if not rows:
        raise RecsysError(f"no clip in {media_dir} could be analysed ({len(skipped)} failed)")
    catalog = from_records(rows, vectors, media_dir, meta={
        "feature_version": FEATURE_VERSION, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "n_items": len(rows), "analysed": analysed, "reused": len(rows) - analysed, "skipped": skipped,
        "build_seconds": round(time.perf_counter() - t0, 2), **extra_meta})
    if out_dir is not None:
        catalog.save(out_dir)
        catalog.vector_index()  # built and saved with the catalog, so loading it costs no rebuild
    return catalog


def analyze_manifest_row(analyzer, media_dir: Path, r: dict, cache: FeatureCache
                         ) -> tuple[dict, FeatureRecord, bool]:
    """Analyse one manifest row (or reuse its cached features): (item row, feature record, fresh?).

    Shared by the single-process build and the distributed one (:mod:`recsys.catalog.distributed`).
    """
    from recsys.analysis.analyzer import ClipMetadata

    path = Path(media_dir) / r["path"]
    tags = tuple(t.strip() for t in str(r.get("tags", "")).replace(",", ";").split(";") if t.strip())
    meta = ClipMetadata(title=str(r.get("title", "")), description=str(r.get("description", "")), tags=tags)
    data_hash, text = file_hash(path), meta.text()
    record = cache.get(data_hash, text)
    fresh = record is None
    if fresh:
        record = FeatureRecord.from_analysis(analyzer.analyze(path, metadata=meta))
        cache.put(data_hash, text, record)
    an = record.analysis
    row = {**{c: str(r.get(c, "")) for c in MANIFEST_COLUMNS}, "kind": an["kind"],
           "duration_s": float(an["duration_s"]), "valence": float(an["valence"]),
           "arousal": float(an["arousal"]), "analysis": json.dumps(an)}
    return row, record, fresh


def from_records(rows: list[dict], vectors: list[FeatureRecord], media_dir: Path, meta: dict) -> Catalog:
    """Assemble a :class:`Catalog` from item rows and per-item feature records."""
    blocks = {k: np.stack([v.blocks[k] for v in vectors]).astype(np.float32) for k in BLOCKS}
    emb = np.stack([item_vector(ItemBlocks(**{k: blocks[k][i] for k in BLOCKS})) for i in range(len(rows))])
    items = pd.DataFrame(rows)
    return Catalog(items=items, embeddings=emb.astype(np.float32), blocks=blocks,
                   label_scores=np.stack([v.label_scores for v in vectors]).astype(np.float32),
                   media_dir=media_dir, meta=meta)


# --- the embedded sample catalog -----------------------------------------------------------------

def sample_catalog_dir() -> Path:
    return data_dir() / "catalogs" / "sample"


def load_or_build_sample_catalog(progress: Progress | None = None, analyzer=None) -> Catalog:
    """The catalog of ``sample_data/``: loaded when built and current, else (re)built first."""
    folder = sample_catalog_dir()
    manifest = SAMPLE_DATA_DIR / "manifest.csv"
    if not manifest.is_file():
        raise RecsysError(f"sample manifest {manifest} is missing")
    if (folder / "meta.json").is_file():
        meta = json.loads((folder / "meta.json").read_text())
        fresh = (meta.get("feature_version") == FEATURE_VERSION
                 and meta.get("manifest_mtime") == manifest.stat().st_mtime
                 and len(label_names()) == _n_labels(folder))
        if fresh:
            return Catalog.load(folder)
    catalog = build_catalog(SAMPLE_DATA_DIR, manifest=manifest, analyzer=analyzer, progress=progress)
    catalog.meta["manifest_mtime"] = manifest.stat().st_mtime
    catalog.save(folder)
    return catalog


def _n_labels(folder: Path) -> int:
    try:
        with np.load(folder / "vectors.npz", allow_pickle=False) as z:
            return int(z["label_scores"].shape[1])
    except (OSError, KeyError, ValueError):
        return -1
