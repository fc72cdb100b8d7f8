"""Hyperparameter search for the MovieLens-100K benchmark, on validation data only.

The benchmark's split (stratified 75/25, ``--seed``) is made first and its test part is never
read: each candidate setting is fitted on a second stratified 75/25 split of the *training* part
(seed + 1, the split `recsys.evaluate` itself uses to tune hybrid weights) and scored by NDCG@10
on that split's held-out part. Prints one line per setting and the best per model; the chosen
values are copied into ``SETTINGS`` in benchmarks/movielens.py. Parameters a grid leaves out
are taken from ``SETTINGS``: the ``ensemble`` row scores the benchmark's ensemble (its members
with their tuned settings) on the same validation split; its member weights are chosen inside
its ``fit`` on a further 75/25 split of the data it is fitted on, so here too only training
data is read.

    python benchmarks/movielens_tune.py [--seed 42] [--models rp3beta,ease,...]
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

from benchmarks.movielens import SETTINGS, fetch_data
from recsys.evaluation.evaluate import evaluate
from recsys.evaluation.splits import split
from recsys.models import MODELS
from recsys.users.datasets import load_movielens

PROTOCOL = "stratified-75-25"
#: model -> {parameter: candidate values}; every combination is tried.
GRIDS = {
    "item_knn": dict(neighbours=[100, 200, 400], shrink=[10.0, 50.0, 100.0]),
    "ease": dict(lambda_reg=[100.0, 200.0, 300.0, 500.0, 800.0, 1200.0]),
    "rp3beta": dict(alpha=[0.6, 0.8, 1.0], beta=[0.2, 0.3, 0.4, 0.5], neighbours=[100, 200]),
    "edlae": dict(lambda_reg=[10.0, 50.0, 150.0], dropout=[0.1, 0.25, 0.4, 0.6]),
    "gfcf": dict(factors=[16, 32, 64], ideal_weight=[0.1, 0.3, 0.5]),
    # With 943 users an epoch is 8 updates and the 600-200 network overfits after about 40 epochs.
    "multvae": [dict(epochs=[10, 15, 20, 30, 60, 200], weight_decay=[0.0]),
                dict(epochs=[40], weight_decay=[1e-5, 1e-4]),
                dict(epochs=[30], weight_decay=[0.0], dropout=[0.7, 0.8], beta_max=[0.2, 0.5]),
                dict(epochs=[30], weight_decay=[0.0], hidden=[200], latent=[64, 200]),
                dict(epochs=[200], weight_decay=[0.0], lr=[0.003, 0.01])],
    # Uniform penalty, then frequency-scaled (reg_exponent nu): a penalty reg * (n + a0 m)^nu is
    # about 400^nu times larger per unit of reg for a typical user, so each nu has its own reg range.
    "ials": [dict(factors=[64, 128], reg_exponent=[0.0], reg=[2.0, 3.0, 5.0, 7.0],
                  unobserved_weight=[0.02, 0.05, 0.1, 0.2]),
             dict(factors=[128], reg_exponent=[0.5], reg=[0.2, 0.3, 0.4, 0.5, 0.8],
                  unobserved_weight=[0.1, 0.15, 0.2]),
             dict(factors=[128], reg_exponent=[0.75], reg=[0.07, 0.1, 0.12, 0.15],
                  unobserved_weight=[0.1, 0.15, 0.2]),
             dict(factors=[128], reg_exponent=[1.0], reg=[0.01, 0.02, 0.025, 0.03, 0.04],
                  unobserved_weight=[0.1, 0.15, 0.2])],
    # tau from "the same page" (60 s) to "the same evening" (1800 s); beta 0 is plain EASE.
    "session_ease": dict(time_scale_s=[60.0, 300.0, 1800.0], session_weight=[1.0, 2.0, 4.0],
                         lambda_reg=[200.0, 300.0, 500.0]),
    # Member sets (each member with its SETTINGS), then the chosen set (SETTINGS["ensemble"])
    # with its weights tuned on three inner splits; the weights are chosen inside fit on a
    # further split of whatever it is fitted on (here the validation split's fit part).
    "ensemble": [dict(members=[{name: SETTINGS[name] for name in names} for names in (
                     ("ease", "rp3beta", "gfcf", "ials"),
                     ("ease", "rp3beta", "gfcf", "ials", "multvae", "session_ease"),
                     ("ials", "session_ease", "multvae", "gfcf"),
                     ("ials", "session_ease"))],
                      normalise=["zscore", "minmax"]),
                 dict(normalise=["zscore", "minmax"], validation_splits=[3])],
}


def candidates(grid: dict | list[dict]) -> list[dict]:
    """Every combination of a grid's values; a list of grids is their union, in order."""
    if isinstance(grid, list):
        return [c for g in grid for c in candidates(g)]
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*grid.values())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--models", default=",".join(GRIDS))
    parser.add_argument("--grid", help="JSON {param: [values]} replacing the model's grid "
                                       "(with one model)")
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)  # as benchmarks/movielens.py
    threadpool_limits(1)
    data = load_movielens(fetch_data())
    train = split(data.interactions, PROTOCOL, seed=args.seed).train  # test part never used
    best = {}
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        grid = json.loads(args.grid) if args.grid else GRIDS[name]
        for params in candidates(grid):
            # Settings not in the grid are the benchmark's (e.g. the ensemble's members).
            model = MODELS[name](**{**SETTINGS.get(name, {}), **params}, random_state=args.seed)
            start = time.perf_counter()
            result = evaluate(train, protocol=PROTOCOL, k=10, models={name: model},
                              item_features=data.item_features, seed=args.seed + 1)
            metrics = result["models"][name]["metrics"]
            line = {"model": name, "params": params, "val_ndcg@10": round(metrics["ndcg@10"], 4),
                    "val_recall@10": round(metrics["recall@10"], 4),
                    "seconds": round(time.perf_counter() - start, 1)}
            print(json.dumps(line), flush=True)
            if name not in best or line["val_ndcg@10"] > best[name]["val_ndcg@10"]:
                best[name] = line
    print("best:", json.dumps(best, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
