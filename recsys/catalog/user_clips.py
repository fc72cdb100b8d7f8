"""Clips people added to the catalog: the :class:`~recsys.catalog.store.Store`'s clips joined to a built
catalog (``recsys.serving.service.load_service(store=...)`` fits the service on the result).

The effective catalog is a built catalog (the embedded sample, or ``RECSYS_CATALOG_DIR``) with
the store's clips appended in the order they were added, so every built item keeps its row.
Each added clip is analysed once: its features go to the shared feature cache
(``cache_dir()/features``, keyed by content hash + text metadata + ``FEATURE_VERSION``; see
:class:`recsys.catalog.feature_cache.FeatureCache`), so a restart or a refit loads them instead of running the
models. The app writes that cache entry from the analysis it already made when the clip was
uploaded (:func:`prime_features`), so adding a clip does not analyse it a second time either.

Demo users are simulated on the built catalog only: nobody has interacted with an added clip.
Its collaborative (BPR) score is therefore uninformed, but the content cosines and the matcher
(which scores item *features*, not item ids) rank it like any other item.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.catalog.catalog import Catalog, analyze_manifest_row, from_records
from recsys.catalog.feature_cache import FeatureCache, FeatureRecord
from recsys.errors import RecsysError

USER_SOURCE = "added by a user"   # the ``source`` column of an added clip


def clip_manifest_row(clip: dict) -> dict:
    """A manifest row (see :data:`recsys.catalog.catalog.MANIFEST_COLUMNS`) for one row of
    :meth:`Store.clips() <recsys.catalog.store.Store.clips>`. ``path`` is the stored file's absolute path
    (a random name inside the data folder), so ``Catalog.media_path`` finds it whatever the
    catalog's ``media_dir``."""
    meta = clip.get("metadata") or {}
    return {"item_id": clip["clip_id"], "path": str(clip["path"]), "title": str(clip["title"]),
            "description": str(meta.get("description", "")), "tags": "", "license": "", "author": "",
            "source": USER_SOURCE}


def prime_features(record: FeatureRecord, *, sha256: str, title: str, description: str = "",
                   feat_dir: str | Path | None = None) -> Path:
    """Write an analysis made elsewhere into the feature cache, under the key that
    :func:`with_user_clips` looks up for a clip with these bytes, title and description.
    Returns the cache file."""
    from recsys.analysis.analyzer import ClipMetadata

    cache = FeatureCache(feat_dir)
    text = ClipMetadata(title=title, description=description).text()
    path = cache.path(sha256, text)
    if not path.is_file():
        cache.put(sha256, text, record)
    return path


def add_analysed_clip(store, data: bytes, analysis, *, title: str, description: str = "", name: str = "",
                      max_bytes: int | None = None, feat_dir: str | Path | None = None) -> str:
    """Store an upload's bytes and its analysis so that every session finds it in the catalog.

    The bytes go to ``store`` (a :class:`~recsys.catalog.store.Store`, under a random file name:
    ``name`` only picks an allowed extension), and ``analysis`` (the upload's
    :class:`~recsys.analysis.analyzer.ClipAnalysis`) goes to the feature cache under the key
    :func:`with_user_clips` will look up, so the clip is not analysed a second time. Returns the
    new clip id. Raises :class:`~recsys.errors.RecsysError` (or ``OSError``) when it cannot be stored.
    """
    from recsys.media.decode import MEDIA_EXTENSIONS

    suffix = Path(name).suffix.lower()
    clip_id = store.add_clip(data, title=title, suffix=suffix if suffix in MEDIA_EXTENSIONS else "",
                             metadata={"description": description, "kind": analysis.kind},
                             **({"max_bytes": max_bytes} if max_bytes is not None else {}))
    row = store.clip(clip_id)
    # The store may normalise the title; the cached analysis is only valid for the text it was made with.
    if (row["title"], row["metadata"].get("description", "")) == (title, description):
        record = FeatureRecord.from_analysis(analysis)
        record = dataclasses.replace(record, analysis={**record.analysis, "path": row["path"]})
        prime_features(record, sha256=row["sha256"], title=row["title"], description=description,
                       feat_dir=feat_dir)
    return clip_id


def with_user_clips(base: Catalog, clips: list[dict], *, analyzer=None, feat_dir: str | Path | None = None
                    ) -> Catalog:
    """``base`` with ``clips`` (rows of :meth:`Store.clips() <recsys.catalog.store.Store.clips>`) appended.

    A clip is analysed only when its features are not cached (by ``analyzer``, a default
    :class:`~recsys.analysis.analyzer.Analyzer` when None). A clip that cannot be read or analysed, or
    whose id the base already uses, is left out and named in ``meta["user_clips_skipped"]``;
    ``meta["user_clip_ids"]`` lists the ids added, ``meta["user_clips_analysed"]`` how many of
    them ran the models. Returns ``base`` itself when there is nothing to add.
    """
    if not clips:
        return base
    cache = FeatureCache(feat_dir)
    if analyzer is None:
        from recsys.analysis.analyzer import Analyzer

        analyzer = Analyzer()  # cheap: its models load on its first analysis, i.e. on a cache miss
    known = set(base.item_ids)
    rows, records, skipped, analysed = [], [], [], 0
    for clip in clips:
        r = clip_manifest_row(clip)
        if r["item_id"] in known:
            skipped.append(f"{r['item_id']}: the catalog already has this id")
            continue
        try:
            row, record, fresh = analyze_manifest_row(analyzer, base.media_dir, r, cache)
        except (RecsysError, OSError) as err:
            skipped.append(f"{r['item_id']} ({r['title']}): {err}")
            continue
        known.add(r["item_id"])
        analysed += fresh
        rows.append(row)
        records.append(record)
    meta = {**base.meta, "user_clip_ids": [r["item_id"] for r in rows], "user_clips_skipped": skipped,
            "user_clips_analysed": analysed}
    if not rows:  # the same items: it may keep the base's folder (and so its saved vector index)
        return dataclasses.replace(base, meta=meta)
    added = from_records(rows, records, base.media_dir, meta={})
    # No ``folder``: the base folder's saved index is for the base items; this catalog builds its own.
    return Catalog(items=pd.concat([base.items, added.items], ignore_index=True),
                   embeddings=np.concatenate([base.embeddings, added.embeddings]),
                   blocks={k: np.concatenate([v, added.blocks[k]]) for k, v in base.blocks.items()},
                   label_scores=np.concatenate([base.label_scores, added.label_scores]),
                   media_dir=base.media_dir, meta=meta)
