"""Shared fixtures: the shared clip folder and its catalog.

Generated media with known answers (tones, click tracks, clips, hostile files, a synthetic
catalog) come from :mod:`benchmarks.factories`, which the benchmarks use too."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from recsys.paths import SHARED_MEDIA_DIR  # noqa: E402


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not (SHARED_MEDIA_DIR / "catalog.csv").is_file():
        pytest.skip(f"shared media folder {SHARED_MEDIA_DIR} is absent (it sits beside the project "
                    "root on developer and CI machines)")
    return SHARED_MEDIA_DIR


@pytest.fixture(scope="session")
def shared_catalog(shared_media):
    import pandas as pd

    return pd.read_csv(shared_media / "catalog.csv")
