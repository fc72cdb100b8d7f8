"""Mult-VAE (Liang et al., WWW 2018): a variational autoencoder with a multinomial likelihood.

Shapes for a batch of ``b`` users and ``n_items`` items::

    x (b, n_items) history -> L2-normalise -> dropout(p) -> Linear(n_items, h) -> tanh
      -> Linear(h, 2 z) = (mu, logvar) -> z = mu + eps * exp(logvar / 2)   (b, z)
      -> Linear(z, h) -> tanh -> Linear(h, n_items) = logits               (b, n_items)
    loss = -sum_i x_i log softmax(logits)_i + beta * KL(q(z|x) || N(0, I))

``beta`` is annealed linearly from 0 to ``beta_max`` over ``anneal_steps`` updates. Scoring uses
the mean ``z = mu`` and no dropout, so any history (a known user's or a new one's) is scored the
same way with no fold-in.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..device import get_device
from ..errors import ConfigError
from .base import Recommender


class MultVAE(Recommender):
    """Parameters
    ----------
    hidden : int
        Width of the encoder's and decoder's hidden layer (600 in the paper).
    latent : int
        Width of ``z`` (200 in the paper).
    dropout : float
        Input dropout while training.
    beta_max : float
        Final weight of the KL term.
    anneal_steps : int
        Updates over which the KL weight grows from 0 to ``beta_max``.
    epochs, batch_size, lr, weight_decay :
        Adam training settings (users per batch).
    device : str or None
        torch device; ``None`` picks CUDA when present.
    random_state : int
        Seeds initialisation, shuffling, dropout and the sampling of ``z``.
    """

    def __init__(self, hidden: int = 600, latent: int = 200, dropout: float = 0.5,
                 beta_max: float = 0.2, anneal_steps: int = 2000, epochs: int = 200,
                 batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
                 device: str | None = None, random_state: int = 0):
        self.hidden = hidden
        self.latent = latent
        self.dropout = dropout
        self.beta_max = beta_max
        self.anneal_steps = anneal_steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> MultVAE:
        import torch
        import torch.nn.functional as F

        if not 0 <= self.dropout < 1 or self.epochs < 1 or self.latent < 1 or self.hidden < 1:
            raise ConfigError("MultVAE needs 0 <= dropout < 1 and epochs, latent, hidden >= 1")
        user_items = self._remember(user_items)
        device = get_device(self.device)
        rng = np.random.default_rng(self.random_state)
        gen = torch.Generator(device=device).manual_seed(self.random_state)
        with torch.random.fork_rng():  # seed the initialisation without global effects
            torch.manual_seed(self.random_state)
            layers = _layers(self.n_items_, self.hidden, self.latent).to(device)
        opt = torch.optim.Adam(layers.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        users = np.flatnonzero(np.diff(user_items.indptr))
        losses, step = [], 0
        for _ in range(self.epochs):
            layers.train()
            total = 0.0
            order = rng.permutation(users)
            for start in range(0, len(order), self.batch_size):
                x = torch.from_numpy(user_items[order[start:start + self.batch_size]].toarray()
                                     ).to(device)                          # (b, n_items)
                keep = (torch.rand(x.shape, generator=gen, device=device) >= self.dropout)
                logits, mu, logvar = _forward(layers, x * keep / (1 - self.dropout), gen)
                nll = -(F.log_softmax(logits, 1) * x).sum(1).mean()
                kl = 0.5 * (logvar.exp() + mu.square() - 1 - logvar).sum(1).mean()
                beta = self.beta_max * min(1.0, step / max(self.anneal_steps, 1))
                loss = nll + beta * kl
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                total += float(loss.detach()) * len(x)
            losses.append(total / max(len(users), 1))
        self.net_state_ = {k: v.detach().cpu().numpy() for k, v in layers.state_dict().items()}
        self.history_ = {"train_loss": losses}
        self._layers_cache = None
        return self

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        import torch

        history = self._history(np.atleast_1d(np.asarray(user_idx, dtype=np.int64)), user_items)
        layers = self._layers()
        device = next(layers.parameters()).device
        with torch.inference_mode():
            x = torch.from_numpy(history.toarray()).to(device)
            logits, _, _ = _forward(layers, x, None)
        return logits.cpu().numpy().astype(np.float32)

    def _layers(self):
        import torch

        if getattr(self, "_layers_cache", None) is None:
            layers = _layers(self.n_items_, self.hidden, self.latent)
            layers.load_state_dict({k: torch.from_numpy(np.array(v))
                                    for k, v in self.net_state_.items()})
            self._layers_cache = layers.to(get_device(self.device)).eval()
        return self._layers_cache

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.net_state_["3.weight"]  # decoder output weights, (n_items, hidden)


def _layers(n_items: int, hidden: int, latent: int):
    import torch

    return torch.nn.ModuleList([torch.nn.Linear(n_items, hidden), torch.nn.Linear(hidden, 2 * latent),
                                torch.nn.Linear(latent, hidden), torch.nn.Linear(hidden, n_items)])


def _forward(layers, x, gen):
    """(logits (b, n_items), mu (b, z), logvar (b, z)); ``gen`` None means z = mu (scoring)."""
    import torch
    import torch.nn.functional as F

    enc_in, enc_out, dec_in, dec_out = layers
    h = torch.tanh(enc_in(F.normalize(x, dim=1)))
    mu, logvar = enc_out(h).chunk(2, dim=1)
    z = mu
    if gen is not None:
        z = mu + torch.randn(mu.shape, generator=gen, device=mu.device) * (0.5 * logvar).exp()
    return dec_out(torch.tanh(dec_in(z))), mu, logvar
