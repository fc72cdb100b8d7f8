"""Offline evaluation: split with a protocol, fit each model, rank all unseen items, report.

Every interaction counts as an implicit positive. Each test user's items are ranked over the
whole catalogue minus the user's training items (full ranking, no sampled negatives).

Two fusions are reported beside the single models:

* ``app_hybrid``, for a data set with a media catalog (the demo), or with ``--app-hybrid`` over a
  text-only catalog of its titles and genres (MovieLens, `recsys.catalog.text_catalog`): the app's
  own ``HybridRecommender`` and ranker (:func:`recsys.evaluation.tuning.evaluate_app_hybrid`),
  weights tuned on a validation split carved from the training part;
* ``score_fusion``, a baseline: a weighted sum of per-user min-max-normalised model scores, with
  weights given or tuned on a validation split by coordinate ascent over a small grid. The app
  does not run it.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError, RecsysError
from recsys.evaluation.metrics import coverage, intra_list_diversity, ranking_metrics
from recsys.evaluation.splits import PROTOCOLS, split
from recsys.models import MODELS, Recommender
from recsys.models.base import timestamp_kwargs, top_k
from recsys.users.datasets import Dataset, load_lastfm, load_movielens
from recsys.users.interactions import Interactions

#: name -> loader(path or None) -> Dataset. The catalog side registers "demo" here.
DATASET_LOADERS: dict[str, Callable[[str | None], Dataset]] = {
    "movielens": lambda path: load_movielens(_need_path("movielens", path)),
    "lastfm": lambda path: load_lastfm(_need_path("lastfm", path)),
}
log = logging.getLogger(__name__)
HYBRID_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)  # candidate weights per model for coordinate ascent
_CELLS = 4_000_000  # (users x items) scores held per model at once
_VAL_CELLS = 20_000_000  # cached normalised validation scores, all models together


def register_dataset(name: str, loader: Callable[[str | None], Dataset]) -> None:
    """Make ``--dataset NAME [PATH]`` available (e.g. the catalog's ``demo`` data)."""
    DATASET_LOADERS[name] = loader


def load_dataset(name: str, path: str | None = None) -> Dataset:
    """Load a registered data set by name."""
    if name not in DATASET_LOADERS:
        raise ConfigError(f"unknown dataset {name!r}; available: {', '.join(DATASET_LOADERS)}")
    return DATASET_LOADERS[name](path)


def default_models(*, with_features: bool, seed: int = 0) -> dict[str, Recommender]:
    """The baseline set: popularity, item_knn, bpr, ease (+ content, matcher with features)."""
    names = ["popularity", "item_knn", "bpr", "ease"]
    names += ["content", "matcher"] if with_features else []
    return {name: MODELS[name](random_state=seed) for name in names}


def evaluate(interactions: Interactions, *, protocol: str, k: int = 10,
             models: Mapping[str, Recommender] | Sequence[str] | None = None,
             item_features: np.ndarray | None = None, user_features: np.ndarray | None = None,
             seed: int = 0, hybrid_weights: Mapping[str, float] | None = None,
             dataset: str = "custom", catalog=None, user_text: Mapping[str, np.ndarray] | None = None
             ) -> dict[str, Any]:
    """Split, fit, rank and score every model, the score-fusion baseline and (with a catalog)
    the app's hybrid.

    Parameters
    ----------
    interactions : Interactions
        All events; weights are ignored (each event is a positive).
    protocol : str
        A key of `recsys.evaluation.splits.PROTOCOLS`.
    models : mapping name -> unfitted model, sequence of `MODELS` names, or None
        None uses `default_models`.
    item_features : np.ndarray, optional
        (n_items, d) content vectors: passed to every model, and used for diversity.
    user_features : np.ndarray, optional
        (n_users, d_u), passed to every model's fit.
    hybrid_weights : mapping, optional
        Fixed score-fusion weights per model name; None tunes them on a validation split.
    catalog : Catalog, optional
        The media catalog whose item ids ``interactions`` uses: adds ``app_hybrid``.
    user_text : mapping, optional
        User id -> (384,) text vector, for the app's hybrid (zeros when missing).

    Returns
    -------
    dict
        ``{"dataset", "protocol", "k", "seed", "data": {...}, "models": {name: {"metrics",
        "fit_s", "score_s", "params"}, ..., "score_fusion" and "app_hybrid": {"metrics",
        "weights", "tuned_on", "fit_s"}}}`` with metric keys such as ``"ndcg@10"``.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    models = _resolve_models(models, item_features is not None, seed)
    parts = split(interactions, protocol, seed=seed)
    train = parts.train.to_csr(binary=True)
    train_times = parts.train.to_timestamp_csr()  # for models with uses_timestamps
    test = parts.test.to_csr(binary=True)
    users = np.flatnonzero(np.diff(test.indptr))  # test users, (n_test_users,)
    if not len(users):
        raise ConfigError(f"protocol {protocol!r} left no test interactions")
    features = dict(item_features=item_features, user_features=user_features)

    result: dict[str, Any] = {
        "dataset": dataset, "protocol": protocol, "k": k, "seed": seed,
        "data": {"n_users": interactions.n_users, "n_items": interactions.n_items,
                 "n_interactions": len(interactions), "n_train": int(train.nnz),
                 "n_test": int(test.nnz), "n_test_users": int(len(users))},
        "models": {}}
    fit_s = {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(train, **features, **timestamp_kwargs(model, train_times))
        fit_s[name] = time.perf_counter() - start
        log.info("fitted %s in %.1f s", name, fit_s[name])

    weights, tuned_on, tune_s = _hybrid_weights(models, hybrid_weights, parts, protocol,
                                                features, k, seed)
    ranked, score_s = _rank(models, weights, train, users, k)
    for name, ids in ranked.items():
        metrics = ranking_metrics(ids, test[users], k)
        metrics[f"coverage@{k}"] = coverage(ids, interactions.n_items)
        metrics[f"diversity@{k}"] = (intra_list_diversity(ids, item_features)
                                     if item_features is not None else None)
        if name == "score_fusion":
            entry = {"metrics": metrics, "weights": weights, "tuned_on": tuned_on,
                     "fit_s": round(sum(fit_s.values()) + tune_s, 3)}
        else:
            entry = {"metrics": metrics, "fit_s": round(fit_s[name], 3),
                     "params": models[name].get_params()}
        entry["score_s"] = round(score_s[name], 3)
        result["models"][name] = entry
    if catalog is not None:
        from recsys.evaluation.tuning import evaluate_app_hybrid

        app = evaluate_app_hybrid(catalog, parts.train.to_frame(), parts.test.to_frame(), dict(user_text or {}),
                                  k=k, seed=seed)
        metrics = ranking_metrics(app["ranked"], app["truth"], k)
        metrics[f"coverage@{k}"] = coverage(app["ranked"], interactions.n_items)
        metrics[f"diversity@{k}"] = (intra_list_diversity(app["ranked"], item_features)
                                     if item_features is not None else None)
        result["models"]["app_hybrid"] = {"metrics": metrics, "weights": app["weights"],
                                          "tuned_on": app["tuned_on"], "fit_s": round(app["fit_s"], 3),
                                          "score_s": round(app["score_s"], 3)}
    return result


def _need_path(name: str, path: str | None) -> str:
    if not path:
        raise ConfigError(f"dataset {name!r} needs a PATH (file or folder)")
    return path


def _resolve_models(models, with_features: bool, seed: int) -> dict[str, Recommender]:
    if models is None:
        return default_models(with_features=with_features, seed=seed)
    if isinstance(models, Mapping):
        resolved = dict(models)
    else:
        unknown = [m for m in models if m not in MODELS]
        if unknown:
            raise ConfigError(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
        resolved = {name: MODELS[name](random_state=seed) for name in models}
    if not resolved:
        raise ConfigError("no models to evaluate")
    needy = [n for n, m in resolved.items() if m.requires_item_features and not with_features]
    if needy:
        raise ConfigError(f"model(s) {needy} need item features, and this data set has none")
    return resolved


def _clone(model: Recommender) -> Recommender:
    return type(model)(**model.get_params())


def _normalised(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """Per-user min-max scaling to [0, 1] over unseen items; seen items become NaN."""
    scores = scores.astype(np.float32, copy=True)
    rows, cols = seen.nonzero()
    scores[rows, cols] = np.nan
    valid = ~np.isnan(scores)
    lo = np.where(valid, scores, np.inf).min(1, keepdims=True)
    hi = np.where(valid, scores, -np.inf).max(1, keepdims=True)
    span = np.where(np.isfinite(hi - lo) & (hi > lo), hi - lo, 1.0)
    return (scores - np.where(np.isfinite(lo), lo, 0.0)) / span


def _fuse(normalised: dict[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    fused = sum(weights[n] * s for n, s in normalised.items() if weights.get(n, 0.0))
    if isinstance(fused, int):  # every weight zero: no preference at all
        fused = np.zeros_like(next(iter(normalised.values())))
    return np.where(np.isnan(fused), -np.inf, fused)


def _rank(models: Mapping[str, Recommender], weights: Mapping[str, float] | None,
          train: sp.csr_matrix, users: np.ndarray, k: int
          ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Top-k (n_users, k) per model and for the score fusion, scored in user chunks."""
    names = list(models) + (["score_fusion"] if weights else [])
    ranked = {n: [] for n in names}
    seconds = dict.fromkeys(names, 0.0)
    step = max(1, _CELLS // max(train.shape[1], 1))
    for start in range(0, len(users), step):
        chunk = users[start:start + step]
        history = train[chunk]
        normalised = {}
        for name, model in models.items():
            t0 = time.perf_counter()
            scores = model.score(chunk, user_items=history)
            seconds[name] += time.perf_counter() - t0
            rows, cols = history.nonzero()
            masked = scores.copy()
            masked[rows, cols] = -np.inf
            ranked[name].append(top_k(masked, k)[0])
            if weights:
                normalised[name] = _normalised(scores, history)
        if weights:
            t0 = time.perf_counter()
            ranked["score_fusion"].append(top_k(_fuse(normalised, weights), k)[0])
            seconds["score_fusion"] += time.perf_counter() - t0
    if weights:  # the fusion pays for every model's scoring too
        seconds["score_fusion"] += sum(seconds[n] for n in models)
    return {n: np.concatenate(v) for n, v in ranked.items()}, seconds


def _hybrid_weights(models, given, parts, protocol, features, k, seed):
    """Weights for the score fusion, where they came from, and the seconds spent tuning."""
    if len(models) < 2:
        return None, None, 0.0
    if given is not None:
        unknown = set(given) - set(models)
        if unknown:
            raise ConfigError(f"score-fusion weights for unknown model(s) {sorted(unknown)}")
        return {n: float(given.get(n, 0.0)) for n in models}, "given", 0.0
    start = time.perf_counter()
    # Validation: the protocol's own, else the same protocol applied again to the training part.
    if parts.val is not None:
        fit_part, val = parts.train, parts.val
    else:
        inner = split(parts.train, protocol, seed=seed + 1)
        fit_part, val = inner.train, inner.test
    fit_csr, val_csr = fit_part.to_csr(binary=True), val.to_csr(binary=True)
    fit_times = fit_part.to_timestamp_csr()  # for models with uses_timestamps
    users = np.flatnonzero(np.diff(val_csr.indptr))
    if not len(users):
        return {n: 1.0 for n in models}, "uniform (no validation users)", 0.0
    limit = max(1, _VAL_CELLS // (fit_csr.shape[1] * len(models)))
    if len(users) > limit:
        users = np.sort(np.random.default_rng(seed).choice(users, limit, replace=False))
    history = fit_csr[users]
    normalised = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        clone = _clone(model).fit(fit_csr, **features, **timestamp_kwargs(model, fit_times))
        log.info("fitted %s for score-fusion tuning in %.1f s", name, time.perf_counter() - t0)
        normalised[name] = _normalised(clone.score(users, user_items=history), history)
    relevant = val_csr[users]

    def quality(w):
        return ranking_metrics(top_k(_fuse(normalised, w), k)[0], relevant, k)[f"ndcg@{k}"]

    weights = {n: 1.0 for n in models}
    best = quality(weights)
    for _ in range(2):  # two passes of coordinate ascent
        for name in models:
            for value in HYBRID_GRID:
                trial = {**weights, name: value}
                score = quality(trial)
                if score > best + 1e-9:
                    best, weights = score, trial
    return weights, "validation", time.perf_counter() - start


# ------------------------------------------------------------------------------ reports
def _table(result: Mapping[str, Any]) -> list[str]:
    k = result["k"]
    cols = ["ndcg", "recall", "precision", "map", "mrr", "hit_rate", "coverage", "diversity"]
    head = ["model"] + [f"{c}@{k}" for c in cols] + ["fit s", "score s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, entry in result["models"].items():
        values = [entry["metrics"][f"{c}@{k}"] for c in cols]
        cells = [name] + ["-" if v is None else f"{v:.4f}" for v in values]
        cells += [f"{entry['fit_s']:.2f}", f"{entry['score_s']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def format_markdown(result: Mapping[str, Any]) -> str:
    """The result as a Markdown report (title, data summary, metrics table, fusion weights)."""
    data = result["data"]
    lines = [f"# Evaluation: {result['dataset']}, protocol {result['protocol']}", "",
             f"{data['n_users']} users, {data['n_items']} items, {data['n_interactions']} "
             f"interactions; {data['n_train']} train / {data['n_test']} test events, "
             f"{data['n_test_users']} test users. Full ranking over items unseen in training, "
             f"k={result['k']}, seed={result['seed']}.", ""]
    lines += _table(result)
    for name, title in (("app_hybrid", "App hybrid (HybridRecommender + ranker)"),
                        ("score_fusion", "Score-fusion baseline")):
        entry = result["models"].get(name)
        if entry:
            weights = ", ".join(f"{n}={w:g}" for n, w in entry["weights"].items())
            lines += ["", f"{title} weights ({entry['tuned_on']}): {weights}."]
    return "\n".join(lines) + "\n"


def write_report(result: Mapping[str, Any], out_dir: str | Path = "reports") -> dict[str, Path]:
    """Write ``evaluate-<dataset>-<protocol>.md`` and ``.json``; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"evaluate-{result['dataset']}-{result['protocol']}"
    paths = {"markdown": stem.with_suffix(".md"), "json": stem.with_suffix(".json")}
    paths["markdown"].write_text(format_markdown(result), encoding="utf-8")
    paths["json"].write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return paths


# ------------------------------------------------------------------------------ command line
def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m recsys evaluate``."""
    parser.add_argument("--dataset", nargs="+", required=True, metavar=("NAME", "PATH"),
                        help=f"data set name ({', '.join(DATASET_LOADERS)} or a registered "
                             "one) and, for files, its PATH")
    parser.add_argument("--protocol", required=True, choices=list(PROTOCOLS))
    parser.add_argument("--k", type=int, default=10, help="list length (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", help=f"comma-separated subset of {', '.join(MODELS)}")
    parser.add_argument("--weights", help="fixed score-fusion weights, e.g. ease=1,bpr=0.5 "
                                          "(default: tuned on validation)")
    parser.add_argument("--report", metavar="DIR", default="reports",
                        help="write the Markdown and JSON report to DIR (default: reports)")
    parser.add_argument("--json", action="store_true", help="print only JSON on stdout")
    parser.add_argument("--app-hybrid", action="store_true",
                        help="also measure the app's own hybrid on a data set with no media "
                             "catalog (MovieLens), over a text-only catalog of its titles and "
                             "genres (MiniLM); slow: minutes on MovieLens-100K")


def run_cli(args: argparse.Namespace) -> int:
    """Run ``evaluate`` for parsed arguments; errors are one line on stderr, exit code 2."""
    try:
        if len(args.dataset) > 2:
            raise ConfigError("--dataset takes a NAME and at most one PATH")
        name, path = args.dataset[0], (args.dataset[1] if len(args.dataset) > 1 else None)
        data = load_dataset(name, path)
        catalog = data.catalog
        if catalog is None and getattr(args, "app_hybrid", False):
            from recsys.catalog.text_catalog import dataset_text_catalog
            catalog = dataset_text_catalog(data.items)
        models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models \
            else None
        result = evaluate(data.interactions, protocol=args.protocol, k=args.k, models=models,
                          item_features=data.item_features, seed=args.seed,
                          hybrid_weights=_parse_weights(args.weights), dataset=data.name,
                          catalog=catalog, user_text=data.user_text)
        if args.report:
            write_report(result, args.report)
    except RecsysError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else format_markdown(result))
    return 0


def _parse_weights(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    weights = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        try:
            weights[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"bad weight {part!r}: expected name=number") from None
        if not sep:
            raise ConfigError(f"bad weight {part!r}: expected name=number")
    return weights
