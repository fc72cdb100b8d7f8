"""Sub-commands beyond ``analyze``: each ``register_*`` adds one sub-parser with ``func`` set."""
from __future__ import annotations

import json
import sys

from recsys.errors import ConfigError


def _progress_bar(desc: str):
    """A tqdm progress callback on stderr (stdout stays clean for --json)."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, path: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, file=sys.stderr, unit="clip")
        bar.n = done
        bar.set_postfix_str(path[-40:])
        bar.refresh()
        if done >= total:
            bar.close()

    return update


# --- build -----------------------------------------------------------------------------------

def cmd_build(args) -> int:
    from recsys.catalog.catalog import build_catalog, sample_catalog_dir

    out = args.out or (sample_catalog_dir().parent / "custom")
    if args.ray is not None:
        from recsys.catalog.distributed import build_catalog_ray

        cat = build_catalog_ray(args.media_dir, manifest=args.manifest, out_dir=out,
                                address=None if args.ray == "local" else args.ray, workers=args.workers)
    else:
        cat = build_catalog(args.media_dir, manifest=args.manifest, out_dir=out, progress=_progress_bar("analysing"))
    summary = {"catalog": str(out), **{k: cat.meta[k] for k in ("n_items", "analysed", "reused", "build_seconds")},
               "skipped": cat.meta["skipped"]}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"catalog of {summary['n_items']} items in {out} ({summary['analysed']} analysed, "
              f"{summary['reused']} reused from cache, {summary['build_seconds']:.1f} s)")
        for s in summary["skipped"]:
            print(f"  skipped {s}", file=sys.stderr)
    return 0


def register_build(sub) -> None:
    p = sub.add_parser("build", help="build or update a catalog from a folder of clips")
    p.add_argument("--media-dir", required=True)
    p.add_argument("--manifest", help="CSV with path,title,description,tags,... (default: every clip in the folder)")
    p.add_argument("--out", help="catalog folder (default: data/catalogs/custom)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="build on Ray: a local instance, or a cluster address (e.g. auto, HEAD:6379)")
    p.add_argument("--workers", type=int, default=2, help="Ray actors, one model set each (default 2)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_build)


# --- recommend ---------------------------------------------------------------------------------

def cmd_recommend(args) -> int:
    from recsys.serving.ranker import parse_weights
    from recsys.serving.service import load_service

    if args.k < 1:
        raise ConfigError(f"--k must be >= 1, got {args.k}")
    weights = parse_weights(args.weights)
    if args.persona:
        from recsys.users.personas import get_persona

        get_persona(args.persona)  # an unknown name fails now, not after loading the models
    service = load_service(catalog_dir=args.catalog, progress=None if args.json else _progress_bar("building sample catalog"))
    if args.clip:
        analysis = service.analyzer.analyze(args.clip)
        query = service.clip_query(analysis)
    elif args.persona:
        query = service.persona_query(args.persona)
    else:
        query = service.user_query(args.user)
    recs = service.recommend(query, weights, k=args.k, kind=args.kind)
    if args.json:
        print(json.dumps({"query": query.label, "weights": weights, "items": [r.to_dict() for r in recs]}))
        return 0
    print(f"Top {len(recs)} for {query.label}:")
    for i, r in enumerate(recs, 1):
        comps = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.components.items(), key=lambda x: -x[1])[:3])
        print(f"{i:2d}. [{r.kind}] {r.title}  score {r.score:.3f}  ({comps})")
        print(f"    {r.explanation.text}")
    return 0


def register_recommend(sub) -> None:
    p = sub.add_parser("recommend", help="ranked recommendations for a clip, a persona or a user")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--clip", metavar="FILE")
    src.add_argument("--persona", metavar="NAME")
    src.add_argument("--user", metavar="ID")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--weights", help="e.g. visual=0.5,audio=1,text=0.5,semantic=1,cf=0.5,matcher=1,popularity=0,diversity=0.2")
    p.add_argument("--kind", choices=("audio", "video"), help="only recommend this kind")
    p.add_argument("--catalog", help="catalog folder (default: the embedded sample catalog)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_recommend)


# --- personas ----------------------------------------------------------------------------------

def cmd_personas(args) -> int:
    from recsys.users.personas import load_personas

    rows = [{"name": p.name, "description": p.description, "themes": list(p.themes),
             "emotions": list(p.emotions), "styles": list(p.styles), "kind_preference": p.kind_preference}
            for p in load_personas()]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['name']}: {r['description']}")
            print(f"    likes {', '.join(r['themes'] + r['emotions'] + r['styles'])}")
    return 0


def register_personas(sub) -> None:
    p = sub.add_parser("personas", help="list the personas")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_personas)


# --- evaluate ----------------------------------------------------------------------------------

def load_demo_dataset(path: str | None = None):
    """The sample catalog (or the catalog folder ``path``) with its simulated users as a Dataset;
    item features are the catalog's item vectors reduced by PCA to 64 dims. The catalog and the
    persona text vectors ride along, so ``evaluate`` also measures the app's own hybrid."""
    from recsys.catalog.catalog import Catalog, load_or_build_sample_catalog
    from recsys.pca import fit_pca_basis
    from recsys.serving.service import persona_user_text
    from recsys.users.datasets import Dataset
    from recsys.users.interactions import Interactions

    cat = Catalog.load(path) if path else load_or_build_sample_catalog()
    df, user_text = persona_user_text(cat)
    inter = Interactions.from_frame(df, "user_id", "item_id", "weight", "timestamp", item_ids=cat.item_ids)
    feats = fit_pca_basis(cat.embeddings, 64).transform(cat.embeddings)
    return Dataset(name="demo", interactions=inter, items=cat.items[["item_id", "title", "kind"]],
                   item_features=feats, feature_names=tuple(f"pc{i}" for i in range(feats.shape[1])),
                   catalog=cat, user_text=user_text)


def cmd_evaluate(args) -> int:
    from recsys.evaluation.evaluate import register_dataset, run_cli

    register_dataset("demo", load_demo_dataset)
    return run_cli(args)


def register_evaluate(sub) -> None:
    from recsys.evaluation.evaluate import add_cli_arguments

    p = sub.add_parser("evaluate", help="offline evaluation of every model and the hybrid")
    add_cli_arguments(p)
    p.set_defaults(func=cmd_evaluate)


def register_bench(sub) -> None:
    from benchmarks.bench import register_bench as register

    register(sub)


REGISTER: list = [register_build, register_recommend, register_personas, register_evaluate, register_bench]
