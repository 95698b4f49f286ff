"""``brainage evaluate``: metrics, baselines, plots, CSV and an HTML page for a training run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.errors import StageError
from brainage.evaluation import plots
from brainage.evaluation.baselines import baseline_metrics, baseline_predictions
from brainage.evaluation.metrics import age_metrics, sex_metrics, signed_error_by_decile, subject_columns
from brainage.files import write_csv, write_json
from brainage.html import file_links, image_links, trusted, write_template
from brainage.layout import EvaluationDir, PreprocessedDir, RunDir
from brainage.preprocess.cache import read_cache_index
from brainage.progress import console
from brainage.qc.verdicts import read_verdicts
from brainage.training.intervals import interval_coverage
from brainage.training.logs import read_training_log
from brainage.training.predictions import read_predictions
from brainage.training.run_info import RunInfo
from brainage.training.splits import read_folds


def _baseline_table(run: RunDir) -> pd.DataFrame | None:
    """Every subject of the run's folds with age, sex and brain volume, for the baselines.

    Baselines train on the other folds' subjects, so they need the whole fold table, not only the
    out-of-fold rows of the folds that were run.
    """
    if not run.info.exists():
        return None
    info = RunInfo.read(run.info)
    if not info.preprocessed_dir:
        return None
    report = PreprocessedDir(info.preprocessed_dir).report
    folds = info.folds_csv
    if not (report.is_file() and folds.is_file()):
        return None
    volumes = pd.read_csv(report, dtype={"subject_id": str}).set_index("subject_id")
    if "brain_volume_ml" not in volumes:
        return None
    table = read_cache_index(info.cache_dir).merge(read_folds(folds)[["subject_id", "fold"]])
    table["brain_volume_ml"] = table.subject_id.map(volumes["brain_volume_ml"])
    return table.dropna(subset=["brain_volume_ml"])


#: metrics.csv / page column names a person reads (metrics.json keeps the short keys).
READABLE = {
    "mae": "MAE (y)",
    "rmse": "RMSE (y)",
    "pearson_r": "r",
    "r2": "R2",
    "mean_signed_error": "mean gap (y)",
    "gap_age_r": "gap-age r",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC AUC",
    "tn_FF": "F called F",
    "fp_FM": "F called M",
    "fn_MF": "M called F",
    "tp_MM": "M called M",
}
#: A model must beat its baseline by this much to be called better than it.
MARGIN = {"sex_accuracy": 0.02, "age_mae": 0.5}


def baseline_warnings(result: dict) -> list[str]:
    """Plain sentences for each task where the model does no better than its baseline.

    Example:
        >>> baseline_warnings({"sex": {"accuracy": 0.53}, "baselines": {"sex_volume_only": {"accuracy": 0.81}}})
        ['sex: accuracy 0.530 is no better than brain volume alone (0.810): the model has not learned sex from anatomy']
    """
    out, base = [], result.get("baselines", {})
    sex, volume = result.get("sex"), base.get("sex_volume_only")
    if sex and volume and sex["accuracy"] < volume["accuracy"] + MARGIN["sex_accuracy"]:
        out.append(
            f"sex: accuracy {sex['accuracy']:.3f} is no better than brain volume alone ({volume['accuracy']:.3f}): "
            "the model has not learned sex from anatomy"
        )
    age, mean = result.get("age_uncorrected"), base.get("age_mean_predictor")
    if age and mean and age["mae"] > mean["mae"] - MARGIN["age_mae"]:
        out.append(f"age: MAE {age['mae']:.2f} y is no better than predicting the mean age ({mean['mae']:.2f} y)")
    return out


def _subjects(oof: pd.DataFrame, run: RunDir) -> pd.DataFrame:
    table = oof[["subject_id", "fold", "age", "sex"]].join(subject_columns(oof))
    verdicts = RunInfo.read(run.info).qc_verdicts if run.info.is_file() else None
    if verdicts and verdicts.is_file():
        table["qc"] = table.subject_id.map(read_verdicts(verdicts).set_index("subject_id").final_verdict)
    return table


def evaluate(model_dir: str | Path, out_dir: str | Path | None = None) -> dict:
    """Evaluate ``oof_predictions.csv`` of a ``brainage train`` folder; returns the metrics dict.

    Writes ``metrics.json``, ``metrics.csv``, ``age_error_by_decile.csv``, ``subjects.csv``, PNG
    plots and ``index.html`` into ``out_dir`` (default ``MODEL_DIR/evaluation``).

    Parameters
    ----------
    model_dir
        A ``brainage train`` (or ``brainage stack``) output folder.
    out_dir
        Where to write the report; default ``MODEL_DIR/evaluation``.

    Returns
    -------
    dict
        Metrics of the out-of-fold predictions: uncorrected and bias-corrected age, sex, baselines,
        warnings.

    Example:
        >>> evaluate("results/ixi/models/sfcn")  # doctest: +SKIP
    """
    run = RunDir(model_dir)
    if not run.oof_predictions.is_file():
        raise StageError(f"{run.root}: no oof_predictions.csv (run `brainage train` first)")
    out = EvaluationDir(out_dir) if out_dir else run.evaluation
    out.root.mkdir(parents=True, exist_ok=True)
    oof = read_predictions(run.oof_predictions)
    result: dict = {"n_subjects": int(len(oof)), "n_folds": int(oof.fold.nunique())}
    rows = []
    figures = []
    subjects = _subjects(oof, run)
    write_csv(subjects, out.subjects)
    deciles = None
    if "predicted_age" in oof:
        result["age_uncorrected"] = age_metrics(oof.age, oof.predicted_age)
        corrected = oof.dropna(subset=["corrected_age"])
        if len(corrected) > 2:  # folds with too few held-out training predictions have no correction
            result["age_bias_corrected"] = age_metrics(corrected.age, corrected.corrected_age)
        rows += [{"task": "age", "variant": k.split("_", 1)[1], **v} for k, v in result.items() if k.startswith("age_")]
        coverage = interval_coverage(oof)
        if coverage:
            result["interval_coverage"] = coverage
        deciles = signed_error_by_decile(oof.age, oof.predicted_age)
        write_csv(deciles, out.error_by_decile)
        figures += [
            plots.predicted_vs_true(oof.age, oof.predicted_age, out.age_scatter, "uncorrected"),
            plots.bland_altman(oof.age, oof.predicted_age, out.age_bland_altman, "uncorrected"),
        ]
        gaps = {"uncorrected": subjects.brain_age_gap}
        if "age_bias_corrected" in result:
            figures.insert(
                1,
                plots.predicted_vs_true(
                    corrected.age, corrected.corrected_age, out.age_scatter_corrected, "bias-corrected"
                ),
            )
            gaps["bias-corrected"] = subjects.corrected_gap
        figures.append(plots.gap_histogram(gaps, out.gap_histogram, "brain-age gap (out of fold)"))
    baseline = None
    if "p_male" in oof:
        result["sex"] = sex_metrics(oof.sex, oof.p_male)
        rows.append({"task": "sex", "variant": "model", **result["sex"]})
    table = _baseline_table(run)
    if table is not None and set(oof.subject_id) <= set(table.subject_id):
        baseline = baseline_predictions(table, folds=sorted(oof.fold.unique())).set_index("subject_id")
        result["baselines"] = baseline_metrics(baseline.reset_index())
        for name, values in result["baselines"].items():
            rows.append({"task": "age" if name.startswith("age") else "sex", "variant": f"baseline_{name}", **values})
    if "p_male" in oof:
        base_prob = (
            oof.subject_id.map(baseline["p_male_volume"])
            if baseline is not None and "p_male_volume" in baseline
            else None
        )
        figures.append(plots.roc(oof.sex, oof.p_male, out.sex_roc, base_prob))
        figures.append(plots.reliability(oof.sex, oof.p_male, out.sex_reliability))
    logs = {f"{d.root.parent.name}/{d.root.name}": read_training_log(d.root) for d in run.fold_dirs()}
    logs = {k: v for k, v in logs.items() if len(v)}
    if logs:
        figures.append(plots.learning_curves(logs, out.learning_curves))
    result["warnings"] = baseline_warnings(result)
    write_json(out.metrics_json, result)
    metrics_table = pd.DataFrame(rows).rename(columns=READABLE)
    write_csv(metrics_table, out.metrics_csv)
    _write_html(result, metrics_table, deciles, subjects, figures, out, run)
    for line in summary_lines(result):
        console.print(line)
    for warning in result["warnings"]:
        console.print(f"[bold red]warning: {warning}")
    console.print(f"all metrics: {out.metrics_csv}; report: {out.report}")
    return result


def summary_lines(result: dict) -> list[str]:
    """A compact, 80-column summary of :func:`evaluate`'s result.

    Example:
        >>> summary_lines({"age_uncorrected": {"mae": 6.9, "pearson_r": 0.84, "r2": 0.7}})
        ['age (uncorrected)   MAE 6.90 y  r 0.840  R2 0.700']
    """
    lines = []
    age, base = result.get("age_uncorrected"), result.get("baselines", {})
    if age:
        lines.append(f"age (uncorrected)   MAE {age['mae']:.2f} y  r {age['pearson_r']:.3f}  R2 {age['r2']:.3f}")
    if "age_mean_predictor" in base:
        lines.append(f"  mean-age baseline MAE {base['age_mean_predictor']['mae']:.2f} y")
    if "sex" in result:
        sex = result["sex"]
        lines.append(f"sex                 accuracy {sex['accuracy']:.3f}  AUC {sex['roc_auc']:.3f}")
        if "brier" in sex:
            lines.append(f"  P(male) calibration  Brier {sex['brier']:.3f}  ECE {sex['ece']:.3f}")
    if "sex_volume_only" in base:
        vol = base["sex_volume_only"]
        lines.append(f"  brain-volume-only  accuracy {vol['accuracy']:.3f}  AUC {vol['roc_auc']:.3f}")
    return lines


def _with_counts(table: pd.DataFrame) -> pd.DataFrame:
    """The metrics table with its counts (subjects, confusion cells) as whole numbers, not 82.000,
    and blank where a count does not apply (pandas writes a missing Int64 as "<NA>")."""
    counts = ["n", *(name for key, name in READABLE.items() if key in ("tn_FF", "fp_FM", "fn_MF", "tp_MM"))]
    out = table.copy()
    for c in counts:
        if c in out:
            out[c] = [f"{int(v)}" if pd.notna(v) else "" for v in out[c]]
    return out


def _coverage_table(coverage: dict | None) -> str:
    """The table of how often the age intervals held, cross-conformal (each fold calibrated on the others)."""
    if not coverage:
        return ""
    rows = [
        {"age": column.replace("_", " "), **row}
        for column in ("predicted_age", "corrected_age")
        for row in coverage.get(column, [])
    ]
    return pd.DataFrame(rows).rename(columns={"mean_width": "mean width (y)"}).to_html(index=False)


def _write_html(
    result: dict,
    table: pd.DataFrame,
    deciles: pd.DataFrame | None,
    subjects: pd.DataFrame,
    figures: list[Path],
    out: EvaluationDir,
    run: RunDir,
) -> Path:
    """``index.html`` of the evaluation (``templates/evaluation.html``)."""
    csvs = [
        (out.metrics_csv, "metrics"),
        (out.subjects, "per-subject predictions"),
        (out.error_by_decile, "error by age decile"),
        (out.metrics_json, "metrics (JSON)"),
        (run.oof_predictions, "out-of-fold predictions (raw)"),
        (run.explain.report, "explanations (brainage explain)"),
    ]
    named = {"age_min": "age from", "age_max": "age to", "mean_signed_error": "mean gap (y)"}
    coverage = result.get("interval_coverage")
    subject_columns = {
        "subject_id": "subject",
        "predicted_age": "predicted age",
        "brain_age_gap": "gap",
        "corrected_age": "bias-corrected age",
        "corrected_gap": "bias-corrected gap",
        "p_male": "P(male)",
        "predicted_sex": "predicted sex",
    }
    return write_template(
        out.report,
        "evaluation",
        f"evaluation of {run.root.name}",
        run_name=run.root.name,
        warnings=result.get("warnings", []),
        n_subjects=result["n_subjects"],
        n_folds=result["n_folds"],
        links=trusted(file_links(csvs, out.root)),
        metrics=trusted(_with_counts(table).to_html(index=False, na_rep="", float_format=lambda v: f"{v:.3f}")),
        figures=trusted(image_links(figures, out.root)),
        coverage=trusted(_coverage_table(coverage)),
        coverage_asked=f"{coverage['coverage_asked']:.0%}" if coverage else "",
        deciles=trusted(deciles.rename(columns=named).to_html(index=False, float_format=lambda v: f"{v:.1f}"))
        if deciles is not None
        else "",
        n_rows=len(subjects),
        subjects=trusted(
            subjects.rename(columns=subject_columns).to_html(index=False, na_rep="", float_format=lambda v: f"{v:.2f}")
        ),
        config=run.config.read_text() if run.config.exists() else "",
    )
