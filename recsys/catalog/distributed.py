"""Scale-out catalog build on Ray: Ray Data over the manifest, one model-holding actor per worker.

    python -m recsys build --media-dir DIR [--manifest CSV] --ray [ADDRESS] [--workers N]

Each actor loads the encoders once and analyses batches of manifest rows (reusing the on-disk
feature cache like the single-process build). Results are written as Parquet shards under
``<out>/shards/``; ``build`` then merges the shards into the usual catalog (Parquet + arrays),
identical to a single-process build of the same files.

On a cluster: start Ray on each machine (``ray start --head`` on one, ``ray start
--address=HEAD:6379`` on the others), make the media folder and ``RECSYS_CACHE_DIR`` visible at
the same path on every node (NFS or similar), install the project there, and pass
``--ray HEAD:6379`` (or ``--ray auto`` from a cluster node). Without an address a local Ray
instance with ``--workers`` CPUs is started and stopped.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.catalog.catalog import (
    BLOCKS,
    Catalog,
    Progress,
    finish_build,
    read_manifest,
)
from recsys.catalog.feature_cache import FeatureCache, FeatureRecord
from recsys.errors import RecsysError


class _AnalyzeActor:
    """Holds one Analyzer (models loaded once per worker) and analyses batches of rows."""

    def __init__(self, media_dir: str, feat_dir: str):
        from recsys.analysis.analyzer import Analyzer

        self.media_dir, self.cache = Path(media_dir), FeatureCache(feat_dir)
        self.analyzer = Analyzer()

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from recsys.catalog.catalog import analyze_manifest_row
        from recsys.errors import MediaError

        out = []
        for r in batch.to_dict("records"):
            try:
                row, record, fresh = analyze_manifest_row(self.analyzer, self.media_dir, r, self.cache)
            except (MediaError, OSError) as err:
                out.append({"order": r["order"], "ok": False, "error": f"{r['path']}: {err}", "fresh": False,
                            "row": "", "label_scores": b"", **{f"block_{b}": b"" for b in BLOCKS}})
                continue
            out.append({"order": r["order"], "ok": True, "error": "", "fresh": bool(fresh), "row": json.dumps(row),
                        "label_scores": np.asarray(record.label_scores, np.float32).tobytes(),
                        **{f"block_{b}": np.asarray(record.blocks[b], np.float32).tobytes() for b in BLOCKS}})
        return pd.DataFrame(out)


def build_catalog_ray(media_dir: str | os.PathLike, *, manifest: str | os.PathLike | None = None,
                      out_dir: str | os.PathLike, address: str | None = None, workers: int = 2,
                      batch_size: int = 4, progress: Progress | None = None) -> Catalog:
    """Distributed build (see the module docstring); returns the merged catalog."""
    try:
        import ray
    except ImportError:
        raise RecsysError("Ray is not installed: pip install -r requirements-ray.txt") from None
    t0 = time.perf_counter()
    media_dir = Path(media_dir).resolve()
    if not media_dir.is_dir():
        raise RecsysError(f"media folder {media_dir} does not exist")
    df = read_manifest(media_dir, Path(manifest) if manifest else None).reset_index(drop=True)
    df["order"] = np.arange(len(df))
    out_dir = Path(out_dir)
    shard_dir = out_dir / "shards"
    feat_dir = FeatureCache().folder
    started_here = not ray.is_initialized()
    if started_here:
        env = {k: os.environ[k] for k in ("RECSYS_CACHE_DIR", "RECSYS_DATA_DIR", "HF_HUB_OFFLINE",
                                          "TRANSFORMERS_OFFLINE", "NUMBA_CACHE_DIR") if k in os.environ}
        # One CPU per actor plus one for Ray Data's own tasks (repartition, writes): with only
        # `workers` CPUs the actors would hold them all and the pipeline would stall.
        ray.init(address=address, num_cpus=None if address else workers + 1, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": env}, ignore_reinit_error=True)
    try:
        # One block per batch, so every actor gets work (from_pandas makes a single block).
        n_blocks = max(workers, -(-len(df) // batch_size))
        ds = ray.data.from_pandas(df.astype({c: str for c in df.columns if c != "order"})).repartition(n_blocks)
        results = ds.map_batches(_AnalyzeActor, fn_constructor_args=(str(media_dir), str(feat_dir)),
                                 batch_size=batch_size, batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=workers),
                                 num_cpus=1)
        if shard_dir.exists():
            for old in shard_dir.glob("*.parquet"):
                old.unlink()
        results.write_parquet(str(shard_dir))
    finally:
        if started_here:
            ray.shutdown()
    if progress:
        progress(len(df), len(df), "")
    return merge_shards(shard_dir, media_dir, out_dir=out_dir, t0=t0, workers=workers)


def merge_shards(shard_dir: Path, media_dir: Path, *, out_dir: Path, t0: float, workers: int) -> Catalog:
    """Read every Parquet shard and assemble the catalog in manifest order."""
    shards = sorted(Path(shard_dir).glob("*.parquet"))
    if not shards:
        raise RecsysError(f"no Parquet shards in {shard_dir}")
    res = pd.concat([pd.read_parquet(p) for p in shards]).sort_values("order")
    ok = res[res["ok"]]
    rows = [json.loads(r) for r in ok["row"]]
    # Shards carry arrays only; the analysis summary travels in the item row.
    vectors = [FeatureRecord(blocks={b: np.frombuffer(r[f"block_{b}"], np.float32).copy() for b in BLOCKS},
                             label_scores=np.frombuffer(r["label_scores"], np.float32).copy(), analysis={})
               for _, r in ok.iterrows()]
    return finish_build(rows, vectors, media_dir, out_dir=out_dir, analysed=int(ok["fresh"].sum()),
                        skipped=list(res.loc[~res["ok"], "error"]), t0=t0, ray_workers=workers,
                        shards=len(shards))
