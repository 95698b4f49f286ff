"""Deterministic subject-level splits stratified by sex x age bin (x site when there are several).

The seed project's users hit the classic problem of a validation set whose male/female ratio
differed from training; stratifying on the joint sex x age-bin (x site) label keeps the sex ratio
and the age distribution of every fold close to the whole cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from brainage.config import save_config
from brainage.data.manifest import exclude, included, read_manifest, read_table, write_manifest
from brainage.errors import InputError
from brainage.files import write_csv
from brainage.layout import SplitsDir
from brainage.progress import console
from brainage.qc.verdicts import qc_failed


@dataclass
class SplitConfig:
    """How to split. ``n_folds`` folds for cross-validation; fold ``test_fold`` is the test set of
    the single train/val/test split and fold ``(test_fold + 1) % n_folds`` its validation set."""

    n_folds: int = 5
    age_bins: int = 4
    seed: int = 42
    test_fold: int = 0


def read_folds(path: str | Path) -> pd.DataFrame:
    """``folds.csv`` of ``brainage split``: each subject's outer fold (an integer) and its role.

    Parameters
    ----------
    path : str or Path
        The folds table.

    Returns
    -------
    pandas.DataFrame
        ``subject_id`` (text), ``fold`` (int) and the other columns as written. A table without
        those two columns, or with a fold that is not a whole number, is refused in one line.
    """
    folds = read_table(path, "folds table", dtype={"subject_id": str})
    if not {"subject_id", "fold"} <= set(folds.columns):
        raise InputError(path, "not a folds table (needs subject_id and fold columns; made by `brainage split`)")
    fold = pd.to_numeric(folds.fold, errors="coerce")
    if fold.isna().any() or (fold != fold.round()).any():
        bad = folds.fold[fold.isna() | (fold != fold.round())].iloc[0]
        raise InputError(path, f"fold {bad!r} is not a fold number")
    return folds.assign(fold=fold.astype(int))


def strata(df: pd.DataFrame, age_bins: int, n_folds: int) -> np.ndarray:
    """Joint stratum labels; rare strata are merged so each has at least ``n_folds`` members."""
    ages = df["age"].to_numpy(dtype=float)
    # Quantile bins give equally populated age groups whatever the cohort's age range.
    edges = np.unique(np.quantile(ages, np.linspace(0, 1, age_bins + 1)[1:-1]))
    age_bin = np.digitize(ages, edges)
    parts = [df["sex"].astype(str).to_numpy(), age_bin.astype(str)]
    if df["site"].nunique() > 1:
        parts.append(df["site"].astype(str).to_numpy())
    labels = pd.Series(["|".join(p) for p in zip(*parts)])
    # Merge too-small strata so StratifiedKFold can place every stratum in every fold: first into a
    # catch-all per sex, then (still too small) into one catch-all, then into the largest stratum.
    sex = pd.Series(df["sex"].astype(str).to_numpy())
    for merged in (sex + "|rare", pd.Series("rare", index=labels.index), None):
        rare = labels.map(labels.value_counts()) < n_folds
        if not rare.any():
            break
        largest = labels[~rare].value_counts().index[0] if (~rare).any() else "rare"
        labels[rare] = merged[rare] if merged is not None else largest
    return labels.to_numpy()


def make_folds(manifest: pd.DataFrame, config: SplitConfig = SplitConfig()) -> pd.DataFrame:
    """Assign each included subject a fold in ``0..n_folds-1`` and a train/val/test role.

    Parameters
    ----------
    manifest
        A manifest (:func:`read_manifest`); only included subjects get a fold.
    config
        Number of folds, age bins, seed and test fold (:class:`SplitConfig`).

    Returns
    -------
    pandas.DataFrame
        ``subject_id, fold, split``: each subject's fold and its role in the single train/val/test
        split.

    Example:
        >>> from brainage.data.manifest import make_manifest
        >>> rows = ({"subject_id": f"s{i:02d}", "age": 20.0 + i, "sex": "FM"[i % 2]} for i in range(20))
        >>> manifest = make_manifest(rows)
        >>> folds = make_folds(manifest, SplitConfig(n_folds=5, seed=0))
        >>> folds.fold.value_counts().tolist()
        [4, 4, 4, 4, 4]
    """
    df = included(manifest)
    if len(df) < 2 * config.n_folds:
        raise InputError(None, f"only {len(df)} usable subjects: too few for {config.n_folds} folds")
    labels = strata(df, config.age_bins, config.n_folds)
    folds = np.empty(len(df), dtype=int)
    # Sort first so the result does not depend on the manifest's row order.
    order = np.argsort(df["subject_id"].to_numpy(), kind="stable")
    skf = StratifiedKFold(n_splits=config.n_folds, shuffle=True, random_state=config.seed)
    for k, (_, test_idx) in enumerate(skf.split(np.zeros(len(df)), labels[order])):
        folds[order[test_idx]] = k
    val_fold = (config.test_fold + 1) % config.n_folds
    split = np.where(folds == config.test_fold, "test", np.where(folds == val_fold, "val", "train"))
    return pd.DataFrame({"subject_id": df["subject_id"], "fold": folds, "split": split})


def describe_groups(manifest: pd.DataFrame, assignment: pd.Series, name: str) -> pd.DataFrame:
    """Per-group n, F/M counts, male fraction and age statistics (plus the whole cohort)."""
    df = included(manifest).assign(**{name: assignment.to_numpy()})
    rows = []
    for group, part in [("all", df)] + sorted(df.groupby(name), key=lambda kv: str(kv[0])):
        rows.append(
            {
                name: group,
                "n": len(part),
                "n_F": int((part.sex == "F").sum()),
                "n_M": int((part.sex == "M").sum()),
                "male_fraction": float((part.sex == "M").mean()),
                "age_mean": float(part.age.mean()),
                "age_std": float(part.age.std()),
                "age_min": float(part.age.min()),
                "age_max": float(part.age.max()),
            }
        )
    return pd.DataFrame(rows)


def write_splits(manifest: pd.DataFrame, out_dir: str | Path, config: SplitConfig = SplitConfig()) -> pd.DataFrame:
    """Compute folds, then write ``folds.csv``, ``fold_balance.csv``, ``split_balance.csv`` and the config."""
    out = SplitsDir(out_dir)
    folds = make_folds(manifest, config)
    write_csv(folds, out.folds)
    write_csv(describe_groups(manifest, folds["fold"], "fold"), out.fold_balance)
    write_csv(describe_groups(manifest, folds["split"], "split"), out.split_balance)
    save_config(config, out.config)
    return folds


def exclude_qc_failed(manifest: pd.DataFrame, verdicts_path: str | Path) -> pd.DataFrame:
    """The manifest with every subject QC failed (:func:`~brainage.qc.verdicts.qc_failed`)
    marked excluded, with the QC reasons."""
    failed = qc_failed(verdicts_path)
    return exclude(manifest, manifest.subject_id.isin(failed.index), manifest.subject_id.map(failed).fillna(""))


def split(
    manifest_path: str | Path, out_dir: str | Path, config: SplitConfig = SplitConfig(), qc: str | Path | None = None
) -> pd.DataFrame:
    """The ``split`` stage: stratified folds of the included (and, with ``qc``, not QC-failed)
    subjects of a manifest, written to ``out_dir``; prints the balance of every fold.

    Parameters
    ----------
    manifest_path
        ``manifest.csv`` from ``brainage ingest``.
    out_dir
        Output folder for ``folds.csv``, the balance tables and the config.
    config
        Number of folds, age bins, seed and test fold (:class:`SplitConfig`).
    qc
        A ``qc_verdicts.csv``: subjects whose final verdict is ``fail`` get no fold.

    Returns
    -------
    pandas.DataFrame
        ``subject_id, fold, split`` for every subject that got a fold.
    """
    manifest = read_manifest(manifest_path)
    out = SplitsDir(out_dir)
    if qc is not None:
        manifest = exclude_qc_failed(manifest, qc)
        write_manifest(manifest, out.manifest_after_qc)
    folds = write_splits(manifest, out.root, config)
    console.print(
        f"{config.n_folds} folds for cross-validation (male fraction and age per fold; "
        f"the single train/val/test split is in {out.split_balance}):"
    )
    console.print(pd.read_csv(out.fold_balance).round(2).to_string(index=False))
    return folds
