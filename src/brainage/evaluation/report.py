"""``brainage evaluate``: metrics, baselines, plots, CSV and an HTML page for a training run."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from brainage.errors import StageError
from brainage.evaluation import plots
from brainage.evaluation.baselines import baseline_metrics, baseline_predictions
from brainage.evaluation.metrics import age_metrics, sex_metrics, signed_error_by_decile
from brainage.files import write_csv, write_json
from brainage.html import image_links, write_page
from brainage.layout import EvaluationDir, PreprocessedDir, RunDir
from brainage.preprocess.cache import read_cache_index
from brainage.progress import console
from brainage.training.logs import read_training_log


def _baseline_table(run: RunDir) -> pd.DataFrame | None:
    """Every subject of the run's folds with age, sex and brain volume, for the baselines.

    Baselines train on the other folds' subjects, so they need the whole fold table, not only the
    out-of-fold rows of the folds that were run.
    """
    if not run.info.exists():
        return None
    info = json.loads(run.info.read_text())
    if not info.get("preprocessed_dir"):
        return None
    report = PreprocessedDir(info["preprocessed_dir"]).report
    folds = Path(info.get("folds_csv", ""))
    if not (report.is_file() and folds.is_file()):
        return None
    volumes = pd.read_csv(report, dtype={"subject_id": str}).set_index("subject_id")
    if "brain_volume_ml" not in volumes:
        return None
    table = read_cache_index(info["cache_dir"]).merge(pd.read_csv(folds, dtype={"subject_id": str})[["subject_id", "fold"]])
    table["brain_volume_ml"] = table.subject_id.map(volumes["brain_volume_ml"])
    return table.dropna(subset=["brain_volume_ml"])


def evaluate(model_dir: str | Path, out_dir: str | Path | None = None) -> dict:
    """Evaluate ``oof_predictions.csv`` of a ``brainage train`` folder; returns the metrics dict.

    Writes ``metrics.json``, ``metrics.csv``, ``age_error_by_decile.csv``, PNG plots and
    ``index.html`` into ``out_dir`` (default ``MODEL_DIR/evaluation``).

    Example:
        >>> evaluate("results/ixi/models/sfcn")  # doctest: +SKIP
    """
    run = RunDir(model_dir)
    if not run.oof_predictions.is_file():
        raise StageError(f"{run.root}: no oof_predictions.csv (run `brainage train` first)")
    out = EvaluationDir(out_dir) if out_dir else run.evaluation
    out.root.mkdir(parents=True, exist_ok=True)
    oof = pd.read_csv(run.oof_predictions, dtype={"subject_id": str})
    result: dict = {"n_subjects": int(len(oof)), "n_folds": int(oof.fold.nunique())}
    rows = []
    figures = []
    if "age_pred" in oof:
        result["age_uncorrected"] = age_metrics(oof.age, oof.age_pred)
        corrected = oof.dropna(subset=["age_pred_corrected"])
        if len(corrected) > 2:  # folds with too few held-out training predictions have no correction
            result["age_bias_corrected"] = age_metrics(corrected.age, corrected.age_pred_corrected)
        rows += [{"task": "age", "variant": k.split("_", 1)[1], **v} for k, v in result.items() if k.startswith("age_")]
        write_csv(signed_error_by_decile(oof.age, oof.age_pred), out.error_by_decile)
        figures += [plots.predicted_vs_true(oof.age, oof.age_pred, out.age_scatter, "uncorrected"),
                    plots.bland_altman(oof.age, oof.age_pred, out.age_bland_altman, "uncorrected")]
        if "age_bias_corrected" in result:
            figures.insert(1, plots.predicted_vs_true(corrected.age, corrected.age_pred_corrected, out.age_scatter_corrected,
                                                      "bias-corrected"))
    baseline = None
    if "sex_prob_male" in oof:
        result["sex"] = sex_metrics(oof.sex, oof.sex_prob_male)
        rows.append({"task": "sex", "variant": "cnn", **result["sex"]})
    table = _baseline_table(run)
    if table is not None and set(oof.subject_id) <= set(table.subject_id):
        baseline = baseline_predictions(table, folds=sorted(oof.fold.unique())).set_index("subject_id")
        result["baselines"] = baseline_metrics(baseline.reset_index())
        for name, values in result["baselines"].items():
            rows.append({"task": "age" if name.startswith("age") else "sex", "variant": f"baseline_{name}", **values})
    if "sex_prob_male" in oof:
        base_prob = oof.subject_id.map(baseline["sex_prob_male_volume"]) if baseline is not None and "sex_prob_male_volume" in baseline else None
        figures.append(plots.roc(oof.sex, oof.sex_prob_male, out.sex_roc, base_prob))
    logs = {f"{d.root.parent.name}/{d.root.name}": read_training_log(d.root) for d in run.fold_dirs()}
    logs = {k: v for k, v in logs.items() if len(v)}
    if logs:
        figures.append(plots.learning_curves(logs, out.learning_curves))
    write_json(out.metrics_json, result)
    write_csv(pd.DataFrame(rows), out.metrics_csv)
    _write_html(result, pd.DataFrame(rows), figures, out, run)
    for line in summary_lines(result):
        console.print(line)
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
    if "sex_volume_only" in base:
        vol = base["sex_volume_only"]
        lines.append(f"  brain-volume-only  accuracy {vol['accuracy']:.3f}  AUC {vol['roc_auc']:.3f}")
    return lines


def _write_html(result: dict, table: pd.DataFrame, figures: list[Path], out: EvaluationDir, run: RunDir) -> Path:
    config_text = html.escape(run.config.read_text()) if run.config.exists() else ""
    body = f"""<h1>Evaluation: {html.escape(run.root.name)}</h1>
<p>{result['n_subjects']} subjects, out-of-fold predictions from {result['n_folds']} folds. Baselines use the same folds.
The age-bias correction (Beheshti et al. 2019) is fitted on each fold's held-out predictions of training subjects (a CNN's
validation subjects, a classical model's inner cross-validation; at least 20, else it is refused), never on its test subjects. It subtracts the expected gap at the subject's <em>chronological</em> age, so the corrected values are for
brain-age-gap analyses: their MAE and r are not measures of accuracy (a constant predictor would look perfect).
Compare models on the <b>uncorrected</b> rows.</p>
{table.round(3).to_html(index=False, na_rep="")}
<p>{image_links(figures, out.root)}</p>
<details><summary>training config</summary><pre>{config_text}</pre></details>"""
    return write_page(out.report, f"evaluation of {run.root.name}", body)
