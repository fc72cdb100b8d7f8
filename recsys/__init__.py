"""recsys: audio/video content understanding and hybrid recommendation (library; no UI imports)."""
__version__ = "0.1.0"
# Bumped whenever analysis output changes, so on-disk feature caches are invalidated.
FEATURE_VERSION = "3"

import os as _os

# librosa's beat tracker and UMAP compile with numba on first use (tens of seconds): keep the
# compiled code in a cache folder that outlives the process. Set before numba is imported.
if "NUMBA_CACHE_DIR" not in _os.environ:
    from .paths import cache_dir as _cache_dir

    _os.environ["NUMBA_CACHE_DIR"] = str(_cache_dir() / "numba")
