"""``brainage demo``: every stage on a synthetic cohort, on a laptop-class CPU, in minutes.

Results land in one folder with an ``index.html`` that links each stage's report.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import pandas as pd

from brainage.data.ingest import ingest, split
from brainage.data.synth import SynthConfig, make_cohort
from brainage.evaluation.report import evaluate
from brainage.models.network import ModelConfig
from brainage.preprocess.dataset import AugmentConfig
from brainage.preprocess.figures import before_after
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest, print_report
from brainage.progress import console
from brainage.qc.run import run_qc
from brainage.training.cv import TrainConfig, train_cv
from brainage.training.module import OptimConfig


def demo_train_config(epochs: int) -> TrainConfig:
    """A small SFCN on a 4 mm grid, about a minute per fold on two CPU cores. The regression age
    head learns from a few dozen subjects in minutes; the 85-bin soft-label head needs more data."""
    return TrainConfig(model=ModelConfig(name="sfcn", width=0.25, dropout=0.2, age_head="regression"), optim=OptimConfig(lr=3e-3),
                       augment=AugmentConfig(enabled=True), downsample=2, max_epochs=epochs, patience=epochs,
                       batch_size=4, num_workers=0)


def run_demo(out: str | Path = "results/demo", n_subjects: int = 48, epochs: int = 25, workers: int = 2,
             folds: int = 3, n_broken: int = 4) -> Path:
    """Synthesise, ingest, preprocess, QC, split, train and evaluate; returns ``OUT/index.html``."""
    out = Path(out)
    timings: dict[str, float] = {}

    def stage(name: str):
        timings[name] = time.perf_counter()
        console.rule(f"[bold]{name}")

    stage("synth")
    make_cohort(out / "cohort", SynthConfig(n_subjects=n_subjects, n_broken=n_broken, seed=0))
    stage("ingest")
    ingest("bids", out / "cohort", out / "ingest")
    stage("preprocess")
    report = preprocess_manifest(out / "ingest" / "manifest.csv", out / "preprocessed",
                                 PreprocessConfig(workers=workers, registration="AffineFast"))
    print_report(report, out / "preprocessed")
    ok = report[report.status == "ok"].subject_id.tolist()
    figures = [before_after(out / "preprocessed" / "subjects" / sid, "2mm", out / "preprocessed" / "figures" / f"{sid}.png")
               for sid in ok[:3]]
    stage("qc")
    verdicts = run_qc(out / "preprocessed", workers=workers)
    stage("split")
    split(out / "preprocessed" / "manifest.csv", out / "splits", folds=folds, qc=out / "preprocessed" / "qc" / "qc_verdicts.csv")
    stage("train")
    train_cv(out / "preprocessed" / "cache" / "2mm", out / "splits", out / "models" / "sfcn", demo_train_config(epochs),
             qc_verdicts=out / "preprocessed" / "qc" / "qc_verdicts.csv")
    stage("evaluate")
    metrics = evaluate(out / "models" / "sfcn")
    timings["end"] = time.perf_counter()
    names = list(timings)
    seconds = {a: timings[b] - timings[a] for a, b in zip(names, names[1:])}
    truth = pd.read_csv(out / "cohort" / "derivatives" / "synth" / "subjects.tsv", sep="\t")
    injected = truth[truth.injected_failure.fillna("") != ""]
    caught = verdicts.set_index("subject_id").reindex(injected.participant_id)["final_verdict"].fillna("fail")
    index = _index_page(out, seconds, metrics, figures, injected, caught)
    console.print(f"demo finished in {sum(seconds.values()):.0f} s; open {index}")
    return index


def _index_page(out: Path, seconds: dict, metrics: dict, figures: list[Path], injected: pd.DataFrame, caught: pd.Series) -> Path:
    age = metrics.get("age_uncorrected", {})
    sex = metrics.get("sex", {})
    rows = "".join(f"<tr><td>{k}</td><td>{v:.0f} s</td></tr>" for k, v in seconds.items())
    inj = "".join(f"<tr><td>{r.participant_id}</td><td>{r.injected_failure}</td><td>{caught.get(r.participant_id, '')}</td></tr>"
                  for r in injected.itertuples())
    imgs = "".join(f'<img src="{f.relative_to(out)}" style="height:260px">' for f in figures)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>brainage demo</title>
<style>body{{font-family:sans-serif;margin:1.5em}} td,th{{border:1px solid #ccc;padding:3px 8px}} table{{border-collapse:collapse}}</style>
</head><body><h1>brainage demo (synthetic cohort)</h1>
<ol><li><a href="ingest/summary.png">cohort summary</a> (<a href="ingest/summary.txt">text</a>)</li>
<li>preprocessing: <a href="preprocessed/preprocess_report.csv">per-subject report</a>; before/after below</li>
<li><a href="preprocessed/qc/index.html">quality-control report</a></li>
<li>splits: <a href="splits/fold_balance.csv">fold balance</a></li>
<li><a href="models/sfcn/evaluation/index.html">evaluation</a>: age MAE {age.get('mae', float('nan')):.2f} y,
r {age.get('pearson_r', float('nan')):.3f}; sex accuracy {sex.get('accuracy', float('nan')):.3f}, AUC {sex.get('roc_auc', float('nan')):.3f}
(out-of-fold, held-out synthetic subjects)</li></ol>
<h2>Injected failures and their QC verdicts</h2><table><tr><th>subject</th><th>failure</th><th>verdict</th></tr>{inj}</table>
<h2>Before / after preprocessing</h2>{imgs}
<h2>Time per stage</h2><table>{rows}</table><p>{html.escape(str(out.resolve()))}</p></body></html>"""
    path = out / "index.html"
    path.write_text(page)
    return path
