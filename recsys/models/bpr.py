"""Bayesian Personalised Ranking matrix factorisation (Rendle et al., 2009) in torch."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..device import get_device
from ..errors import ConfigError
from .base import Recommender, positive_pairs, sample_negatives


class BPR(Recommender):
    """Maximise log sigmoid(x_ui - x_uj) over observed i and uniformly sampled unobserved j.

    Learned state follows implicit's layout: ``user_factors_`` (n_users, factors + 1) whose last
    column is 1 and ``item_factors_`` (n_items, factors + 1) whose last column is the item bias,
    so ``score = user_factors_ @ item_factors_.T``.

    Parameters
    ----------
    factors : int
        Latent dimensions.
    epochs : int
        Passes over all positive pairs.
    lr : float
        Learning rate.
    reg : float
        L2 penalty on the factors and biases touched by each mini-batch.
    batch_size : int
        Positive pairs per step (one negative each).
    optimizer : {"adam", "sgd"}
        Adam or plain SGD over the dense factor tables.
    device : str or None
        torch device; ``None`` picks CUDA when present (`recsys.device.get_device`).
    random_state : int
        Seeds initialisation, shuffling and negative sampling.
    """

    def __init__(self, factors: int = 64, epochs: int = 100, lr: float = 0.01, reg: float = 0.01,
                 batch_size: int = 4096, optimizer: str = "adam", device: str | None = None,
                 random_state: int = 0):
        self.factors = factors
        self.epochs = epochs
        self.lr = lr
        self.reg = reg
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.device = device
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> BPR:
        import torch

        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        user_items = self._remember(user_items)
        device = get_device(self.device)
        rng = np.random.default_rng(self.random_state)
        gen = torch.Generator().manual_seed(self.random_state)
        # Dense tables: for catalogues up to ~1e5 items a full Adam step is cheaper than the
        # bookkeeping of sparse gradients. Item rows carry the bias in their last column.
        user_w = (torch.randn(self.n_users_, self.factors, generator=gen) * 0.1).to(device)
        item_w = (torch.randn(self.n_items_, self.factors + 1, generator=gen) * 0.1)
        item_w[:, -1] = 0.0
        user_w, item_w = user_w.requires_grad_(), item_w.to(device).requires_grad_()
        opt = (torch.optim.Adam([user_w, item_w], lr=self.lr) if self.optimizer == "adam"
               else torch.optim.SGD([user_w, item_w], lr=self.lr))
        users, items = positive_pairs(user_items)  # (n_pos,) each
        losses = []
        for _ in range(self.epochs):
            order = rng.permutation(len(users))
            u_all = torch.from_numpy(users[order]).to(device)
            i_all = torch.from_numpy(items[order]).to(device)
            j_all = torch.from_numpy(sample_negatives(user_items, users[order], rng)).to(device)
            total = torch.zeros((), device=device)
            for start in range(0, len(order), self.batch_size):
                u, i, j = (t[start:start + self.batch_size] for t in (u_all, i_all, j_all))
                p, qi, qj = user_w[u], item_w[i], item_w[j]  # (b, f), (b, f+1), (b, f+1)
                diff = (p * (qi[:, :-1] - qj[:, :-1])).sum(1) + qi[:, -1] - qj[:, -1]
                # softplus(-x) == -log sigmoid(x); torch's logsigmoid kernel is ~1000x slower on
                # small CPU tensors with several threads.
                loss = torch.nn.functional.softplus(-diff).mean() + self.reg * (
                    p.square().sum() + qi.square().sum() + qj.square().sum()) / len(u)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.detach() * len(u)
            losses.append(float(total) / max(len(order), 1))
        user_np = user_w.detach().cpu().numpy()
        self.user_factors_ = np.hstack([user_np, np.ones((self.n_users_, 1), np.float32)])
        self.item_factors_ = item_w.detach().cpu().numpy().astype(np.float32)
        self.history_ = {"train_loss": losses}
        return self

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        user_idx = np.atleast_1d(np.asarray(user_idx, dtype=np.int64))
        vectors = self.user_vectors(user_idx, user_items=user_items)
        return (vectors @ self.item_factors_.T).astype(np.float32)

    def user_vectors(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None
                     ) -> np.ndarray:
        """User factors (n, factors + 1); rows with ``user_idx == -1`` are folded in (`fold_in`)."""
        return user_vectors(self, self.user_factors_, self.item_factors_, user_idx, user_items)

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_factors_[:, :-1]


_FOLD_NEGATIVES = 300  # items a new user's positives are compared with (all when fewer)
_FOLD_CELLS = 4_000_000  # (users x positives x negatives) pairs per block


def fold_in(item_factors: np.ndarray, history: sp.csr_matrix, *, reg: float = 0.01,
            steps: int = 50) -> np.ndarray:
    """User factors (n, f + 1) for histories (n, n_items), item factors (n_items, f + 1) fixed.

    Minimises the user's own BPR objective, the mean over (history item i, other item j) of
    ``-log sigmoid(x_ui - x_uj)`` plus ``reg * |u|^2``, with Adam from zero: the same criterion
    that trained the known users, so the new vector lives on their scale. ``j`` runs over all
    items, or over a random sample of 300 in larger catalogues, drawn with a seed made from the
    history, so a history folds in the same way alone or among others. Users are solved together,
    in blocks so memory stays bounded: their objectives are independent (Adam's update is per
    coordinate), so a batch of users costs about what one does. The last column is 1 (it
    multiplies the item bias).
    """
    liked = (history > 0).toarray()  # (n, n_items)
    n_items = liked.shape[1]
    width = max(int(liked.sum(1).max(initial=0)), 1)
    n_neg = min(_FOLD_NEGATIVES, n_items)
    out = np.ones((len(liked), item_factors.shape[1]), np.float32)
    block = max(1, _FOLD_CELLS // (width * n_neg))
    for start in range(0, len(liked), block):
        rows = liked[start:start + block]
        neg = (np.broadcast_to(np.arange(n_items), (len(rows), n_items)) if n_neg == n_items
               else np.stack([_history_rng(row).choice(n_items, n_neg, replace=False) for row in rows]))
        out[start:start + block, :-1] = _fold_in_block(item_factors, rows, neg, width, reg, steps)
    return out


def _history_rng(liked_row: np.ndarray) -> np.random.Generator:
    """A generator seeded by one history (a (n_items,) bool row): the same history, the same draws."""
    return np.random.default_rng([0, *np.flatnonzero(liked_row).tolist()])


def _fold_in_block(item_factors: np.ndarray, liked: np.ndarray, neg: np.ndarray, width: int,
                   reg: float, steps: int, lr: float = 0.1) -> np.ndarray:
    """`fold_in` for one block: ``liked`` (b, n_items) bool, ``neg`` (b, n_neg) candidates.

    Adam (torch's defaults: betas 0.9, 0.999, eps 1e-8) on the analytic gradient of each user's
    objective, in NumPy: the block is a few small dense arrays, where autograd's bookkeeping
    would cost more than the arithmetic.
    """
    from scipy.special import expit

    item_factors = np.asarray(item_factors, np.float32)
    vecs, bias = item_factors[:, :-1], item_factors[:, -1]
    b, n_items = liked.shape
    n_liked = liked.sum(1)
    # Padded positive lists: (b, width) item columns and a validity mask.
    pos = np.zeros((b, width), np.int64)
    pos_mask = np.arange(width)[None, :] < n_liked[:, None]
    pos[pos_mask] = np.nonzero(liked)[1]
    neg = np.asarray(neg, np.int64)
    neg_mask = ~np.take_along_axis(liked, neg, axis=1)  # a sampled liked item is no negative
    # A pair (i, j) counts when i is a real (not padded) positive and j is not liked.
    pos_w, neg_w = pos_mask.astype(np.float32), neg_mask.astype(np.float32)
    scale = (1.0 / np.maximum(pos_w.sum(1) * neg_w.sum(1), 1.0)).astype(np.float32)[:, None]  # 1 / pairs
    # Flat (row, item) cells of x, for summing gradients into it with one bincount per step.
    cells = np.concatenate([(np.arange(b)[:, None] * n_items + pos).ravel(),
                            (np.arange(b)[:, None] * n_items + neg).ravel()])
    user = np.zeros((b, vecs.shape[1]), np.float32)
    m1, m2 = np.zeros_like(user), np.zeros_like(user)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        x = user @ vecs.T + bias  # (b, n_items)
        # sig[b, i, j] = sigmoid(-(x_i - x_j)) = -d softplus(-margin) / d margin
        sig = np.take_along_axis(x, neg, 1)[:, None, :] - np.take_along_axis(x, pos, 1)[:, :, None]
        expit(sig, out=sig)
        # Sums over the counted pairs only, as batched products with the masks.
        d_pos = -(sig @ neg_w[:, :, None])[:, :, 0] * pos_w * scale   # (b, width)
        d_neg = (pos_w[:, None, :] @ sig)[:, 0, :] * neg_w * scale    # (b, n_neg)
        per_cell = np.concatenate([d_pos.ravel(), d_neg.ravel()])
        grad_x = np.bincount(cells, per_cell, minlength=b * n_items).reshape(b, n_items).astype(np.float32)
        grad = grad_x @ vecs + 2 * reg * user
        m1 = beta1 * m1 + (1 - beta1) * grad
        m2 = beta2 * m2 + (1 - beta2) * grad * grad
        user = user - (lr / (1 - beta1 ** t)) * m1 / (np.sqrt(m2) / np.sqrt(1 - beta2 ** t) + eps)
    return user.astype(np.float32)


def user_vectors(model: Recommender, user_factors: np.ndarray, item_factors: np.ndarray,
                 user_idx: np.ndarray, user_items: sp.csr_matrix | None) -> np.ndarray:
    """Rows of ``user_factors`` for known users, `fold_in` for ``-1`` rows; (n, f + 1) float32."""
    model._check_fitted()
    user_idx = np.atleast_1d(np.asarray(user_idx, dtype=np.int64))
    known = user_idx >= 0
    model._check_known(user_idx[known], "use -1 for a new user")
    out = np.ones((len(user_idx), user_factors.shape[1]), np.float32)
    out[known] = user_factors[user_idx[known]]
    if (~known).any():
        history = model._history(user_idx, user_items)[np.flatnonzero(~known)]
        out[~known] = fold_in(item_factors, history, reg=model.reg)
    return out
