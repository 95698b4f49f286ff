"""The plots a person wants from a brain-age run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from brainage.plotting import plt
from brainage.plotting import save_figure as _save


def predicted_vs_true(age, predicted, path: Path, title: str = "") -> Path:
    """Scatter with the identity line, the fitted line, and r / MAE in the title."""
    age, predicted = np.asarray(age, float), np.asarray(predicted, float)
    r = np.corrcoef(age, predicted)[0, 1]
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    ax.scatter(age, predicted, s=14, alpha=0.7)
    lo, hi = min(age.min(), predicted.min()) - 2, max(age.max(), predicted.max()) + 2
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="identity")
    slope, icpt = np.polyfit(age, predicted, 1)
    ax.plot([lo, hi], [slope * lo + icpt, slope * hi + icpt], "r-", lw=1, label=f"fit (slope {slope:.2f})")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="chronological age (y)", ylabel="predicted age (y)",
           title=f"{title} r={r:.3f} MAE={np.mean(np.abs(predicted - age)):.2f}")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def bland_altman(age, predicted, path: Path, title: str = "") -> Path:
    age, predicted = np.asarray(age, float), np.asarray(predicted, float)
    mean, diff = (age + predicted) / 2, predicted - age
    md, sd = diff.mean(), diff.std(ddof=1)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(mean, diff, s=14, alpha=0.7)
    for y, style in [(md, "-"), (md + 1.96 * sd, "--"), (md - 1.96 * sd, "--")]:
        ax.axhline(y, color="k", ls=style, lw=1)
    ax.set(xlabel="mean of predicted and true age (y)", ylabel="predicted - true (y)",
           title=f"{title} bias {md:+.2f}, limits of agreement +/-{1.96 * sd:.1f}")
    return _save(fig, path)


def roc(sex, prob_male, path: Path, baseline_prob=None, title: str = "") -> Path:
    y = (np.asarray(sex) == "M").astype(int)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    fpr, tpr, _ = roc_curve(y, prob_male)
    ax.plot(fpr, tpr, label="CNN")
    if baseline_prob is not None:
        fpr, tpr, _ = roc_curve(y, baseline_prob)
        ax.plot(fpr, tpr, label="brain volume only", ls="--")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate (F called M)", ylabel="true positive rate", title=f"{title} ROC")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def learning_curves(logs: dict[str, pd.DataFrame], path: Path) -> Path:
    """Train/val loss per epoch for every fold; ``logs`` maps a label to a Lightning CSV log."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for i, (label, log) in enumerate(logs.items()):
        for col, style in (("train_loss", "-"), ("val_loss", "--")):
            if col in log:
                s = log.groupby("epoch")[col].mean().dropna()
                ax.plot(s.index, s.values, style, color=f"C{i % 10}", lw=1, label=f"{label} {col}")
    ax.set(xlabel="epoch", ylabel="loss", title="learning curves (solid train, dashed val)")
    if logs:
        ax.legend(fontsize=6, ncol=2)
    return _save(fig, path)
