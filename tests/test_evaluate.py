"""evaluate() on MovieLens-shaped synthetic data, the reports, and the command line."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from recsys.evaluation import evaluate as ev
from recsys.users.datasets import Dataset
from recsys.errors import ConfigError
from recsys.users.interactions import Interactions
from recsys.models import BPR, EASE, ContentCosine, ItemKNN, Popularity

N_USERS, N_ITEMS, N_GENRES = 120, 60, 3


def synthetic(seed: int = 0) -> tuple[Interactions, np.ndarray]:
    """Users prefer one of three genres (item clusters), with popular items within each."""
    rng = np.random.default_rng(seed)
    genre = np.arange(N_ITEMS) % N_GENRES
    taste = rng.integers(0, N_GENRES, N_USERS)
    popularity = rng.zipf(1.5, N_ITEMS).clip(1, 50).astype(float)
    rows = []
    for u in range(N_USERS):
        p = popularity * np.where(genre == taste[u], 1.0, 0.05)
        items = rng.choice(N_ITEMS, size=rng.integers(8, 20), replace=False, p=p / p.sum())
        rows += [(f"u{u}", int(i), 4.0, 880_000_000 + int(rng.integers(0, 10**6)))
                 for i in items]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "time"])
    inter = Interactions.from_frame(frame, "user", "item", "rating", "time")
    features = np.eye(N_GENRES, dtype=np.float32)[genre[inter.item_ids.values]]
    return inter, features


def fast_models() -> dict:
    return {"popularity": Popularity(), "item_knn": ItemKNN(neighbours=20),
            "ease": EASE(lambda_reg=20.0), "content": ContentCosine(),
            "bpr": BPR(factors=8, epochs=20, batch_size=256, lr=0.05, reg=1e-3)}


def test_evaluate_reports_every_model_and_a_tuned_hybrid():
    inter, features = synthetic()
    result = ev.evaluate(inter, protocol="stratified-75-25", k=5, models=fast_models(),
                         item_features=features, seed=1, dataset="synthetic")
    assert set(result["models"]) == {"popularity", "item_knn", "ease", "content", "bpr", "score_fusion"}
    assert result["data"]["n_train"] + result["data"]["n_test"] == len(inter)
    for name, entry in result["models"].items():
        m = entry["metrics"]
        for key in ("ndcg@5", "recall@5", "precision@5", "map@5", "mrr@5", "hit_rate@5",
                    "coverage@5", "diversity@5"):
            assert 0.0 <= m[key] <= 1.0, (name, key)
        assert entry["fit_s"] >= 0 and entry["score_s"] >= 0
    scores = {n: e["metrics"]["ndcg@5"] for n, e in result["models"].items()}
    assert scores["ease"] > scores["popularity"]  # personal taste is learnable here
    assert result["models"]["score_fusion"]["tuned_on"] == "validation"
    assert set(result["models"]["score_fusion"]["weights"]) == set(fast_models())
    assert result["models"]["bpr"]["params"]["factors"] == 8
    json.dumps(result)  # serialisable as is


@pytest.mark.parametrize("protocol", ["random-80-10-10", "leave-one-out", "temporal"])
def test_other_protocols(protocol):
    inter, _ = synthetic()
    result = ev.evaluate(inter, protocol=protocol, models=["popularity", "ease"], seed=0,
                         hybrid_weights={"ease": 1.0})
    assert result["models"]["score_fusion"]["weights"] == {"popularity": 0.0, "ease": 1.0}
    assert result["models"]["score_fusion"]["tuned_on"] == "given"
    # With popularity weighted 0, the hybrid ranks exactly as EASE.
    models = result["models"]
    assert models["score_fusion"]["metrics"] == pytest.approx(models["ease"]["metrics"])
    assert result["models"]["ease"]["metrics"]["diversity@10"] is None


def test_evaluate_rejects_bad_requests():
    inter, _ = synthetic()
    with pytest.raises(ConfigError, match="unknown model"):
        ev.evaluate(inter, protocol="leave-one-out", models=["nope"])
    with pytest.raises(ConfigError, match="item features"):
        ev.evaluate(inter, protocol="leave-one-out", models=["content"])
    with pytest.raises(ConfigError, match="unknown protocol"):
        ev.evaluate(inter, protocol="kfold", models=["popularity"])
    with pytest.raises(ConfigError, match="unknown model"):
        ev.evaluate(inter, protocol="leave-one-out", models=["ease", "popularity"],
                    hybrid_weights={"bpr": 1.0})


def test_write_report(tmp_path):
    inter, features = synthetic()
    result = ev.evaluate(inter, protocol="leave-one-out", models=["popularity", "ease"],
                         item_features=features, dataset="synthetic")
    paths = ev.write_report(result, tmp_path)
    text = paths["markdown"].read_text()
    assert paths["markdown"].name == "evaluate-synthetic-leave-one-out.md"
    assert "| ease |" in text and "Score-fusion baseline weights (validation)" in text
    assert json.loads(paths["json"].read_text())["protocol"] == "leave-one-out"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ev.add_cli_arguments(parser)
    return parser.parse_args(argv)


def test_cli_json_with_a_registered_demo_dataset(monkeypatch, capsys, tmp_path):
    inter, features = synthetic()
    monkeypatch.setitem(ev.DATASET_LOADERS, "demo",
                        lambda path: Dataset("demo", inter, item_features=features))
    args = _parse(["--dataset", "demo", "--protocol", "leave-one-out", "--k", "5", "--json",
                   "--models", "popularity,ease,content", "--report", str(tmp_path)])
    assert ev.run_cli(args) == 0
    out = json.loads(capsys.readouterr().out)  # stdout is JSON only
    assert out["dataset"] == "demo" and "score_fusion" in out["models"]
    assert (tmp_path / "evaluate-demo-leave-one-out.json").is_file()


def test_cli_movielens_file(tmp_path, capsys):
    inter, _ = synthetic()
    frame = inter.to_frame()
    frame["user_id"] = frame["user_id"].str[1:]
    (tmp_path / "u.data").write_text(frame.to_csv(sep="\t", header=False, index=False))
    args = _parse(["--dataset", "movielens", str(tmp_path), "--protocol", "temporal",
                   "--models", "popularity,item_knn", "--weights", "item_knn=1"])
    assert ev.run_cli(args) == 0
    assert "| item_knn |" in capsys.readouterr().out


@pytest.mark.parametrize("argv,match", [
    (["--dataset", "movielens", "/no/such/dir", "--protocol", "temporal"], "no such file"),
    (["--dataset", "movielens", "--protocol", "temporal"], "needs a PATH"),
    (["--dataset", "demo2", "--protocol", "temporal"], "unknown dataset"),
    (["--dataset", "lastfm", "a", "b", "--protocol", "temporal"], "at most one PATH"),
])
def test_cli_errors_are_one_line(argv, match, capsys):
    assert ev.run_cli(_parse(argv + ["--json"])) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert match in captured.err and captured.err.count("\n") == 1


def test_app_hybrid_is_evaluated_on_a_catalog_and_beats_popularity():
    """With a media catalog, evaluate measures the app's own HybridRecommender + ranker, its
    weights tuned on a split of the training part: on two clusters of taste it must rank the
    user's own cluster, which popularity (a mix of both) cannot."""
    from benchmarks.factories import synthetic_catalog
    from recsys.users.personas import get_persona, simulate_interactions

    cat = synthetic_catalog(40)
    df = simulate_interactions(cat, [get_persona("Nature Lover"), get_persona("Night Owl Gamer")],
                               users_per_persona=12, seed=1)
    inter = Interactions.from_frame(df, "user_id", "item_id", item_ids=cat.item_ids)
    result = ev.evaluate(inter, protocol="stratified-75-25", k=5, models=["popularity"], catalog=cat, seed=0)
    app = result["models"]["app_hybrid"]
    assert app["tuned_on"].startswith("validation")
    assert set(app["weights"]) >= {"visual", "audio", "cf", "matcher"}
    assert app["metrics"]["ndcg@5"] > result["models"]["popularity"]["metrics"]["ndcg@5"]
    assert "App hybrid" in ev.format_markdown(result)


class GenreWordEncoder:
    """A fake MiniLM for unit tests: one axis per genre word found in the text, L2-normalised."""

    words = ("action", "comedy", "drama")

    def encode(self, texts):
        out = np.zeros((len(texts), 384), np.float32)
        for row, text in enumerate(texts):
            for j, word in enumerate(self.words):
                out[row, j] = float(word in text.lower())
            out[row, 383] = 0.1  # never all zero
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _string_ids() -> tuple[Interactions, np.ndarray]:
    """`synthetic` with string item ids, as MovieLens and every catalog have them."""
    frame = synthetic()[0].to_frame()
    frame["item_id"] = frame["item_id"].astype(str)
    inter = Interactions.from_frame(frame, "user_id", "item_id", "weight", "timestamp")
    genre = np.array([int(i) % N_GENRES for i in inter.item_ids.values])
    return inter, np.eye(N_GENRES, dtype=np.float32)[genre]


def _titled_items(inter: Interactions) -> pd.DataFrame:
    ids = list(inter.item_ids.values)
    return pd.DataFrame({"item_id": [str(i) for i in ids], "title": [f"Film {i}" for i in ids],
                         "genres": [[GenreWordEncoder.words[int(i) % N_GENRES].title()] for i in ids]})


def test_text_catalog_holds_titles_and_genres_in_its_text_blocks_only():
    from recsys.catalog.text_catalog import item_texts, text_catalog

    inter, _ = _string_ids()
    items = _titled_items(inter)
    texts = item_texts(items)
    assert texts[0] == f"Film {items.item_id[0]}. {items.genres[0][0]}"
    assert item_texts(pd.DataFrame({"item_id": ["7"]})) == ["item 7"]  # no title, no genres
    cat = text_catalog(items, texts, GenreWordEncoder())
    assert len(cat) == len(items) and list(cat.item_ids) == list(items.item_id)
    np.testing.assert_allclose(cat.blocks["text"], cat.blocks["semantic"])
    assert np.abs(cat.blocks["visual"]).max() == 0 and np.abs(cat.blocks["audio"]).max() == 0
    assert np.abs(cat.label_scores).max() == 0
    genre = np.array([int(i) % N_GENRES for i in items.item_id])
    cos = cat.embeddings @ cat.embeddings.T
    same, other = cos[genre[:, None] == genre[None, :]], cos[genre[:, None] != genre[None, :]]
    assert same.min() > other.max()  # the genre word is what the text blocks hold
    with pytest.raises(ValueError, match="texts for"):
        text_catalog(items, texts[:-1], GenreWordEncoder())


def test_app_hybrid_on_a_text_only_catalog_beats_popularity():
    """A data set with titles but no media (MovieLens) still measures the app's hybrid."""
    from recsys.catalog.text_catalog import dataset_text_catalog

    inter, features = _string_ids()
    cat = dataset_text_catalog(_titled_items(inter), GenreWordEncoder())
    result = ev.evaluate(inter, protocol="stratified-75-25", k=5, models=["popularity"],
                         item_features=features, catalog=cat, seed=0)
    app = result["models"]["app_hybrid"]["metrics"]["ndcg@5"]
    assert app > result["models"]["popularity"]["metrics"]["ndcg@5"]
    weights = result["models"]["app_hybrid"]["weights"]
    assert weights["visual"] == weights["audio"] == 0.0  # zero blocks: no weight is reported for them


def test_cli_app_hybrid_flag_builds_a_text_catalog(monkeypatch, capsys):
    import recsys.encoders.text as text_mod

    inter, features = _string_ids()
    monkeypatch.setattr(text_mod, "get_text_encoder", lambda device=None: GenreWordEncoder())
    monkeypatch.setitem(ev.DATASET_LOADERS, "titled",
                        lambda path: Dataset("titled", inter, items=_titled_items(inter),
                                             item_features=features))
    args = _parse(["--dataset", "titled", "--protocol", "stratified-75-25", "--k", "5", "--json",
                   "--models", "popularity", "--report", "", "--app-hybrid"])
    assert ev.run_cli(args) == 0
    assert "app_hybrid" in json.loads(capsys.readouterr().out)["models"]
    # without the flag (and without a media catalog) there is no app hybrid
    assert ev.run_cli(_parse(["--dataset", "titled", "--protocol", "stratified-75-25", "--json",
                              "--models", "popularity", "--report", ""])) == 0
    assert "app_hybrid" not in json.loads(capsys.readouterr().out)["models"]
    # a data set without an item table: one clear error
    monkeypatch.setitem(ev.DATASET_LOADERS, "bare", lambda path: Dataset("bare", inter))
    assert ev.run_cli(_parse(["--dataset", "bare", "--protocol", "temporal", "--json",
                              "--app-hybrid"])) == 2
    assert "no item table" in capsys.readouterr().err
