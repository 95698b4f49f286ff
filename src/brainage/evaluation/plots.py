"""The plots a person wants from a brain-age run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import roc_curve

from brainage.plotting import plt
from brainage.plotting import save_figure as _save


def predicted_vs_true(age, predicted, path: Path, title: str = "", interval=None) -> Path:
    """Scatter with the identity line, the fitted line, and r / MAE in the title; ``interval``:
    ``(low, high)`` of each scan's age interval, drawn as a bar through its point (it covers the
    true age where the bar crosses the identity line)."""
    age, predicted = np.asarray(age, float), np.asarray(predicted, float)
    r = np.corrcoef(age, predicted)[0, 1]
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    if interval is not None:
        low, high = (np.asarray(v, float) for v in interval)
        shown = np.isfinite(low) & np.isfinite(high)
        ax.errorbar(
            age[shown],
            predicted[shown],
            yerr=[predicted[shown] - low[shown], high[shown] - predicted[shown]],
            fmt="none",
            ecolor="0.6",
            lw=0.8,
            label="age interval",
        )
    ax.scatter(age, predicted, s=14, alpha=0.7)
    lo, hi = min(age.min(), predicted.min()) - 2, max(age.max(), predicted.max()) + 2
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="identity")
    slope, icpt = np.polyfit(age, predicted, 1)
    ax.plot([lo, hi], [slope * lo + icpt, slope * hi + icpt], "r-", lw=1, label=f"fit (slope {slope:.2f})")
    ax.set(
        xlim=(lo, hi),
        ylim=(lo, hi),
        xlabel="chronological age (y)",
        ylabel="predicted age (y)",
        title=f"{title} r={r:.3f} MAE={np.mean(np.abs(predicted - age)):.2f}",
    )
    ax.legend(loc="upper left", fontsize=9)
    return _save(fig, path)


def bland_altman(age, predicted, path: Path, title: str = "") -> Path:
    age, predicted = np.asarray(age, float), np.asarray(predicted, float)
    mean, diff = (age + predicted) / 2, predicted - age
    md, sd = diff.mean(), diff.std(ddof=1)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(mean, diff, s=14, alpha=0.7)
    for y, style in [(md, "-"), (md + 1.96 * sd, "--"), (md - 1.96 * sd, "--")]:
        ax.axhline(y, color="k", ls=style, lw=1)
    ax.set(
        xlabel="mean of predicted and true age (y)",
        ylabel="predicted - true (y)",
        title=f"{title} bias {md:+.2f}, limits of agreement +/-{1.96 * sd:.1f}",
    )
    return _save(fig, path)


def roc(sex, prob_male, path: Path, baseline_prob=None, title: str = "") -> Path:
    y = (np.asarray(sex) == "M").astype(int)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    fpr, tpr, _ = roc_curve(y, prob_male)
    ax.plot(fpr, tpr, label="model")
    if baseline_prob is not None:
        fpr, tpr, _ = roc_curve(y, baseline_prob)
        ax.plot(fpr, tpr, label="brain volume only", ls="--")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate (F called M)", ylabel="true positive rate", title=f"{title} ROC")
    ax.legend(loc="lower right", fontsize=9)
    return _save(fig, path)


def reliability(sex, prob_male, path: Path, bins: int = 10) -> Path:
    """Reliability diagram of P(male): the share of males among subjects given each probability
    (a calibrated model lies on the diagonal), with how many subjects each bin holds."""
    from sklearn.calibration import calibration_curve

    y = (np.asarray(sex) == "M").astype(int)
    p = np.asarray(prob_male, float)
    observed, expected = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    ax.plot(expected, observed, "o-", label="model")
    counts, edges = np.histogram(p, bins=bins, range=(0, 1))
    ax.bar(edges[:-1], counts / max(counts.max(), 1) * 0.25, width=1 / bins, align="edge", alpha=0.25, label="subjects")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted P(male)", ylabel="share of males", title="sex: reliability")
    ax.legend(loc="upper left", fontsize=9)
    return _save(fig, path)


def trajectories(sessions, path: Path) -> Path:
    """Predicted against chronological age for every session (the cohort, grey), each participant
    scanned more than once joined by a line in session order, with its interval as a bar."""
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    ax.scatter(sessions.age, sessions.predicted_age, s=10, color="0.6", label="every session")
    for _, group in sessions.groupby("participant_id"):
        if len(group) < 2:
            continue
        group = group.sort_values("age")
        line = ax.plot(group.age, group.predicted_age, "o-", ms=4, lw=1.2)[0]
        if {"predicted_age_low", "predicted_age_high"} <= set(group.columns):
            ax.vlines(group.age, group.predicted_age_low, group.predicted_age_high, color=line.get_color(), lw=0.6)
    lo = float(min(sessions.age.min(), sessions.predicted_age.min())) - 2
    hi = float(max(sessions.age.max(), sessions.predicted_age.max())) + 2
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="identity")
    ax.set(xlabel="chronological age (y)", ylabel="predicted age (y)", title="brain-age trajectories")
    ax.legend(loc="upper left", fontsize=9)
    return _save(fig, path)


def learning_curves(logs: dict[str, pd.DataFrame], path: Path) -> Path:
    """Train/val loss per epoch: one colour per fold (seeds of a fold share it), solid train, dashed val."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    folds = sorted({label.split("/")[0] for label in logs})
    for label, log in logs.items():
        color = f"C{folds.index(label.split('/')[0]) % 10}"
        for col, style in (("train_loss", "-"), ("val_loss", "--")):
            if col in log:
                s = log.groupby("epoch")[col].mean().dropna()
                ax.plot(s.index, s.values, style, color=color, lw=1)
    for i, fold in enumerate(folds):
        ax.plot([], [], color=f"C{i % 10}", label=fold)
    ax.plot([], [], "k-", label="train")
    ax.plot([], [], "k--", label="validation")
    ax.set(xlabel="epoch", ylabel="loss", title="learning curves")
    if logs:
        ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, path, dpi=110)


def gap_histogram(gaps: dict[str, np.ndarray], path: Path, title: str = "") -> Path:
    """Distribution of brain-age gaps (predicted - chronological age), one histogram per variant."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    values = [np.asarray(v, float)[~np.isnan(np.asarray(v, float))] for v in gaps.values()]
    edges = np.histogram_bin_edges(np.concatenate(values), bins=min(30, max(5, sum(map(len, values)) // 3)))
    for label, v in zip(gaps, values):
        ax.hist(
            v,
            bins=edges,
            alpha=0.55,
            label=f"{label}: mean {v.mean():+.1f}, sd {v.std(ddof=1) if len(v) > 1 else 0:.1f} y",
        )
    ax.axvline(0, color="k", lw=1)
    ax.set(xlabel="brain-age gap: predicted - chronological age (y)", ylabel="subjects", title=title)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # subjects come whole
    # below the axes, so the legend never hides a bar
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    return _save(fig, path, bbox_inches="tight")
