"""Choose the torch device once: CUDA when present, else CPU (override with RECSYS_DEVICE)."""
from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=None)
def get_device(preferred: str | None = None) -> str:
    """Return ``"cuda"`` or ``"cpu"``.

    ``preferred`` (or the ``RECSYS_DEVICE`` environment variable) forces a choice; asking for
    ``"cuda"`` on a machine without it raises, so a benchmark never silently runs on the CPU.
    """
    import torch

    choice = (preferred or os.environ.get("RECSYS_DEVICE") or "auto").lower()
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        from .errors import ConfigError

        raise ConfigError("device 'cuda' requested but torch.cuda.is_available() is False")
    return choice
