"""User-item interactions and the id maps between outside ids and matrix rows/columns.

Models work on row numbers (``0..n-1``); people and files use outside ids (``"u42"``, ``1193``).
`IdMap` translates both ways (the LightFM ``Dataset`` habit) and names the unknown id in its
error. `Interactions` is the one container every loader returns and every split consumes: splits
keep the same id maps, so train and test matrices share one shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.errors import ConfigError, UnknownIdError


class IdMap:
    """Bijection between outside ids (ints or strings) and row numbers ``0..n-1``.

    Parameters
    ----------
    ids : sequence
        Distinct outside ids; position ``i`` gets row number ``i``.
    kind : str
        What the ids name (``"user"``, ``"item"``), used in error messages.
    """

    def __init__(self, ids: Sequence[Any], *, kind: str = "id"):
        self.kind = kind
        self._index = pd.Index(ids)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][0]
            raise ConfigError(f"duplicate {kind} id {dup!r} in id map")

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, outside_id: Any) -> bool:
        return outside_id in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._index.equals(other._index)

    def __repr__(self) -> str:
        return f"IdMap(kind={self.kind!r}, n={len(self)})"

    @property
    def values(self) -> np.ndarray:
        """Outside ids in row order, shape (n,)."""
        return self._index.to_numpy()

    def index(self, ids: Any) -> np.ndarray:
        """Row numbers of outside ``ids`` (scalar or sequence) as int64, shape (len(ids),).

        Raises
        ------
        UnknownIdError
            Naming the first id that is not in the map.
        """
        ids_arr = np.atleast_1d(np.asarray(ids))
        rows = self._index.get_indexer(ids_arr)
        if (rows < 0).any():
            bad = ids_arr[np.flatnonzero(rows < 0)[0]]
            bad = bad.item() if isinstance(bad, np.generic) else bad  # repr 'zz', not np.str_
            raise UnknownIdError(f"unknown {self.kind} id {bad!r} ({len(self)} known)")
        return rows.astype(np.int64)

    def ids(self, rows: Any) -> np.ndarray:
        """Outside ids of row numbers ``rows``, shape (len(rows),)."""
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise UnknownIdError(f"{self.kind} row out of range 0..{len(self) - 1}")
        return self.values[rows]


@dataclass(frozen=True)
class Interactions:
    """Implicit-feedback events: one row per (user, item, weight, timestamp).

    Attributes
    ----------
    user_idx, item_idx : np.ndarray
        Row numbers into ``user_ids`` / ``item_ids``, int64, shape (n_events,).
    weight : np.ndarray
        Strength of each event (rating, play count, 1.0), float32, shape (n_events,).
    timestamp : np.ndarray
        Seconds since the epoch, int64, shape (n_events,); all zeros when unknown.
    user_ids, item_ids : IdMap
        Outside ids; ``n_users``/``n_items`` are their lengths, so users or items without events
        in a split still own a row/column.
    """

    user_idx: np.ndarray
    item_idx: np.ndarray
    weight: np.ndarray
    timestamp: np.ndarray
    user_ids: IdMap = field(repr=False)
    item_ids: IdMap = field(repr=False)

    def __post_init__(self) -> None:
        # Frozen: normalise dtypes through object.__setattr__ once, here.
        for name, dtype in (("user_idx", np.int64), ("item_idx", np.int64),
                            ("weight", np.float32), ("timestamp", np.int64)):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))
        n = len(self.user_idx)
        if not (len(self.item_idx) == len(self.weight) == len(self.timestamp) == n):
            raise ConfigError("user_idx, item_idx, weight and timestamp must have the same length")
        for rows, ids in ((self.user_idx, self.user_ids), (self.item_idx, self.item_ids)):
            if n and (rows.min() < 0 or rows.max() >= len(ids)):
                raise ConfigError(f"{ids.kind} row numbers out of range 0..{len(ids) - 1}")

    def __len__(self) -> int:
        return len(self.user_idx)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def has_time(self) -> bool:
        """True when at least one timestamp is set (zeros mean "unknown")."""
        return bool(len(self) and self.timestamp.any())

    def to_csr(self, *, binary: bool = False) -> sp.csr_matrix:
        """User-item matrix, shape (n_users, n_items), float32; duplicate events are summed.

        ``binary=True`` sets every stored entry to 1 (each event an implicit positive).
        """
        mat = sp.csr_matrix((self.weight, (self.user_idx, self.item_idx)),
                            shape=(self.n_users, self.n_items), dtype=np.float32)
        mat.sum_duplicates()
        if binary:
            mat.data[:] = 1.0
        return mat

    def to_timestamp_csr(self) -> sp.csr_matrix:
        """When each user met each item: (n_users, n_items) float64 CSR of seconds since the
        epoch, the latest event's where a pair repeats; the entries are `to_csr`'s.

        Timestamps of 0 (unknown) are stored explicitly, so the pattern still matches.
        """
        # Latest first, then the first occurrence of each (user, item) pair is its latest event.
        order = np.lexsort((-self.timestamp, self.item_idx, self.user_idx))
        pairs = self.user_idx[order] * self.n_items + self.item_idx[order]
        first = np.ones(len(order), bool)
        first[1:] = pairs[1:] != pairs[:-1]
        keep = order[first]
        # Sorted by (user, item) and duplicate-free: the CSR arrays can be built directly.
        indptr = np.concatenate([[0], np.cumsum(np.bincount(self.user_idx[keep],
                                                            minlength=self.n_users))])
        return sp.csr_matrix((self.timestamp[keep].astype(np.float64), self.item_idx[keep],
                              indptr), shape=(self.n_users, self.n_items))

    def subset(self, rows: np.ndarray) -> Interactions:
        """Events selected by a boolean mask or index array, keeping both id maps."""
        return Interactions(self.user_idx[rows], self.item_idx[rows], self.weight[rows],
                            self.timestamp[rows], self.user_ids, self.item_ids)

    def to_frame(self) -> pd.DataFrame:
        """Events with outside ids: columns user_id, item_id, weight, timestamp."""
        return pd.DataFrame({"user_id": self.user_ids.values[self.user_idx],
                             "item_id": self.item_ids.values[self.item_idx],
                             "weight": self.weight, "timestamp": self.timestamp})

    @classmethod
    def from_frame(cls, df: pd.DataFrame, user_col: str, item_col: str,
                   weight_col: str | None = None, time_col: str | None = None, *,
                   item_ids: Sequence[Any] | None = None) -> Interactions:
        """Build from a DataFrame of events.

        Ids are numbered in order of first appearance (deterministic for a given frame);
        ``item_ids`` fixes the item numbering instead (e.g. a catalog that includes items
        nobody has interacted with yet). Missing weights are 1, missing times 0.
        """
        missing = [c for c in (user_col, item_col, weight_col, time_col) if c and c not in df]
        if missing:
            raise ConfigError(f"columns {missing} not in frame (has {list(df.columns)})")
        users, user_values = pd.factorize(df[user_col], sort=False)
        if item_ids is None:
            items, item_values = pd.factorize(df[item_col], sort=False)
        else:
            item_values = pd.Index(item_ids)
            items = IdMap(item_values, kind="item").index(df[item_col].to_numpy())
        n = len(df)
        weight = df[weight_col].to_numpy(np.float32) if weight_col else np.ones(n, np.float32)
        stamp = df[time_col].to_numpy(np.int64) if time_col else np.zeros(n, np.int64)
        return cls(users, items, weight, stamp,
                   IdMap(user_values, kind="user"), IdMap(item_values, kind="item"))
