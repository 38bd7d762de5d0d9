"""Held-out scores of two worklist orders: ROC AUC and precision in the top 10% of each week's list,
with paired student-level bootstrap intervals (a student appears at several cut-offs)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

TOP_SHARE = 0.10
RESAMPLES = 1000
LEVEL = 0.95


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC (ties count a half); NaN without both classes."""
    pos = int(labels.sum())
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def precision_top(
    scores: np.ndarray, labels: np.ndarray, weeks: np.ndarray, share: float = TOP_SHARE
) -> float:
    """Withdrawers among the top `share` (at least one) of each cut-off week's list, pooled over the
    weeks: what a user working down the worklist each week would meet. Ties keep the given order."""
    order = np.lexsort((np.arange(len(scores)), -scores, weeks))
    w = weeks[order]
    starts = np.r_[0, np.flatnonzero(w[1:] != w[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(w)])
    position = np.arange(len(w)) - np.repeat(starts, sizes)
    take = np.maximum(np.round(sizes * share).astype(int), 1)
    top = position < np.repeat(take, sizes)
    return float(labels[order][top].mean()) if top.any() else float("nan")


def _interval(values: np.ndarray) -> list[float]:
    tail = (1 - LEVEL) / 2 * 100
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [float("nan"), float("nan")]
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def compare(
    orders: dict[str, np.ndarray],
    labels: np.ndarray,
    weeks: np.ndarray,
    students: np.ndarray,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict:
    """Per order: roc_auc and precision_top_10pct with 95% intervals (students resampled with
    replacement, all their cut-offs together); for the first order against the second, the
    intervals of the differences and the share of resamples in which the first is higher."""
    names = list(orders)
    point = {
        n: {
            "roc_auc": round(auc(orders[n], labels), 4),
            "precision_top_10pct": round(precision_top(orders[n], labels, weeks), 4),
        }
        for n in names
    }
    ids, inverse = np.unique(students, return_inverse=True)
    by_student = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(ids))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rng = np.random.default_rng(seed)
    draws: dict[str, dict[str, list[float]]] = {
        n: {"roc_auc": [], "precision_top_10pct": []} for n in names
    }
    for _ in range(resamples):
        pick = rng.integers(0, len(ids), len(ids))
        n_rows = counts[pick]
        offsets = np.arange(n_rows.sum()) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
        rows = by_student[np.repeat(starts[pick], n_rows) + offsets]
        for n in names:
            draws[n]["roc_auc"].append(auc(orders[n][rows], labels[rows]))
            draws[n]["precision_top_10pct"].append(
                precision_top(orders[n][rows], labels[rows], weeks[rows])
            )
    out: dict = {}
    for n in names:
        out[n] = dict(point[n])
        for metric, values in draws[n].items():
            out[n][f"{metric}_ci95"] = _interval(np.array(values))
    if len(names) >= 2:
        a, b = names[0], names[1]
        diff = {}
        for metric in ("roc_auc", "precision_top_10pct"):
            d = np.array(draws[a][metric]) - np.array(draws[b][metric])
            finite = d[np.isfinite(d)]
            diff[metric] = {
                "difference": round(point[a][metric] - point[b][metric], 4),
                "ci95": _interval(d),
                "share_higher": round(float((finite > 0).mean()), 3) if len(finite) else None,
            }
        out[f"{a}_minus_{b}"] = diff
    out["samples"] = int(len(labels))
    out["withdrawals"] = int(labels.sum())
    out["students"] = int(len(ids))
    out["withdrawers"] = int(len(np.unique(students[labels == 1])))
    return out
