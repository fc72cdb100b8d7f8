"""Where things live on disk. Override with environment variables; never inside site-packages."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"
SAMPLE_DATA_DIR = REPO_ROOT / "sample_data"
SHARED_MEDIA_DIR = REPO_ROOT.parent / "shared" / "media"


def cache_dir() -> Path:
    """Derived, regenerable files (unzipped models, feature caches). ``RECSYS_CACHE_DIR`` overrides."""
    path = Path(os.environ.get("RECSYS_CACHE_DIR") or (REPO_ROOT / ".cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """User state (SQLite, built catalogs, uploaded clips added to the catalog). ``RECSYS_DATA_DIR`` overrides."""
    path = Path(os.environ.get("RECSYS_DATA_DIR") or (REPO_ROOT / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path
