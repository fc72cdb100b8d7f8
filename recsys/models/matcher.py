"""The learned matching network of the founding design: ``M(concat[p_u, f_v]) -> score``.

Architecture (shapes for ``n_items`` items, ``d_c`` content dims, ``d_e = embedding_dim``,
``d_u`` user-feature dims, ``n`` query users)::

    x_v  (n_items, d_c)   content vector, standardised per column (kept from fit)
    e_v  (n_items, d_e)   learned item embedding; for an item with no interaction at fit or
                          not in the catalog at fit, predicted from x_v (``content_map_``,
                          a ridge map (d_c, d_e) fitted on the other items): content alone
    f_v = [x_v, e_v]      (n_items, d_c + d_e)      item features
    a_v  (n_items,)       learned pooling logit of each item
    h_u = sum_j X_uj exp(a_j) f_j / sum_j X_uj exp(a_j)   (n, d_c + d_e)
                          learned (attention-weighted) pooling of the user's history X_u
    q_u  (n, d_e)         learned user embedding; zeros for a user unseen at fit (-1)
    z_u  (n, d_u)         optional user side features (say a persona's text), standardised
    p_u = [h_u, q_u]      (n, d_c + 2 d_e)
    M    MLP over concat[p_u, z_u, f_v]: Linear -> ReLU -> ... -> Linear(., 1)

Training (Adam): each epoch every user's fit-part history is split again into an input part
and a target part (``mask_fraction`` of it) with the project's per-user split
(`recsys.evaluation.splits.stratified_split`, through `validation_split`); ``p_u`` pools only
the input part, so the network learns to predict items the user has not shown it, as at test
time. For a batch of users the candidates are the batch's targets plus ``negatives`` uniformly
sampled items (shared by the batch); the loss is a sampled softmax over those candidates (each user's
input items masked out), or BPR over every (target, non-target candidate) pair. ID dropout
zeroes, at rate ``id_dropout``, item embeddings (per batch), users' pooled embedding parts and
user embeddings, so that content-only items, content-only profiles and anonymous users are all
inputs the network has seen. Early stopping watches NDCG@10 on a per-user validation hold-out
of the training matrix (`validation_split`); with ``refit`` the network is then retrained from
scratch on the whole matrix for the best number of epochs.

Uses: a known user (their row and history), an anonymous history (row -1 with ``user_items``),
a content query (`score_profiles`: a clip's content vector as a one-item history), and a new
clip scored from its content alone (`score_new_items`). Runs on CUDA when present
(`recsys.device.get_device`).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..device import get_device
from ..errors import ConfigError
from .base import Recommender, top_k, validation_split

# Floats in the (users, item chunk, hidden) block scored at once. On a CPU the ReLU and the second
# layer should read the block from cache, not memory: a sweep on this project's 2-core AMD EPYC
# (1 MB L2 per core; one user, 10k and 100k items) measured 2^18 floats (1 MB) fastest, 3.7-4.0 M
# items/s on one thread and 6.4-6.7 M on two, against 2.6-3.8 / 4.0-6.2 M at 2^20 and 2.7 / 3.3 M
# at 2^15. A GPU wants large blocks.
_CHUNK_CELLS = {"cpu": 1 << 18, "cuda": 1 << 25}


class Matcher(Recommender):
    """MLP over ``concat[p_u, z_u, f_v]`` with learned item/user embeddings and history pooling.

    Parameters
    ----------
    hidden : sequence of int
        Hidden layer widths (ReLU between layers).
    embedding_dim : int
        ``d_e``, width of the learned item and user embeddings; 0 gives a content-only matcher.
    epochs : int
        Maximum passes over the users.
    lr, weight_decay : float
        Adam settings (``weight_decay`` is an L2 penalty on every parameter).
    batch_size : int
        Users per step.
    negatives : int
        Uniformly sampled items added to each batch's candidates (shared by the batch).
    mask_fraction : float
        Share of each user's history turned into targets each epoch (the rest is the input).
    id_dropout : float
        Rate at which item embeddings, pooled embedding parts and user embeddings are zeroed
        while training (see the module docstring).
    loss : {"softmax", "bpr"}
        Sampled softmax over the candidates, or ``-log sigmoid(s_target - s_other)`` averaged
        over target / non-target candidate pairs.
    validation_fraction : float
        Share of each user's interactions held out for early stopping.
    patience : int
        Epochs without a better validation NDCG@10 before stopping.
    refit : bool
        Retrain on the whole matrix for the best epoch count (True), or keep the network of the
        best epoch, trained without the validation part (False).
    eval_users : int
        Validation users sampled for NDCG@10 (bounds the cost of each epoch's check).
    device : str or None
        torch device; ``None`` picks CUDA when present.
    random_state : int
        Seeds initialisation, splitting, shuffling, sampling and dropout.
    """

    requires_item_features = True

    def __init__(self, hidden: tuple[int, ...] = (256,), embedding_dim: int = 64,
                 epochs: int = 60, lr: float = 3e-3, weight_decay: float = 1e-6,
                 batch_size: int = 128, negatives: int = 256, mask_fraction: float = 0.25,
                 id_dropout: float = 0.1, loss: str = "softmax",
                 validation_fraction: float = 0.1, patience: int = 5, refit: bool = True,
                 eval_users: int = 500, device: str | None = None, random_state: int = 0):
        self.hidden = hidden
        self.embedding_dim = embedding_dim
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.negatives = negatives
        self.mask_fraction = mask_fraction
        self.id_dropout = id_dropout
        self.loss = loss
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.refit = refit
        self.eval_users = eval_users
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> Matcher:
        self._check_options()
        features = self._check_item_features(item_features, user_items.shape[1])
        user_items = self._remember(user_items)
        for stale in ("user_mean_", "user_scale_", "user_matrix_"):  # from an earlier fit
            self.__dict__.pop(stale, None)
        # Standardise columns so one wide-ranged feature cannot dominate the first layer.
        self.feature_mean_ = features.mean(0)
        self.feature_scale_ = features.std(0) + 1e-6
        content = ((features - self.feature_mean_) / self.feature_scale_).astype(np.float32)
        if user_features is not None:
            user_features = np.asarray(user_features, dtype=np.float32)
            if user_features.ndim != 2 or user_features.shape[0] != self.n_users_:
                raise ConfigError(f"user_features must be ({self.n_users_}, d_u), "
                                  f"got {user_features.shape}")
            self.user_mean_ = user_features.mean(0)
            self.user_scale_ = user_features.std(0) + 1e-6
            self.user_matrix_ = (user_features - self.user_mean_) / self.user_scale_

        fit_part, val_part = validation_split(user_items, self.validation_fraction,
                                              seed=self.random_state)
        history: dict = {"train_loss": [], "val_ndcg": []}
        state = self._train(content, fit_part, val_part, self.epochs, history)
        if self.refit and history["best_epoch"] is not None:
            refit_history: dict = {"train_loss": [], "val_ndcg": []}
            state = self._train(content, user_items, None, history["best_epoch"] + 1,
                                refit_history)
            history["refit_train_loss"] = refit_history["train_loss"]
        embedding = state.pop("item_embedding")
        # An item nobody interacted with only ever served as a negative, so its embedding says
        # nothing: like a new clip, it gets the embedding its content predicts (ridge map
        # content -> embedding, fitted on the items with interactions).
        warm = np.diff(user_items.tocsc().indptr) > 0
        self.content_map_ = _ridge(content[warm], embedding[warm])           # (d_c, d_e)
        embedding[~warm] = content[~warm] @ self.content_map_
        self.item_matrix_ = np.hstack([content, embedding])  # (n_items, d_c + d_e)
        self.pool_logits_ = state.pop("pool_logits")                           # (n_items,)
        self.user_embedding_ = state.pop("user_embedding")                     # (n_users, d_e)
        self.net_state_ = state
        self.history_ = history
        self._net_cache = self._item_half_cache = None
        return self

    def _check_options(self) -> None:
        if self.loss not in ("softmax", "bpr"):
            raise ConfigError(f"Matcher loss must be 'softmax' or 'bpr', got {self.loss!r}")
        if not (0 < self.validation_fraction < 1 and 0 < self.mask_fraction < 1
                and 0 <= self.id_dropout < 1):
            raise ConfigError("Matcher needs 0 < validation_fraction, mask_fraction < 1 and "
                              "0 <= id_dropout < 1")
        if self.epochs < 1 or self.batch_size < 1 or self.negatives < 0 or self.embedding_dim < 0:
            raise ConfigError("Matcher needs epochs, batch_size >= 1; negatives, "
                              "embedding_dim >= 0")

    def _train(self, content: np.ndarray, train: sp.csr_matrix, val: sp.csr_matrix | None,
               epochs: int, history: dict) -> dict[str, np.ndarray]:
        """Train from a fresh seeded start on ``train``; returns the best state as numpy arrays.

        With ``val`` the state of the epoch with the best validation NDCG@10 is returned (early
        stopping after ``patience`` epochs without one); without it, the last epoch's.
        """
        import torch

        device = get_device(self.device)
        rng = np.random.default_rng(self.random_state)
        n_users, n_items = train.shape
        d_c, d_e = content.shape[1], self.embedding_dim
        d_u = self.user_matrix_.shape[1] if hasattr(self, "user_matrix_") else 0
        gen = torch.Generator().manual_seed(self.random_state)
        with torch.random.fork_rng():  # seed the layer initialisation without global effects
            torch.manual_seed(self.random_state)
            net = _build_net(2 * (d_c + d_e) + d_e + d_u, self.hidden).to(device)
        params = {
            "item_embedding": torch.randn(n_items, d_e, generator=gen) * 0.1,
            "pool_logits": torch.zeros(n_items),
            "user_embedding": torch.randn(n_users, d_e, generator=gen) * 0.1,
        }
        params = {k: v.to(device).requires_grad_() for k, v in params.items()}
        opt = torch.optim.Adam([*net.parameters(), *params.values()], lr=self.lr,
                               weight_decay=self.weight_decay)
        content_t = torch.from_numpy(content).to(device)
        user_t = torch.from_numpy(self.user_matrix_).to(device) if d_u else None
        val_users = _eval_users(val, self.eval_users, rng) if val is not None else np.zeros(0, int)

        best, best_state, waited = None, None, 0
        history["best_epoch"] = None
        for epoch in range(epochs):
            net.train()
            # A fresh input / target split of every user's history, by the project's one split.
            inputs, targets = validation_split(train, self.mask_fraction,
                                               seed=int(rng.integers(2**31)))
            users = rng.permutation(np.flatnonzero(np.diff(targets.indptr)))
            total, count = 0.0, 0
            for start in range(0, len(users), self.batch_size):
                batch = users[start:start + self.batch_size]
                loss = self._batch_loss(net, params, content_t, user_t, inputs[batch],
                                        targets[batch], batch, rng)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, count = total + float(loss.detach()) * len(batch), count + len(batch)
            history["train_loss"].append(total / max(count, 1))
            if val is None:
                continue
            with torch.no_grad():
                ndcg = self._val_ndcg(net, params, content, train, val, val_users)
            history["val_ndcg"].append(ndcg)
            current = ndcg if not np.isnan(ndcg) else -history["train_loss"][-1]
            if best is None or current > best:
                best, waited, history["best_epoch"] = current, 0, epoch
                best_state = _numpy_state(net, params)
            else:
                waited += 1
                if waited >= self.patience:
                    break
        return best_state if val is not None else _numpy_state(net, params)

    def _batch_loss(self, net, params, content_t, user_t, inputs: sp.csr_matrix,
                    targets: sp.csr_matrix, batch: np.ndarray, rng: np.random.Generator):
        import torch
        import torch.nn.functional as F

        device = content_t.device
        n_items = content_t.shape[0]
        keep = lambda n: torch.from_numpy(  # noqa: E731  (ID dropout mask, (n, 1))
            (rng.random(n) >= self.id_dropout).astype(np.float32)[:, None]).to(device)
        items = torch.cat([content_t, params["item_embedding"] * keep(n_items)], 1)
        pooled = _pool(items, params["pool_logits"], inputs, device)  # (b, d_c + d_e)
        d_c = content_t.shape[1]
        pooled = torch.cat([pooled[:, :d_c], pooled[:, d_c:] * keep(len(batch))], 1)
        b = torch.from_numpy(batch).to(device)
        parts = [pooled, params["user_embedding"][b] * keep(len(batch))]
        if user_t is not None:
            parts.append(user_t[b])
        user_in = torch.cat(parts, 1)                                   # (b, d_p + d_u)

        # Candidates: every target of the batch plus uniform negatives, sorted and unique.
        cand = np.unique(np.concatenate([targets.indices,
                                         rng.integers(0, n_items, self.negatives)]))
        logits = _pair_grid(net, user_in, items[torch.from_numpy(cand).to(device)])  # (b, c)
        rows, cols = _rows_cols(inputs)
        at = np.searchsorted(cand, cols)
        hit = at < len(cand)
        hit[hit] = cand[at[hit]] == cols[hit]
        seen = torch.zeros(logits.shape, dtype=torch.bool)
        seen[rows[hit], at[hit]] = True     # the user's input items are neither target nor negative
        rows, cols = _rows_cols(targets)
        target = torch.zeros(logits.shape)
        target[rows, np.searchsorted(cand, cols)] = 1.0
        seen, target = seen.to(device), target.to(device)
        logits = logits.masked_fill(seen, float("-inf"))
        if self.loss == "softmax":
            log_p = F.log_softmax(logits, dim=1).masked_fill(seen, 0.0)
            return -((log_p * target).sum(1) / target.sum(1)).mean()
        # BPR: each target against one candidate drawn uniformly from the same row; draws that
        # land on a seen item or another target do not count.
        t_rows, t_cols = target.nonzero(as_tuple=True)
        o_cols = torch.from_numpy(rng.integers(0, logits.shape[1], len(t_rows))).to(device)
        valid = ~seen[t_rows, o_cols] & (target[t_rows, o_cols] == 0)
        margin = logits.masked_fill(seen, 0.0)[t_rows, o_cols] - logits[t_rows, t_cols]
        return (F.softplus(margin) * valid).sum() / valid.sum().clamp_min(1)

    def _val_ndcg(self, net, params, content, train, val, val_users) -> float:
        from recsys.evaluation.metrics import ndcg_at_k

        if not len(val_users):
            return float("nan")
        state = _numpy_state(net, params)
        items = np.hstack([content, state["item_embedding"]])
        history = train[val_users]
        profiles = np.hstack([_pool_np(history, items, state["pool_logits"]),
                              state["user_embedding"][val_users]])
        feats = self.user_matrix_[val_users] if hasattr(self, "user_matrix_") else None
        import torch

        scores = _score_all(net, profiles, feats,
                            _item_half(net, torch.from_numpy(items).to(_device_of(net))))
        rows, cols = history.nonzero()
        scores[rows, cols] = -np.inf
        ids, _ = top_k(scores, 10)
        return ndcg_at_k(ids, val[val_users], 10)

    # ------------------------------------------------------------------ score
    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None, items: np.ndarray | None = None) -> np.ndarray:
        """(n_users, n_items) scores; with ``items`` (m,) catalog rows, (n_users, m) for those.

        ``user_idx`` (n,) are training rows or -1 (anonymous: no user embedding, scored from the
        history in ``user_items`` (n, n_items) and, when fitted with them, ``user_features``).
        """
        user_idx = np.atleast_1d(np.asarray(user_idx, dtype=np.int64))
        history = self._history(user_idx, user_items)
        known = user_idx >= 0
        self._check_known(user_idx[known], "use -1 for a new user")
        return _score_all(self._net(), self._profiles(history, user_idx),
                          self._user_feats(user_idx, user_features), self._item_half(items))

    def score_profiles(self, features: np.ndarray, *, user_features: np.ndarray | None = None,
                       items: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for preference vectors given directly as raw item features.

        ``features`` (n, d_c) are in the space of the ``item_features`` given to ``fit`` (e.g. a
        brand-new clip's content vector as a one-item history): ``p_u`` is its content and the
        embedding it predicts, with no user embedding (an anonymous user). ``user_features`` (n, d_u). Returns
        (n, n_items) float32, or (n, m) for the catalog rows ``items`` (m,) when given.
        """
        self._check_fitted()
        content = self._standardise(features)
        profiles = np.hstack([content, self._predicted_embedding(content),
                              np.zeros((len(content), self._d_q()), np.float32)])
        feats = None
        if hasattr(self, "user_matrix_"):
            uf = (np.zeros((len(profiles), self.user_matrix_.shape[1]), np.float32)
                  if user_features is None else np.asarray(user_features, np.float32))
            feats = ((uf - self.user_mean_) / self.user_scale_).astype(np.float32)
        return _score_all(self._net(), profiles, feats, self._item_half(items))

    def score_new_items(self, user_idx: np.ndarray, new_item_features: np.ndarray, *,
                        user_items: sp.csr_matrix | None = None,
                        user_features: np.ndarray | None = None) -> np.ndarray:
        """Scores (len(user_idx), n_new) of items not seen at fit, from content (n_new, d_c) only.

        Their ``f_v`` is ``[x_v, x_v content_map_]``: the embedding part is predicted from content.
        """
        import torch

        user_idx = np.atleast_1d(np.asarray(user_idx, dtype=np.int64))
        history = self._history(user_idx, user_items)
        self._check_known(user_idx[user_idx >= 0], "use -1 for a new user")
        content = self._standardise(new_item_features)
        f_v = np.hstack([content, self._predicted_embedding(content)])
        net = self._net()
        half = _item_half(net, torch.from_numpy(f_v).to(_device_of(net)))
        return _score_all(net, self._profiles(history, user_idx),
                          self._user_feats(user_idx, user_features), half)

    # ------------------------------------------------------------------ helpers
    def _d_e(self) -> int:
        """Learned item-embedding width of the fitted model (0 for a content-only state)."""
        return self.item_matrix_.shape[1] - self.feature_mean_.shape[0]

    def _d_q(self) -> int:
        emb = getattr(self, "user_embedding_", None)
        return 0 if emb is None else emb.shape[1]

    def _predicted_embedding(self, content: np.ndarray) -> np.ndarray:
        """``e_v`` predicted from standardised content (n, d_c) by ``content_map_``, (n, d_e)."""
        mapping = getattr(self, "content_map_", None)
        if mapping is None:  # a content-only state (embedding_dim 0)
            return np.zeros((len(content), self._d_e()), np.float32)
        return (content @ mapping).astype(np.float32)

    def _standardise(self, features: np.ndarray) -> np.ndarray:
        features = np.atleast_2d(np.asarray(features, np.float32))
        if features.shape[1] != self.feature_mean_.shape[0]:
            raise ConfigError(f"content vectors must have {self.feature_mean_.shape[0]} columns, "
                              f"got {features.shape[1]}")
        return ((features - self.feature_mean_) / self.feature_scale_).astype(np.float32)

    def _profiles(self, history: sp.csr_matrix, user_idx: np.ndarray) -> np.ndarray:
        """``p_u = [h_u, q_u]`` (n, d_c + 2 d_e): pooled history and user embedding (0 for -1)."""
        logits = getattr(self, "pool_logits_", np.zeros(self.n_items_, np.float32))
        pooled = _pool_np(history, self.item_matrix_, logits)
        q = np.zeros((len(user_idx), self._d_q()), np.float32)
        known = user_idx >= 0
        if self._d_q():
            q[known] = self.user_embedding_[user_idx[known]]
        return np.hstack([pooled, q])

    def _user_feats(self, user_idx: np.ndarray, user_features: np.ndarray | None):
        if not hasattr(self, "user_matrix_"):
            if user_features is not None:
                raise ConfigError("this Matcher was fitted without user_features")
            return None
        if user_features is not None:
            return ((np.asarray(user_features, np.float32) - self.user_mean_)
                    / self.user_scale_).astype(np.float32)
        self._check_known(user_idx, "pass user_features for users unseen at fit")
        return self.user_matrix_[user_idx]

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
            self._item_half_cache = _item_half(net, items_t.to(_device_of(net)))
        return self._item_half_cache

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_matrix_


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """``argmin_W |x W - y|^2 + alpha |W|^2`` for x (n, d), y (n, k); returns (d, k) float32."""
    x64 = x.astype(np.float64)
    gram = x64.T @ x64 + alpha * np.eye(x.shape[1])
    return np.linalg.solve(gram, x64.T @ y.astype(np.float64)).astype(np.float32)


def _build_net(in_dim: int, hidden) -> "torch.nn.Sequential":  # noqa: F821
    import torch

    layers, width = [], in_dim
    for h in hidden:
        layers += [torch.nn.Linear(width, int(h)), torch.nn.ReLU()]
        width = int(h)
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


def _device_of(net):
    return next(net.parameters()).device


def _numpy_state(net, params) -> dict[str, np.ndarray]:
    state = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    state.update({k: v.detach().cpu().numpy().copy() for k, v in params.items()})
    return state


def _rows_cols(csr: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr)), csr.indices


def _pool(items, logits, history: sp.csr_matrix, device):
    """Differentiable ``h_u`` (b, d): rows of ``items`` (n_items, d) averaged over each history
    row (b, n_items) with weights ``X_uj exp(a_j)`` (``logits`` a, (n_items,)); 0 when empty."""
    import torch
    import torch.nn.functional as F

    # One embedding_bag over [w * items, w]: the sums and their normaliser in one pass.
    weight = torch.exp(logits - logits.max().detach())[:, None]            # (n_items, 1)
    table = torch.cat([items * weight, weight], 1)
    idx = torch.from_numpy(history.indices.astype(np.int64)).to(device)
    offsets = torch.from_numpy(history.indptr[:-1].astype(np.int64)).to(device)
    values = torch.from_numpy(history.data.astype(np.float32)).to(device)
    sums = F.embedding_bag(idx, table, offsets, mode="sum", per_sample_weights=values)
    return sums[:, :-1] / sums[:, -1:].clamp_min(1e-12)


def _pool_np(history: sp.csr_matrix, items: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """`_pool` in numpy for scoring, (n, d) float32."""
    weight = np.exp(logits - logits.max()).astype(np.float32)             # (n_items,)
    weighted = sp.csr_matrix(history, dtype=np.float32).multiply(weight[None, :]).tocsr()
    totals = np.asarray(weighted.sum(1)).ravel()
    sums = np.asarray(weighted @ items)
    return (sums / np.maximum(totals, 1e-12)[:, None]).astype(np.float32)


def _pair_grid(net, user_in, item_in):
    """Differentiable scores of every (user, item) pair, (b, c), for training.

    The first layer splits over the concatenation (see :func:`_score_all`), so it costs
    (b + c) rows, not b * c; only the later layers see the (b * c, h) grid.
    """
    first = net[0]
    d_user = user_in.shape[1]
    user_half = user_in @ first.weight[:, :d_user].T + first.bias        # (b, h)
    item_half = item_in @ first.weight[:, d_user:].T                     # (c, h)
    h = (user_half[:, None, :] + item_half[None, :, :]).relu()           # (b, c, h)
    out = net[2:](h.reshape(-1, h.shape[-1]))                             # (b * c, 1)
    return out.view(len(user_in), len(item_in))


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
    than through the modules: fewer temporaries and thread hand-offs per chunk measured 1.3 ms
    instead of 1.9 ms for 10k items on two threads, equal scores (tests/test_bench.py).
    Measured by ``python -m recsys bench --only matcher`` (benchmarks/README.md).
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


def _eval_users(val_part: sp.csr_matrix, limit: int, rng: np.random.Generator) -> np.ndarray:
    users = np.flatnonzero(np.diff(val_part.indptr))
    if len(users) > limit:
        users = np.sort(rng.choice(users, size=limit, replace=False))
    return users
