"""The one base class behind every recommender (the implicit habit, with sklearn conventions).

Conventions
-----------
* Hyperparameters only in ``__init__`` (stored under the same names), including ``random_state``.
* ``fit(user_items, *, item_features=None, user_features=None)`` returns ``self``; learned state
  lives in attributes ending in ``_``. Models with ``uses_timestamps`` also take ``timestamps``.
* ``user_idx`` are training-matrix rows. ``-1`` marks a user unseen at fit (a persona, a new
  visitor): such a user is scored from the history in ``user_items`` (and ``user_features``).
* ``user_items``, when given, is a CSR matrix with one row per entry of ``user_idx`` (row ``i``
  is the history of ``user_idx[i]``); ``None`` means the history seen at fit.
* ``score`` returns float32 (n_query_users, n_items), higher is better; ``recommend`` is written
  once here on top of it.
"""
from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.evaluation.splits import stratified_split
from recsys.users.interactions import IdMap, Interactions

from ..errors import ConfigError, RecsysError, UnknownIdError

_FORMAT = 1
_SEP = ":"  # joins attribute and part names inside the .npz


class NotFittedError(RecsysError, RuntimeError):
    """A model was asked to score before ``fit``."""


class Recommender(ABC):
    """Abstract recommender over an implicit user-item matrix (n_users, n_items)."""

    #: fit raises ConfigError without item_features when True
    requires_item_features: ClassVar[bool] = False
    #: False for models whose ranking is the same for every user (popularity)
    personalised: ClassVar[bool] = True
    #: True for models whose fit also takes ``timestamps`` (n_users, n_items) CSR of event times
    #: in seconds with ``user_items``' pattern (`Interactions.to_timestamp_csr`); callers pass it
    #: through `timestamp_kwargs`.
    uses_timestamps: ClassVar[bool] = False

    # ---------------------------------------------------------------- parameters
    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__`` (JSON-serialisable values)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ---------------------------------------------------------------- fit / score
    @abstractmethod
    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> Recommender:
        """Learn from ``user_items`` (n_users, n_items); returns ``self``."""

    @abstractmethod
    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for each query user, float32 (len(user_idx), n_items)."""

    def recommend(self, user_idx: np.ndarray, user_items: sp.csr_matrix | None, *, k: int = 10,
                  filter_already_liked: bool = True, items: np.ndarray | None = None,
                  user_features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items per query user.

        Parameters
        ----------
        user_idx : np.ndarray
            (n,) training rows, ``-1`` for users unseen at fit.
        user_items : csr_matrix or None
            (n, n_items) history rows aligned with ``user_idx``; used for scoring and, with
            ``filter_already_liked``, removed from the results.
        items : np.ndarray, optional
            Restrict the ranking to these item columns.
        user_features : np.ndarray, optional
            (n, d_u) side features of the query users, for models fitted with them.

        Returns
        -------
        ids : np.ndarray
            (n, k) int64 item columns, best first; ``-1`` pads when fewer candidates remain.
        scores : np.ndarray
            (n, k) float32, ``-inf`` where ``ids`` is ``-1``.
        """
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        user_idx = np.atleast_1d(np.asarray(user_idx, dtype=np.int64))
        scores = self.score(user_idx, user_items=user_items, user_features=user_features)
        if filter_already_liked:
            history = self._history(user_idx, user_items)
            rows, cols = history.nonzero()
            scores[rows, cols] = -np.inf
        if items is not None:
            items = np.asarray(items, dtype=np.int64)
            scores = scores[:, items]
        ids, top = top_k(scores, k)
        if items is not None:
            ids = np.where(ids >= 0, items[np.maximum(ids, 0)], -1)
        return ids, top

    def similar_items(self, item_idx: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` most similar items (excluding the item itself), cosine of item vectors.

        Returns ``(ids, scores)``, each (len(item_idx), k). Models without item vectors raise
        ``NotImplementedError``.
        """
        vectors = self._item_vectors()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.maximum(norms, 1e-12)
        item_idx = np.atleast_1d(np.asarray(item_idx, dtype=np.int64))
        sims = unit[item_idx] @ unit.T  # (n_query, n_items)
        sims[np.arange(len(item_idx)), item_idx] = -np.inf
        return top_k(sims.astype(np.float32), k)

    def _item_vectors(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no item similarity")

    # ---------------------------------------------------------------- helpers for subclasses
    def _check_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() first")

    def _remember(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """Store the training matrix shape and history; returns it as float32 CSR."""
        if not sp.issparse(user_items):
            raise ConfigError("user_items must be a scipy.sparse matrix (n_users, n_items)")
        user_items = sp.csr_matrix(user_items, dtype=np.float32)
        self.n_users_, self.n_items_ = user_items.shape
        self.user_items_ = user_items
        return user_items

    def _history(self, user_idx: np.ndarray, user_items: sp.csr_matrix | None) -> sp.csr_matrix:
        """History rows for the query users, (len(user_idx), n_items) CSR float32."""
        self._check_fitted()
        if user_items is None:
            self._check_known(user_idx, "pass user_items for users unseen at fit")
            return self.user_items_[user_idx]
        if user_items.shape != (len(user_idx), self.n_items_):
            raise ConfigError(f"user_items must have shape ({len(user_idx)}, {self.n_items_}),"
                              f" one row per query user; got {user_items.shape}")
        return sp.csr_matrix(user_items, dtype=np.float32)

    def _check_known(self, user_idx: np.ndarray, hint: str) -> None:
        bad = (user_idx < 0) | (user_idx >= self.n_users_)
        if bad.any():
            raise UnknownIdError(f"user row {int(user_idx[bad][0])} was not seen at fit ({hint})")

    def _check_item_features(self, item_features: np.ndarray | None, n_items: int) -> np.ndarray:
        if item_features is None:
            raise ConfigError(f"{type(self).__name__} needs item_features (n_items, d)")
        item_features = np.asarray(item_features, dtype=np.float32)
        if item_features.ndim != 2 or item_features.shape[0] != n_items:
            raise ConfigError(f"item_features must be ({n_items}, d), got {item_features.shape}")
        return item_features

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write hyperparameters (JSON) and learned state (arrays) to one ``.npz``; returns path."""
        self._check_fitted()
        path = Path(path).with_suffix(".npz")
        meta, arrays = self._state()
        meta = {"format": _FORMAT, **meta}
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, __meta__=np.asarray(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Rebuild a model written by ``save`` (no pickle). ``Recommender.load`` picks the class."""
        try:
            with np.load(Path(path), allow_pickle=False) as npz:
                meta = json.loads(str(npz["__meta__"]))
                arrays = {key: npz[key] for key in npz.files if key != "__meta__"}
        except (OSError, ValueError, KeyError) as err:
            raise ConfigError(f"cannot read model file {path}: {err}") from None
        target = _model_class(meta["class"])
        if target is None or not issubclass(target, cls):
            raise ConfigError(f"{path} holds a {meta['class']}, not a {cls.__name__}")
        return target._from_state(meta, arrays)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Learned state as (JSON-serialisable meta, named arrays); ``_from_state`` inverts it.

        Attributes ending in ``_`` are kept: arrays, sparse matrices and dicts of arrays as
        arrays, anything else (ints, floats, lists) in the meta, which must then be JSON.
        """
        arrays: dict[str, np.ndarray] = {}
        kinds: dict[str, str] = {}
        plain: dict[str, Any] = {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                kinds[name], arrays[name] = "array", value
            elif sp.issparse(value):
                csr = sp.csr_matrix(value)
                kinds[name] = "csr"
                for part in ("data", "indices", "indptr"):
                    arrays[f"{name}{_SEP}{part}"] = getattr(csr, part)
                arrays[f"{name}{_SEP}shape"] = np.asarray(csr.shape, dtype=np.int64)
            elif isinstance(value, dict) and value and all(
                    isinstance(v, np.ndarray) for v in value.values()):
                kinds[name] = "dict"
                for key, arr in value.items():
                    arrays[f"{name}{_SEP}{key}"] = arr
            else:
                plain[name] = value  # ints, floats, lists (history_): must be JSON-serialisable
        meta = {"class": type(self).__name__, "params": self.get_params(), "kinds": kinds,
                "plain": plain}
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Recommender:
        """A model of this class with the state written by ``_state``."""
        model = cls(**meta["params"])
        for name, kind in meta["kinds"].items():
            prefix = f"{name}{_SEP}"
            if kind == "array":
                value: Any = arrays[name]
            elif kind == "csr":
                value = sp.csr_matrix((arrays[prefix + "data"], arrays[prefix + "indices"],
                                       arrays[prefix + "indptr"]),
                                      shape=tuple(arrays[prefix + "shape"]))
            else:
                value = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            setattr(model, name, value)
        for name, value in meta["plain"].items():
            setattr(model, name, value)
        return model


def _model_class(name: str) -> type[Recommender] | None:
    """The registered model class called ``name`` (as written by ``_state``), or None."""
    from . import MODELS  # late: the registry imports every model module

    return {model.__name__: model for model in MODELS.values()}.get(name)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns per row of ``scores`` (n, m), sorted; ``-inf`` entries become id -1.

    Uses argpartition (O(m) per row) then sorts only the ``k`` kept columns.
    """
    n, m = scores.shape
    k_eff = min(k, m)
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff] if k_eff < m else \
        np.broadcast_to(np.arange(m), (n, m))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    ids = np.take_along_axis(part, order, axis=1).astype(np.int64)
    top = np.take_along_axis(part_scores, order, axis=1).astype(np.float32)
    ids[~np.isfinite(top) & (top < 0)] = -1
    if k_eff < k:  # fewer columns than k: pad
        ids = np.pad(ids, ((0, 0), (0, k - k_eff)), constant_values=-1)
        top = np.pad(top, ((0, 0), (0, k - k_eff)), constant_values=-np.inf)
    return ids, top


def positive_pairs(user_items: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) int64 arrays, one entry per stored positive of the CSR matrix."""
    users = np.repeat(np.arange(user_items.shape[0], dtype=np.int64), np.diff(user_items.indptr))
    return users, user_items.indices.astype(np.int64)


def sample_negatives(user_items: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator,
                     *, rounds: int = 5) -> np.ndarray:
    """One uniformly drawn item per entry of ``users`` (n,) that the user has not interacted with.

    Collisions with positives are redrawn for a few vectorised rounds; the few that remain after
    that (users who saw nearly everything) are kept, which only adds a little noise.
    """
    n_items = user_items.shape[1]
    csr = user_items.tocsr()
    csr.sort_indices()
    # Positives as sorted keys user * n_items + item: membership is one searchsorted.
    keys = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr)) * n_items \
        + csr.indices
    items = rng.integers(0, n_items, size=len(users))
    for _ in range(rounds):
        probe = users * n_items + items
        pos = np.minimum(np.searchsorted(keys, probe), max(len(keys) - 1, 0))
        clash = keys[pos] == probe if len(keys) else np.zeros(len(users), bool)
        if not clash.any():
            break
        items[clash] = rng.integers(0, n_items, size=int(clash.sum()))
    return items.astype(np.int64)


def timestamp_kwargs(model: Recommender, timestamps: sp.csr_matrix | None) -> dict[str, Any]:
    """``{"timestamps": timestamps}`` for a model whose fit takes them, else ``{}``."""
    return {"timestamps": timestamps} if getattr(model, "uses_timestamps", False) else {}


def validation_split(user_items: sp.csr_matrix, fraction: float, *, seed: int
                     ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per-user hold-out of ``user_items`` (n_users, n_items) for early stopping and tuning.

    A thin adapter over the project's one per-user split, `recsys.evaluation.splits.
    stratified_split` with ``ratio = 1 - fraction``: each user with two or more entries keeps
    ``round((1 - fraction) * n_u)`` of them (at least one on each side) in the fit part. Returns
    ``(fit, val)``, two CSR float32 matrices of the input's shape whose entries partition the
    input's (values kept).
    """
    fit, val, _ = timed_validation_split(user_items, None, fraction, seed=seed)
    return fit, val


def timed_validation_split(user_items: sp.csr_matrix, timestamps: sp.csr_matrix | None,
                           fraction: float, *, seed: int
                           ) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix | None]:
    """`validation_split` that also carries event times: ``(fit, val, fit_timestamps)``.

    ``timestamps`` (n_users, n_items) CSR with ``user_items``' pattern (None: no times, and
    ``fit_timestamps`` is None); ``fit_timestamps`` has ``fit``'s pattern. The split is the same
    as `validation_split`'s for the same ``user_items`` and ``seed``: times do not steer it.
    """
    if not 0 < fraction < 1:
        raise ConfigError(f"validation fraction must be in (0, 1), got {fraction}")
    coo = sp.coo_matrix(user_items)
    n_users, n_items = coo.shape
    times = (np.zeros(coo.nnz, np.int64) if timestamps is None else
             np.asarray(sp.csr_matrix(timestamps)[coo.row, coo.col]).ravel().astype(np.int64))
    events = Interactions(coo.row, coo.col, coo.data, times,
                          IdMap(np.arange(n_users), kind="user"),
                          IdMap(np.arange(n_items), kind="item"))
    parts = stratified_split(events, ratio=1.0 - fraction, seed=seed)
    fit_times = None if timestamps is None else parts.train.to_timestamp_csr()
    return parts.train.to_csr(), parts.test.to_csr(), fit_times
