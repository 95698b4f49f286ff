"""A stacked ensemble of cross-validation runs (e.g. a CNN and the ridge model) on the same folds.

For each outer fold, the combination is fitted on held-out predictions of that fold's training
subjects only (the CNN's validation subjects, for which the classical model has inner
cross-validation predictions) and applied to the fold's test subjects:

* age: a convex combination of the members' predicted ages (non-negative weights summing to one,
  no intercept: Breiman's stacking constraint). An unconstrained line fitted on ~20 subjects
  learns their quirks, e.g. a slope above one that undoes regression to the mean on the very
  subjects a CNN's checkpoint was chosen on;
* sex: a logistic regression on the members' logits of P(male), lightly regularised. ``brainage stack RUN... --out RUN``
writes the same ``oof_predictions.csv`` as ``brainage train``, so ``brainage evaluate`` reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize
from sklearn.linear_model import LogisticRegression

from brainage.errors import InputError
from brainage.files import write_csv, write_json
from brainage.layout import RunDir
from brainage.progress import console
from brainage.training.bias import average_seeds_and_correct
from brainage.training.predictions import HELD_OUT_TRAINING, VALUES, current_name, read_predictions
from brainage.training.run_info import RunInfo

KEYS = ["fold", "subject_id", "age", "sex", "site"]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _member(run: RunDir) -> pd.DataFrame:
    if not run.all_predictions.is_file():
        raise InputError(run.root, "no all_predictions.csv: not a finished `brainage train` run")
    preds = read_predictions(run.all_predictions)
    preds["role"] = preds.role.where(~preds.role.isin(HELD_OUT_TRAINING), "held_out")
    values = [c for c in VALUES if c in preds]
    return preds.groupby([*KEYS, "role"], as_index=False)[values].mean()  # seeds averaged


def convex_weights(predictions: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to one that minimise the squared error of ``predictions @ w``.

    Example:
        >>> y = np.arange(10.0)
        >>> convex_weights(np.column_stack([y, y + 3]), y).round(3).tolist()
        [1.0, 0.0]
    """
    k = predictions.shape[1]
    result = optimize.minimize(
        lambda w: float(np.mean((predictions @ w - target) ** 2)),
        np.full(k, 1 / k),
        method="SLSQP",
        bounds=[(0, 1)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
    )
    return np.clip(result.x, 0, 1) / np.clip(result.x, 0, 1).sum()


class Stacker:
    """The per-fold combination: ``fit`` on held-out training predictions, ``predict`` anything.

    Columns ``age_cols`` hold the members' predicted ages, ``sex_cols`` their P(male).

    Example:
        >>> ages = np.linspace(20, 80, 30)
        >>> held_out = pd.DataFrame({"age": ages, "sex": ["F", "M"] * 15, "a1": ages + 5, "a2": ages - 5,
        ...                          "p1": [0.3, 0.7] * 15, "p2": [0.4, 0.6] * 15})
        >>> stacker = Stacker(["a1", "a2"], ["p1", "p2"]).fit(held_out)
        >>> out = stacker.predict(held_out)
        >>> bool(np.abs(out["predicted_age"] - ages).mean() < 1), bool((out["p_male"][1::2] > 0.5).all())
        (True, True)
    """

    def __init__(self, age_cols: list[str], sex_cols: list[str]):
        self.age_cols, self.sex_cols = age_cols, sex_cols

    def _logits(self, table: pd.DataFrame) -> np.ndarray:
        return _logit(table[self.sex_cols].to_numpy(float))

    def fit(self, held_out: pd.DataFrame) -> "Stacker":
        if self.age_cols:
            self.age_weights_ = convex_weights(held_out[self.age_cols].to_numpy(float), held_out.age.to_numpy(float))
        if self.sex_cols:
            self.sex_ = LogisticRegression(C=1.0).fit(self._logits(held_out), held_out.sex == "M")
        return self

    def predict(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        out = {}
        if self.age_cols:
            out["predicted_age"] = table[self.age_cols].to_numpy(float) @ self.age_weights_
        if self.sex_cols:
            out["p_male"] = self.sex_.predict_proba(self._logits(table))[:, 1]
        return out

    def to_dict(self) -> dict:
        """Everything :meth:`predict` needs, full precision, JSON-able (a model bundle stores it)."""
        out = {"age_cols": list(self.age_cols), "sex_cols": list(self.sex_cols)}
        if self.age_cols:
            out["age_weights"] = [float(w) for w in self.age_weights_]
        if self.sex_cols:
            out["sex_coef"] = [float(w) for w in self.sex_.coef_[0]]
            out["sex_intercept"] = float(self.sex_.intercept_[0])
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Stacker":
        """The fitted stack :meth:`to_dict` wrote, without refitting.

        Example:
            >>> table = pd.DataFrame({"age": [30.0, 60.0, 45.0, 50.0], "sex": ["F", "M", "M", "F"],
            ...                       "a": [31.0, 58.0, 44.0, 52.0], "p": [0.2, 0.9, 0.7, 0.4]})
            >>> fitted = Stacker(["a"], ["p"]).fit(table)
            >>> again = Stacker.from_dict(fitted.to_dict())
            >>> bool(np.allclose(again.predict(table)["p_male"], fitted.predict(table)["p_male"]))
            True
        """
        stacker = cls([current_name(c) for c in data["age_cols"]], [current_name(c) for c in data["sex_cols"]])
        if stacker.age_cols:
            stacker.age_weights_ = np.asarray(data["age_weights"], float)
        if stacker.sex_cols:
            stacker.sex_ = LogisticRegression()
            stacker.sex_.classes_ = np.array([False, True])
            stacker.sex_.coef_ = np.asarray([data["sex_coef"]], float)
            stacker.sex_.intercept_ = np.asarray([data["sex_intercept"]], float)
        return stacker

    def weights(self) -> dict:
        out = {}
        if self.age_cols:
            out["age_weights"] = [round(float(w), 4) for w in self.age_weights_]
        if self.sex_cols:
            out["sex_weights"] = [round(float(w), 4) for w in self.sex_.coef_[0]]
        return out


def stack_runs(runs: list[str | Path], out_dir: str | Path) -> pd.DataFrame:
    """Fit the stack per fold on held-out training predictions; write and return out-of-fold predictions.

    Example:
        >>> stack_runs(["models/seresnet", "models/ridge"], "models/stack")  # doctest: +SKIP
    """
    if len(runs) < 2:
        raise InputError(None, "stacking needs at least two runs")
    members = [_member(RunDir(r)) for r in runs]
    merged = members[0]
    for i, member in enumerate(members[1:], start=1):
        merged = merged.merge(member, on=[*KEYS, "role"], suffixes=("", f"_{i}"))
    age_cols = [c for c in merged if c.startswith("predicted_age")]
    sex_cols = [c for c in merged if c.startswith("p_male")]
    rows, weights = [], {}
    for fold, part in merged.groupby("fold"):
        fit, test = part[part.role == "held_out"], part[part.role == "test"]
        if len(fit) < 10 or len(test) == 0:
            raise InputError(
                None,
                f"fold {fold}: only {len(fit)} subjects have held-out predictions from every run "
                "(were the runs trained on the same folds and splits?)",
            )
        both = pd.concat([fit.assign(role="val"), test.assign(role="test")], ignore_index=True)
        stacker = Stacker(
            age_cols if len(age_cols) == len(runs) else [], sex_cols if len(sex_cols) == len(runs) else []
        ).fit(fit)
        rows.append(both[[*KEYS, "role"]].assign(**stacker.predict(both)))
        weights[f"fold{fold}"] = {"n_fit": int(len(fit)), **stacker.weights()}
    preds = pd.concat(rows, ignore_index=True).assign(seed=0)
    run = RunDir(out_dir)
    write_csv(preds, run.all_predictions)
    oof = average_seeds_and_correct(preds)
    write_csv(oof, run.oof_predictions)
    write_json(run.combination, weights)
    first = RunInfo.read(RunDir(runs[0]).info)
    RunInfo(
        cache_dir=first.cache_dir,
        folds_csv=first.folds_csv,
        preprocessed_dir=first.preprocessed_dir,
        stack_of=tuple(Path(r).resolve() for r in runs),
    ).write(run.info)
    console.print(f"stacked {len(runs)} runs over {len(weights)} folds: {run.oof_predictions}")
    return oof
