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
from brainage.preprocess.cache import read_cache_index
from brainage.progress import console


def _baseline_table(model_dir: Path) -> pd.DataFrame | None:
    """Every subject of the run's folds with age, sex and brain volume, for the baselines.

    Baselines train on the other folds' subjects, so they need the whole fold table, not only the
    out-of-fold rows of the folds that were run.
    """
    info_path = model_dir / "run_info.json"
    if not info_path.exists():
        return None
    info = json.loads(info_path.read_text())
    report = Path(info.get("preprocessed_dir", "")) / "preprocess_report.csv"
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
    model_dir = Path(model_dir)
    oof_path = model_dir / "oof_predictions.csv"
    if not oof_path.is_file():
        raise StageError(f"{model_dir}: no oof_predictions.csv (run `brainage train` first)")
    out = Path(out_dir) if out_dir else model_dir / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    oof = pd.read_csv(oof_path, dtype={"subject_id": str})
    result: dict = {"n_subjects": int(len(oof)), "n_folds": int(oof.fold.nunique())}
    rows = []
    figures = []
    if "age_pred" in oof:
        result["age_uncorrected"] = age_metrics(oof.age, oof.age_pred)
        result["age_bias_corrected"] = age_metrics(oof.age, oof.age_pred_corrected)
        rows += [{"task": "age", "variant": k.split("_", 1)[1], **v} for k, v in result.items() if k.startswith("age_")]
        signed_error_by_decile(oof.age, oof.age_pred).to_csv(out / "age_error_by_decile.csv", index=False)
        figures += [plots.predicted_vs_true(oof.age, oof.age_pred, out / "age_predicted_vs_true.png", "uncorrected"),
                    plots.predicted_vs_true(oof.age, oof.age_pred_corrected, out / "age_predicted_vs_true_corrected.png", "bias-corrected"),
                    plots.bland_altman(oof.age, oof.age_pred, out / "age_bland_altman.png", "uncorrected")]
    baseline = None
    if "sex_prob_male" in oof:
        result["sex"] = sex_metrics(oof.sex, oof.sex_prob_male)
        rows.append({"task": "sex", "variant": "cnn", **result["sex"]})
    table = _baseline_table(model_dir)
    if table is not None and set(oof.subject_id) <= set(table.subject_id):
        baseline = baseline_predictions(table, folds=sorted(oof.fold.unique())).set_index("subject_id")
        result["baselines"] = baseline_metrics(baseline.reset_index())
        for name, values in result["baselines"].items():
            rows.append({"task": "age" if name.startswith("age") else "sex", "variant": f"baseline_{name}", **values})
    if "sex_prob_male" in oof:
        base_prob = oof.subject_id.map(baseline["sex_prob_male_volume"]) if baseline is not None and "sex_prob_male_volume" in baseline else None
        figures.append(plots.roc(oof.sex, oof.sex_prob_male, out / "sex_roc.png", base_prob))
    from brainage.training.cv import read_training_log

    logs = {f"{d.parent.name}/{d.name}": read_training_log(d) for d in sorted(model_dir.glob("fold*/seed*"))}
    logs = {k: v for k, v in logs.items() if len(v)}
    if logs:
        figures.append(plots.learning_curves(logs, out / "learning_curves.png"))
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    pd.DataFrame(rows).to_csv(out / "metrics.csv", index=False)
    _write_html(result, pd.DataFrame(rows), figures, out, model_dir)
    console.print(pd.DataFrame(rows).round(3).to_string(index=False))
    return result


def _write_html(result: dict, table: pd.DataFrame, figures: list[Path], out: Path, model_dir: Path) -> Path:
    cfg = (model_dir / "train_config.yaml")
    config_text = html.escape(cfg.read_text()) if cfg.exists() else ""
    imgs = "".join(f'<a href="{f.name}"><img src="{f.name}" style="height:330px;margin:4px"></a>' for f in figures)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>brainage evaluation</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 8px}}</style></head><body>
<h1>Evaluation: {html.escape(model_dir.name)}</h1>
<p>{result['n_subjects']} subjects, out-of-fold predictions from {result['n_folds']} folds. Baselines use the same folds.
The age-bias correction (Beheshti et al. 2019) is fitted on each fold's validation subjects (training data), never on its
test subjects. It subtracts the expected gap at the subject's <em>chronological</em> age, so the corrected values are for
brain-age-gap analyses: their MAE and r are not measures of accuracy (a constant predictor would look perfect).
Compare models on the <b>uncorrected</b> rows.</p>
{table.round(3).to_html(index=False, na_rep="")}
<p>{imgs}</p>
<details><summary>training config</summary><pre>{config_text}</pre></details>
</body></html>"""
    path = out / "index.html"
    path.write_text(page)
    return path
