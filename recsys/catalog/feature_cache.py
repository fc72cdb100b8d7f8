"""Per-clip analysis results cached on disk, keyed by content, so nothing is analysed twice.

A :class:`FeatureRecord` is what a catalog keeps of one analysed clip: its item-vector blocks, its
label scores and the analysis summary. :class:`FeatureCache` owns the on-disk format: one
``<key>.npz`` per record (arrays ``block_<name>``, ``label_scores`` and the analysis as a JSON
string; loadable with ``allow_pickle=False``), written atomically. The key hashes the file's bytes,
its text metadata and ``FEATURE_VERSION``, so a changed title or a new analysis version misses.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys import FEATURE_VERSION
from recsys.analysis.item_vector import BLOCK_NAMES
from recsys.paths import cache_dir


@dataclass(frozen=True)
class FeatureRecord:
    """One analysed clip as a catalog stores it.

    blocks : name -> (d,) float32, one per :data:`~recsys.analysis.item_vector.BLOCK_NAMES`
    label_scores : (L,) float32 in [0, 1], columns = ``label_names()``
    analysis : ``ClipAnalysis.to_dict(include_embedding=False)``
    """

    blocks: dict[str, np.ndarray]
    label_scores: np.ndarray
    analysis: dict

    @classmethod
    def from_analysis(cls, analysis) -> FeatureRecord:
        """The record of a :class:`~recsys.analysis.analyzer.ClipAnalysis`."""
        return cls(blocks=analysis.blocks.as_dict(), label_scores=analysis.understanding.label_vector(),
                   analysis=analysis.to_dict(include_embedding=False))


def feature_key(data_hash: str, text: str) -> str:
    """Cache key of a clip: sha256 of its bytes' hash, its metadata text and FEATURE_VERSION."""
    return hashlib.sha256(f"{data_hash}|{text}|{FEATURE_VERSION}".encode()).hexdigest()[:32]


def file_hash(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FeatureCache:
    """A folder of :class:`FeatureRecord` files (default ``cache_dir()/features``)."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else cache_dir() / "features"
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, data_hash: str, text: str) -> Path:
        return self.folder / f"{feature_key(data_hash, text)}.npz"

    def get(self, data_hash: str, text: str) -> FeatureRecord | None:
        """The cached record, or None on a miss."""
        path = self.path(data_hash, text)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as z:
            return FeatureRecord(blocks={k: z[f"block_{k}"] for k in BLOCK_NAMES}, label_scores=z["label_scores"],
                                 analysis=json.loads(str(z["analysis"])))

    def put(self, data_hash: str, text: str, record: FeatureRecord) -> Path:
        """Store ``record`` (atomically: a reader never sees half a file); returns its path."""
        path = self.path(data_hash, text)
        tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, label_scores=record.label_scores, analysis=np.asarray(json.dumps(record.analysis)),
                 **{f"block_{k}": v for k, v in record.blocks.items()})
        os.replace(tmp, path)
        return path
