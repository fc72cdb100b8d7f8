"""A weighted ensemble of recommenders whose weights are chosen on a validation split carved
from the data it is fitted on.

Each member's scores for a user are standardised over the items the user has not interacted
with (z-score, or min-max to [0, 1]), so that members on different scales can be added; the
ensemble's score is the weighted sum::

    s_u = sum_m w_m * normalise(score_m(X_u))            (n_items,) per user

With ``weights=None``, ``fit(X)`` first splits ``X`` per user into a fit part and a validation
part (`recsys.models.base.validation_split`, stratified, ``validation_fraction`` held out), fits
every member on the fit part, and picks the weights by coordinate ascent over ``grid`` on
NDCG@``k`` of the validation part (the mean over ``validation_splits`` such splits, each with its
own seed); then it fits every member on the whole of ``X``. Members whose fit takes event times
(``uses_timestamps``) get ``fit(X, timestamps=T)``'s, split along with ``X``. Nothing but
``X`` is read, so an ensemble fitted on a benchmark's training part never sees its test part.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from recsys.evaluation.metrics import ranking_metrics

from ..errors import ConfigError
from .base import (_SEP, Recommender, _model_class, timed_validation_split, timestamp_kwargs,
                   top_k)

#: the members used when none are given (the closed forms plus iALS; MovieLens-tuned defaults)
DEFAULT_MEMBERS = {"ease": {}, "rp3beta": {}, "gfcf": {}, "ials": {}}
DEFAULT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
NORMALISATIONS = ("zscore", "minmax")
_VAL_CELLS = 40_000_000  # validation users x items x members held at once; more users: sampled


class Ensemble(Recommender):
    """Weighted sum of per-user normalised member scores; ``weights_`` {member: float}.

    Parameters
    ----------
    members : mapping, optional
        Member name (a key of ``recsys.models.MODELS``) -> that model's hyperparameters
        (``random_state`` is the ensemble's). None: `DEFAULT_MEMBERS`.
    weights : mapping, optional
        Fixed weight per member; None chooses them on a validation split of the fit data.
    normalise : str
        ``"zscore"`` (mean 0, standard deviation 1 over the user's unseen items) or
        ``"minmax"`` ([0, 1] over the same items).
    validation_fraction : float
        Share of each user's interactions held out to choose the weights.
    grid : sequence of float
        Candidate values per weight for the coordinate ascent (starting from all ones).
    passes : int
        Coordinate-ascent sweeps over the members.
    k : int
        Cut-off of the NDCG that the weights maximise.
    validation_splits : int
        Number of validation splits (seeds ``random_state + 1``, ``+ 2``, ...) whose mean NDCG@k
        the weights maximise; more splits cost a member fit each and make the weights less
        dependent on one split's luck.
    random_state : int
        Passed to every member; the first validation split uses ``random_state + 1``.

    Attributes
    ----------
    members_ : dict
        Name -> member fitted on all the data (members with weight 0 are left out).
    weights_ : dict
        Name -> weight used for scoring.
    validation_ndcg_ : dict
        ``{"ensemble": NDCG@k of the chosen weights, name: NDCG@k of each member alone}``, means
        over the validation splits (empty when ``weights`` was given).
    """

    #: fit takes ``timestamps`` and hands them (split with the validation part) to the members
    #: that use them
    uses_timestamps = True

    def __init__(self, members: Mapping[str, Mapping[str, Any]] | None = None,
                 weights: Mapping[str, float] | None = None, normalise: str = "zscore",
                 validation_fraction: float = 0.25, grid: tuple[float, ...] = DEFAULT_GRID,
                 passes: int = 3, k: int = 10, validation_splits: int = 1,
                 random_state: int = 0):
        self.members = members
        self.weights = weights
        self.normalise = normalise
        self.validation_fraction = validation_fraction
        self.grid = grid
        self.passes = passes
        self.k = k
        self.validation_splits = validation_splits
        self.random_state = random_state

    # ---------------------------------------------------------------- fit
    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None,
            timestamps: sp.csr_matrix | None = None) -> Ensemble:
        """``timestamps``: (n_users, n_items) CSR of event times with ``user_items``' pattern,
        for members with ``uses_timestamps``; None: those members see none."""
        specs = self._specs()
        if self.validation_splits < 1:
            raise ConfigError(f"validation_splits must be >= 1, got {self.validation_splits}")
        if self.normalise not in NORMALISATIONS:
            raise ConfigError(f"normalise must be one of {NORMALISATIONS}, got {self.normalise!r}")
        if self.weights is not None:
            unknown = set(self.weights) - set(specs)
            if unknown:
                raise ConfigError(f"weights for unknown member(s) {sorted(unknown)}")
        user_items = self._remember(user_items)
        features = dict(item_features=item_features, user_features=user_features)
        if self.weights is None:
            self.weights_, self.validation_ndcg_ = self._tune(specs, user_items, features,
                                                              timestamps)
        else:
            self.weights_ = {name: float(self.weights.get(name, 0.0)) for name in specs}
            self.validation_ndcg_ = {}
        if not any(self.weights_.values()):
            raise ConfigError("every ensemble weight is zero")
        # Members without weight are not refitted: they would not change a score.
        self.members_ = {}
        for name, params in specs.items():
            if self.weights_[name]:
                member = self._build(name, params)
                self.members_[name] = member.fit(user_items, **features,
                                                 **timestamp_kwargs(member, timestamps))
        return self

    def _specs(self) -> dict[str, dict[str, Any]]:
        from . import MODELS  # late: the registry imports this module

        specs = {name: dict(params or {}) for name, params in
                 (self.members if self.members is not None else DEFAULT_MEMBERS).items()}
        if not specs:
            raise ConfigError("an Ensemble needs at least one member")
        unknown = [name for name in specs if name not in MODELS or name == "ensemble"]
        if unknown:
            raise ConfigError(f"unknown ensemble member(s) {unknown}; choose from "
                              f"{', '.join(n for n in MODELS if n != 'ensemble')}")
        return specs

    def _build(self, name: str, params: Mapping[str, Any]) -> Recommender:
        from . import MODELS

        return MODELS[name](**params, random_state=self.random_state)

    def _tune(self, specs, user_items, features, timestamps
              ) -> tuple[dict[str, float], dict[str, float]]:
        """Weights by coordinate ascent on validation splits of ``user_items`` only."""
        # One (seen cells, held-out rows, {member: normalised scores}) per validation split.
        splits = [self._validation_scores(specs, user_items, features, timestamps, index)
                  for index in range(self.validation_splits)]

        def quality(weights: Mapping[str, float]) -> float:
            """Mean NDCG@k over the validation splits."""
            total = 0.0
            for (rows, cols), truth, normalised in splits:
                fused = _weighted_sum(normalised, weights)
                fused[rows, cols] = -np.inf
                total += ranking_metrics(top_k(fused, self.k)[0], truth, self.k)[f"ndcg@{self.k}"]
            return total / len(splits)

        alone = {name: quality({name: 1.0}) for name in specs}
        weights = dict.fromkeys(specs, 1.0)
        best = quality(weights)
        for _ in range(self.passes):
            improved = False
            for name in specs:
                for value in self.grid:
                    trial = {**weights, name: float(value)}
                    if not any(trial.values()):
                        continue
                    score = quality(trial)
                    if score > best + 1e-9:
                        best, weights, improved = score, trial, True
            if not improved:
                break
        return weights, {"ensemble": best, **alone}

    def _validation_scores(self, specs, user_items, features, timestamps, index: int):
        """Fit every member on validation split ``index``'s fit part (seed ``random_state + 1 +
        index``); returns ``((rows, cols) of the validation users' fit-part entries, their held-out
        CSR rows, {member: (n_val_users, n_items) normalised scores})``."""
        fit_part, val_part, fit_times = timed_validation_split(
            user_items, timestamps, self.validation_fraction, seed=self.random_state + 1 + index)
        users = np.flatnonzero(np.diff(val_part.indptr))
        if not len(users):
            raise ConfigError("the validation split left no held-out interactions to tune on")
        limit = max(1, _VAL_CELLS // (user_items.shape[1] * len(specs) * self.validation_splits))
        if len(users) > limit:
            rng = np.random.default_rng(self.random_state + index)
            users = np.sort(rng.choice(users, limit, replace=False))
        history, truth = fit_part[users], val_part[users]
        normalised = {}
        for name, params in specs.items():
            member = self._build(name, params)
            member.fit(fit_part, **features, **timestamp_kwargs(member, fit_times))
            normalised[name] = self._normalised(member.score(users, user_items=history), history)
        return history.nonzero(), truth, normalised

    # ---------------------------------------------------------------- score
    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        user_idx = np.atleast_1d(np.asarray(user_idx, dtype=np.int64))
        history = self._history(user_idx, user_items)
        parts = {}
        for name, member in self.members_.items():
            if self.weights_.get(name, 0.0):
                scores = member.score(user_idx, user_items=history, user_features=user_features)
                parts[name] = self._normalised(scores, history)
        return _weighted_sum(parts, self.weights_, shape=(len(user_idx), self.n_items_))

    def _normalised(self, scores: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """(n, n_items) scores standardised per row over the row's unseen items; float32."""
        scores = np.asarray(scores, dtype=np.float64)
        unseen = np.ones(scores.shape, bool)
        rows, cols = history.nonzero()
        unseen[rows, cols] = False
        count = np.maximum(unseen.sum(1, keepdims=True), 1)
        if self.normalise == "zscore":
            mean = np.where(unseen, scores, 0.0).sum(1, keepdims=True) / count
            var = np.where(unseen, (scores - mean) ** 2, 0.0).sum(1, keepdims=True) / count
            std = np.sqrt(var)
            out = (scores - mean) / np.where(std > 0, std, 1.0)
        else:
            lo = np.where(unseen, scores, np.inf).min(1, keepdims=True)
            hi = np.where(unseen, scores, -np.inf).max(1, keepdims=True)
            lo = np.where(np.isfinite(lo), lo, 0.0)
            span = np.where(np.isfinite(hi) & (hi > lo), hi - lo, 1.0)
            out = (scores - lo) / span
        return out.astype(np.float32)

    def similar_items(self, item_idx: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items the ensemble recommends to a user whose history is one item."""
        self._check_fitted()
        item_idx = np.atleast_1d(np.asarray(item_idx, dtype=np.int64))
        n = len(item_idx)
        one_hot = sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), item_idx)),
                                shape=(n, self.n_items_))
        scores = self.score(np.full(n, -1), user_items=one_hot)
        scores[np.arange(n), item_idx] = -np.inf
        return top_k(scores, k)

    # ---------------------------------------------------------------- persistence
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        members = self.__dict__.pop("members_")
        try:
            meta, arrays = super()._state()
        finally:
            self.members_ = members
        meta["members_state"] = {}
        for name, member in members.items():
            member_meta, member_arrays = member._state()
            meta["members_state"][name] = member_meta
            arrays.update({f"members{_SEP}{name}{_SEP}{key}": value
                           for key, value in member_arrays.items()})
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Ensemble:
        own = {key: value for key, value in arrays.items() if not key.startswith("members" + _SEP)}
        model = super()._from_state(meta, own)
        model.members_ = {}
        for name, member_meta in meta["members_state"].items():
            prefix = f"members{_SEP}{name}{_SEP}"
            member_arrays = {key[len(prefix):]: value for key, value in arrays.items()
                             if key.startswith(prefix)}
            model.members_[name] = _model_class(member_meta["class"])._from_state(
                member_meta, member_arrays)
        return model


def _weighted_sum(parts: Mapping[str, np.ndarray], weights: Mapping[str, float],
                  shape: tuple[int, int] | None = None) -> np.ndarray:
    """sum_m weights[m] * parts[m] (float32); zeros of ``shape`` when nothing has weight."""
    total = None
    for name, part in parts.items():
        weight = weights.get(name, 0.0)
        if weight:
            total = weight * part if total is None else total + weight * part
    if total is None:
        total = np.zeros(shape if shape is not None else next(iter(parts.values())).shape)
    return np.asarray(total, dtype=np.float32)
