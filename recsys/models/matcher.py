"""The learned matching network of the founding design: ``M(concat[p_u, f_v]) -> score``.

``f_v`` is an item's content vector; ``p_u`` is the user's preference vector, the mean of the
content vectors of the user's history, concatenated with optional ``user_features`` (say a
persona's text embedding). An MLP scores the pair; it is trained with Adam on observed pairs
against sampled negatives, with early stopping on a validation split carved from the training
matrix. While training, ``p_u`` for a positive pair leaves that item out of the mean, so the
network learns to predict unseen items rather than to recognise an item inside its own profile.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..device import get_device
from ..errors import ConfigError
from .base import Recommender, positive_pairs, sample_negatives, top_k

# Floats in the (users, item chunk, hidden) block scored at once. On a CPU the ReLU and the second
# layer should read the block from cache, not memory: a sweep on this project's 2-core AMD EPYC
# (1 MB L2 per core; one user, 10k and 100k items) measured 2^18 floats (1 MB) fastest, 3.7-4.0 M
# items/s on one thread and 6.4-6.7 M on two, against 2.6-3.8 / 4.0-6.2 M at 2^20 and 2.7 / 3.3 M
# at 2^15. A GPU wants large blocks.
_CHUNK_CELLS = {"cpu": 1 << 18, "cuda": 1 << 25}


class Matcher(Recommender):
    """MLP over ``concat[p_u, user_features_u, f_v]``.

    Parameters
    ----------
    hidden : sequence of int
        Hidden layer widths (ReLU between layers).
    epochs : int
        Maximum passes over the training pairs.
    lr, weight_decay : float
        Adam settings.
    batch_size : int
        Positive pairs per step.
    negatives : int
        Uniformly sampled unobserved items per positive.
    loss : {"bpr", "bce"}
        Pairwise ``-log sigmoid(s_pos - s_neg)`` or pointwise binary cross-entropy.
    validation_fraction : float
        Share of each user's interactions held out for early stopping (users with at least
        ``1 / validation_fraction`` interactions contribute).
    monitor : {"ndcg", "loss"}
        Early-stopping criterion: validation NDCG@10 (higher is better) or validation loss.
    patience : int
        Epochs without improvement before stopping; the best epoch's weights are kept.
    eval_users : int
        Validation users sampled for NDCG@10 (bounds the cost of each epoch's check).
    device : str or None
        torch device; ``None`` picks CUDA when present.
    random_state : int
        Seeds initialisation, splitting, shuffling and sampling.
    """

    requires_item_features = True

    def __init__(self, hidden: tuple[int, ...] = (128, 64), epochs: int = 30, lr: float = 1e-3,
                 weight_decay: float = 1e-6, batch_size: int = 1024, negatives: int = 2,
                 loss: str = "bpr", validation_fraction: float = 0.1, monitor: str = "ndcg",
                 patience: int = 3, eval_users: int = 500, device: str | None = None,
                 random_state: int = 0):
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.negatives = negatives
        self.loss = loss
        self.validation_fraction = validation_fraction
        self.monitor = monitor
        self.patience = patience
        self.eval_users = eval_users
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> Matcher:
        import torch

        self._check_options()
        features = self._check_item_features(item_features, user_items.shape[1])
        user_items = self._remember(user_items)
        device = get_device(self.device)
        rng = np.random.default_rng(self.random_state)

        for stale in ("user_mean_", "user_scale_", "user_matrix_"):  # from an earlier fit
            self.__dict__.pop(stale, None)
        # Standardise columns so one wide-ranged feature cannot dominate the first layer.
        self.feature_mean_ = features.mean(0)
        self.feature_scale_ = features.std(0) + 1e-6
        self.item_matrix_ = (features - self.feature_mean_) / self.feature_scale_  # (n_items, d)
        if user_features is not None:
            user_features = np.asarray(user_features, dtype=np.float32)
            if user_features.shape[0] != self.n_users_ or user_features.ndim != 2:
                raise ConfigError(f"user_features must be ({self.n_users_}, d_u), "
                                  f"got {user_features.shape}")
            self.user_mean_ = user_features.mean(0)
            self.user_scale_ = user_features.std(0) + 1e-6
            self.user_matrix_ = (user_features - self.user_mean_) / self.user_scale_
        d_u = self.user_matrix_.shape[1] if hasattr(self, "user_matrix_") else 0

        fit_part, val_part = _holdout(user_items, self.validation_fraction, rng)
        with torch.random.fork_rng():  # seed the layer initialisation without global effects
            torch.manual_seed(self.random_state)
            net = _build_net(2 * features.shape[1] + d_u, self.hidden).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        items_t = torch.from_numpy(self.item_matrix_).to(device)
        users_t = (torch.from_numpy(self.user_matrix_).to(device) if d_u else None)
        sums_t = torch.from_numpy(np.asarray(fit_part @ self.item_matrix_)).to(device)
        totals_t = torch.from_numpy(np.asarray(fit_part.sum(1)).ravel()).to(device)
        users, items = positive_pairs(fit_part)
        weights = fit_part.data.astype(np.float32)
        val_users = _eval_users(val_part, self.eval_users, rng)
        fixed = np.random.default_rng(self.random_state + 1)  # same val negatives every epoch
        val_pairs = positive_pairs(val_part)
        val_neg = sample_negatives(user_items, val_pairs[0], fixed)

        history: dict[str, list] = {"train_loss": [], "val_loss": [], "val_ndcg": []}
        best, best_state, waited = None, None, 0
        for epoch in range(self.epochs):
            net.train()
            order = np.repeat(rng.permutation(len(users)), self.negatives)
            neg = sample_negatives(fit_part, users[order], rng)
            batch = self.batch_size * self.negatives
            tensors = [torch.from_numpy(a).to(device)
                       for a in (users[order], items[order], neg, weights[order])]
            total = torch.zeros((), device=device)
            for start in range(0, len(order), batch):
                u, i, j, w = (t[start:start + batch] for t in tensors)
                # Leave-one-out profile: remove the positive item from the user's mean.
                p = (sums_t[u] - w[:, None] * items_t[i]) / (totals_t[u] - w).clamp_min(
                    1e-6)[:, None]
                loss = self._loss(net, p, users_t[u] if d_u else None, items_t[i], items_t[j])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.detach() * len(u)
            history["train_loss"].append(float(total) / max(len(order), 1))
            net.eval()
            with torch.no_grad():
                val_loss = self._val_loss(net, val_pairs, val_neg, sums_t, totals_t, items_t,
                                          users_t)
                val_ndcg = self._val_ndcg(net, val_users, fit_part, val_part, items_t, users_t)
            history["val_loss"].append(val_loss)
            history["val_ndcg"].append(val_ndcg)
            current = val_ndcg if self.monitor == "ndcg" else -val_loss
            if np.isnan(current):  # no validation users (tiny data): follow the training loss
                current = -history["train_loss"][-1]
            if best is None or current > best:
                best, waited = current, 0
                best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
                history["best_epoch"] = epoch
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self.net_state_ = {k: v.numpy() for k, v in best_state.items()}
        self.history_ = history
        self._net_cache = self._item_half_cache = None
        return self

    def _check_options(self) -> None:
        if self.loss not in ("bpr", "bce") or self.monitor not in ("ndcg", "loss"):
            raise ConfigError("Matcher loss must be 'bpr'|'bce' and monitor 'ndcg'|'loss'")
        if not 0 < self.validation_fraction < 1 or self.epochs < 1 or self.negatives < 1:
            raise ConfigError("Matcher needs 0 < validation_fraction < 1, epochs >= 1, "
                              "negatives >= 1")

    def _loss(self, net, p, user_feats, pos_items, neg_items):
        import torch.nn.functional as F

        s_pos = _pair_scores(net, p, user_feats, pos_items)
        s_neg = _pair_scores(net, p, user_feats, neg_items)
        if self.loss == "bpr":
            return F.softplus(s_neg - s_pos).mean()  # -log sigmoid(pos - neg); see bpr.py
        return (F.softplus(-s_pos) + F.softplus(s_neg)).mean()  # BCE: 1 for pos, 0 for neg

    def _val_loss(self, net, pairs, neg, sums_t, totals_t, items_t, users_t) -> float:
        import torch

        if not len(neg):
            return float("nan")
        u, i = (torch.from_numpy(a).to(sums_t.device) for a in pairs)
        j = torch.from_numpy(neg).to(sums_t.device)
        # Validation items are not in the fit-part sums, so the plain mean is the right profile.
        p = sums_t[u] / totals_t[u].clamp_min(1e-6)[:, None]
        return float(self._loss(net, p, users_t[u] if users_t is not None else None,
                                items_t[i], items_t[j]))

    def _val_ndcg(self, net, val_users, fit_part, val_part, items_t, users_t) -> float:
        from recsys.evaluation.metrics import ndcg_at_k

        if not len(val_users):
            return float("nan")
        history = fit_part[val_users]
        profiles = _mean_profile(history, self.item_matrix_)
        feats = self.user_matrix_[val_users] if users_t is not None else None
        scores = _score_all(net, profiles, feats, _item_half(net, items_t))
        rows, cols = history.nonzero()
        scores[rows, cols] = -np.inf
        ids, _ = top_k(scores, 10)
        return ndcg_at_k(ids, val_part[val_users], 10)

    # ------------------------------------------------------------------ score
    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None, items: np.ndarray | None = None) -> np.ndarray:
        """(n_users, n_items) scores; with ``items`` (m,) catalog rows, (n_users, m) for those."""
        user_idx = np.atleast_1d(np.asarray(user_idx, dtype=np.int64))
        history = self._history(user_idx, user_items)
        profiles = _mean_profile(history, self.item_matrix_)  # (n, d)
        feats = None
        if user_features is not None and not hasattr(self, "user_matrix_"):
            raise ConfigError("this Matcher was fitted without user_features")
        if hasattr(self, "user_matrix_"):
            if user_features is not None:
                feats = (np.asarray(user_features, np.float32) - self.user_mean_) / self.user_scale_
            else:
                self._check_known(user_idx, "pass user_features for users unseen at fit")
                feats = self.user_matrix_[user_idx]
        return _score_all(self._net(), profiles, feats, self._item_half(items))

    def score_profiles(self, features: np.ndarray, *, user_features: np.ndarray | None = None,
                       items: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for preference vectors given directly as raw item features.

        ``features`` (n, d) are in the space of the ``item_features`` given to ``fit`` (e.g. a
        brand-new clip's content vector as a one-item history); ``user_features`` (n, d_u).
        Returns (n, n_items) float32, or (n, m) for the catalog rows ``items`` (m,) when given.
        """
        self._check_fitted()
        profiles = ((np.atleast_2d(np.asarray(features, np.float32)) - self.feature_mean_)
                    / self.feature_scale_).astype(np.float32)
        feats = None
        if hasattr(self, "user_matrix_"):
            uf = (np.zeros((len(profiles), self.user_matrix_.shape[1]), np.float32)
                  if user_features is None else np.asarray(user_features, np.float32))
            feats = ((uf - self.user_mean_) / self.user_scale_).astype(np.float32)
        return _score_all(self._net(), profiles, feats, self._item_half(items))

    def _net(self):
        """The torch network rebuilt from ``net_state_`` once (also after ``load``)."""
        import torch

        if getattr(self, "_net_cache", None) is None:
            in_dim = self.net_state_["0.weight"].shape[1]
            net = _build_net(in_dim, self.hidden)
            net.load_state_dict({k: torch.from_numpy(np.array(v))
                                 for k, v in self.net_state_.items()})
            self._net_cache = net.to(get_device(self.device)).eval()
            self._item_half_cache = None
        return self._net_cache

    def _item_half(self, items: np.ndarray | None = None):
        """The item side of the first layer for every catalog item, (n_items, hidden[0]) on the
        scoring device, or its rows ``items`` (m,). It does not depend on the user, so it is
        computed once per fitted model (its attribute starts with ``_``, so ``save`` leaves it
        out) and every query reuses it."""
        import torch

        if items is not None:
            full = self._item_half()
            return full.index_select(0, torch.from_numpy(np.asarray(items, np.int64)).to(full.device))

        net = self._net()
        if getattr(self, "_item_half_cache", None) is None:
            items_t = torch.from_numpy(np.ascontiguousarray(self.item_matrix_, np.float32))
            self._item_half_cache = _item_half(net, items_t.to(next(net.parameters()).device))
        return self._item_half_cache

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_matrix_


def _build_net(in_dim: int, hidden) -> "torch.nn.Sequential":  # noqa: F821
    import torch

    layers, width = [], in_dim
    for h in hidden:
        layers += [torch.nn.Linear(width, int(h)), torch.nn.ReLU()]
        width = int(h)
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


def _pair_scores(net, p, user_feats, item_feats):
    """Scores of aligned (profile, item) rows, (b,)."""
    import torch

    parts = [p] + ([user_feats] if user_feats is not None else []) + [item_feats]
    return net(torch.cat(parts, dim=1)).squeeze(1)


def _item_half(net, items_t) -> "torch.Tensor":  # noqa: F821
    """``items @ W_item.T``, (n_items, h): the item columns of the first layer's weight (the
    concatenation puts the item features last) applied to every item, on ``items_t``'s device."""
    import torch

    first = net[0]
    with torch.inference_mode():
        return items_t @ first.weight[:, -items_t.shape[1]:].T


def _score_all(net, profiles: np.ndarray, user_feats: np.ndarray | None, item_half) -> np.ndarray:
    """Every (user, item) score, (n_users, n_items) float32.

    The first layer splits over the concatenation, ``W [p; u; f] = W_p p + W_u u + W_f f``: the
    user half (n, h) is computed here, the item half (n_items, h) comes precomputed (see
    :func:`_item_half`), and the two are broadcast-added, so only the later layers see the
    (n, chunk, h) blocks. Items go in chunks sized by :data:`_CHUNK_CELLS` for the device.
    The layers are applied by hand (``addmm``, in-place ReLU, one ``mv`` for the last) rather
    than through the modules: fewer temporaries and thread hand-offs per chunk, the same scores
    (tests/test_bench.py); the speed-up is in benchmarks/README.md.
    """
    import torch

    device = item_half.device
    n_items = item_half.shape[0]
    linears = _linear_layers(net)
    first, hidden, last = linears[0], linears[1:-1], linears[-1]
    with torch.inference_mode():
        user_in = torch.from_numpy(np.ascontiguousarray(profiles, np.float32)).to(device)
        if user_feats is not None:
            feats = torch.from_numpy(np.ascontiguousarray(user_feats, np.float32)).to(device)
            user_in = torch.cat([user_in, feats], dim=1)
        if not len(user_in):
            return np.zeros((0, n_items), np.float32)
        n = len(user_in)
        user_half = user_in @ first.weight[:, :user_in.shape[1]].T + first.bias  # (n, h)
        cells = _CHUNK_CELLS["cuda" if device.type == "cuda" else "cpu"]
        chunk = max(64, cells // (n * first.out_features))
        out = torch.empty((n, n_items), dtype=torch.float32, device=device)
        w_last = last.weight[0]
        for s in range(0, n_items, chunk):
            block = torch.add(item_half[None, s:s + chunk], user_half[:, None, :]).relu_()
            h = block.reshape(-1, block.shape[-1])                       # (n * c, h)
            for layer in hidden:
                h = torch.addmm(layer.bias, h, layer.weight.T).relu_()
            out[:, s:s + chunk] = torch.mv(h, w_last).view(n, -1)
        out.add_(last.bias)
        return out.cpu().numpy()


def _linear_layers(net) -> list:
    """The ``Linear`` layers of a :func:`_build_net` network (Linear, ReLU, ..., Linear)."""
    import torch

    layers = list(net)
    expected = [torch.nn.Linear, torch.nn.ReLU] * ((len(layers) - 1) // 2) + [torch.nn.Linear]
    if [type(m) for m in layers] != expected or layers[-1].out_features != 1:
        raise ConfigError("matcher network must be Linear, ReLU, ..., Linear(-, 1) as _build_net makes it")
    return layers[::2]


def _mean_profile(history: sp.csr_matrix, item_matrix: np.ndarray) -> np.ndarray:
    """Weighted mean of history item vectors, (n, d) float32; zeros for empty histories."""
    totals = np.asarray(history.sum(1)).ravel()
    sums = np.asarray(history @ item_matrix)
    return (sums / np.maximum(totals, 1e-6)[:, None]).astype(np.float32)


def _holdout(user_items: sp.csr_matrix, fraction: float, rng: np.random.Generator
             ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split each user's entries: floor(fraction * n_u) random ones to validation, rest to fit."""
    counts = np.diff(user_items.indptr)
    users = np.repeat(np.arange(user_items.shape[0]), counts)
    # Rank of each entry within its user under a random order (lexsort: user, then random key).
    order = np.lexsort((rng.random(len(users)), users))
    rank = np.empty(len(users), np.int64)
    rank[order] = np.arange(len(users)) - np.repeat(user_items.indptr[:-1], counts)
    to_val = rank < np.floor(fraction * counts)[users]
    coo = user_items.tocoo()
    parts = []
    for mask in (~to_val, to_val):
        parts.append(sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])),
                                   shape=user_items.shape, dtype=np.float32))
    return parts[0], parts[1]


def _eval_users(val_part: sp.csr_matrix, limit: int, rng: np.random.Generator) -> np.ndarray:
    users = np.flatnonzero(np.diff(val_part.indptr))
    if len(users) > limit:
        users = np.sort(rng.choice(users, size=limit, replace=False))
    return users
