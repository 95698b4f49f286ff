"""``brainage demo``: every stage on a synthetic cohort, on a laptop-class CPU, in minutes.

Results land in one folder with an ``index.html`` that links each stage's report.
"""

from __future__ import annotations

import html
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from brainage.bundle.export import export_bundle
from brainage.data.ingest import ingest
from brainage.data.synth import SynthConfig, make_cohort
from brainage.errors import InputError
from brainage.evaluation.report import evaluate
from brainage.explain.run import explain
from brainage.html import image_links, write_page
from brainage.layout import DEFAULT_GRID, CohortDir, DemoDir
from brainage.models.registry import DEFAULT_MODEL, model_spec
from brainage.parallel import Executor
from brainage.predict.run import predict_files
from brainage.preprocess.figures import before_after
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest, print_report
from brainage.progress import console
from brainage.qc.run import run_qc
from brainage.training.config import RunOptions, TrainConfig, train_config_for
from brainage.training.cv import train_cv
from brainage.training.splits import SplitConfig, read_folds, split

#: The model the demo trains: the one ``brainage train`` trains by default (and the shipped one).
DEMO_MODEL = DEFAULT_MODEL


def demo_train_config(epochs: int | None = None) -> TrainConfig:
    """The default model with its registered settings; only the epochs may be fewer."""
    config = train_config_for(DEMO_MODEL)
    return config if epochs is None else replace(config, max_epochs=epochs, patience=max(epochs, config.patience))


def demo_run_options() -> RunOptions:
    """The default model's precision, one seed instead of its three (a third of the time)."""
    return RunOptions(num_workers=0, seeds=(0,), precision=model_spec(DEMO_MODEL).run.get("precision", "auto"))


def run_demo(
    out: str | Path = "results/demo",
    n_subjects: int = 48,
    epochs: int | None = None,
    workers: int = 2,
    folds: int = 3,
    n_broken: int = 4,
) -> Path:
    """Synthesise, ingest, preprocess, QC, split, train and evaluate; returns ``OUT/index.html``."""
    demo = DemoDir(out)
    pre = demo.preprocessed
    run = demo.run(DEMO_MODEL)
    timings: dict[str, float] = {}

    def stage(name: str):
        timings[name] = time.perf_counter()
        console.rule(f"[bold]{name}")

    stage("synth")
    make_cohort(demo.cohort, SynthConfig(n_subjects=n_subjects, n_broken=n_broken, seed=0))
    stage("ingest")
    ingest("bids", demo.cohort, demo.ingest.root)
    stage("preprocess")
    # the default recipe (tissue maps for the default model), with the faster affine registration
    report = preprocess_manifest(
        demo.ingest.manifest, pre.root, PreprocessConfig(registration="AffineFast"), Executor(workers=workers)
    )
    print_report(report, pre.root)
    ok = report[report.status == "ok"].subject_id.tolist()
    figures = [before_after(pre.subject(sid).root, DEFAULT_GRID, pre.figure(sid)) for sid in ok[:3]]
    stage("qc")
    verdicts = run_qc(pre.root, executor=Executor(workers=workers, isolate=False))
    stage("split")  # QC-failed subjects leave here, once; training uses these folds as they are
    split(pre.manifest, demo.splits.root, SplitConfig(n_folds=folds), qc=pre.qc.verdicts)
    stage("train")
    train_cv(pre.root, demo.splits.root, run.root, demo_train_config(epochs), demo_run_options())
    stage("explain")  # before evaluate, so the evaluation page links the explanations
    explain(run.root)
    stage("evaluate")
    metrics = evaluate(run.root)
    stage("export + predict")
    predictions = _export_and_predict(demo, workers)
    timings["end"] = time.perf_counter()
    names = list(timings)
    seconds = {a: timings[b] - timings[a] for a, b in zip(names, names[1:])}
    truth = pd.read_csv(CohortDir(demo.cohort).synth_truth, sep="\t")
    injected = truth[truth.injected_failure.fillna("") != ""]
    caught = verdicts.set_index("subject_id").reindex(injected.participant_id)["final_verdict"].fillna("fail")
    index = _index_page(demo, seconds, metrics, figures, injected, caught, predictions)
    console.print(f"demo finished in {sum(seconds.values()):.0f} s; open {index}")
    return index


def _export_and_predict(demo: DemoDir, workers: int, n_scans: int = 6) -> pd.DataFrame:
    """Pack fold 0's models into a bundle and predict raw scans of fold 0's test subjects with it,
    as a user would on new data: fold 0's models never saw them."""
    folds = read_folds(demo.splits.folds)
    manifest = pd.read_csv(demo.preprocessed.manifest, dtype={"subject_id": str})
    unseen = manifest[manifest.subject_id.isin(folds.subject_id[folds.fold == 0])].head(n_scans)
    scans = demo.unseen_scans
    unseen.rename(columns={"t1_path": "path"})[["subject_id", "path", "age", "sex", "site"]].to_csv(scans, index=False)
    bundle = demo.bundle(f"{DEMO_MODEL}-fold0")
    export_bundle(
        demo.run(DEMO_MODEL).root,
        bundle,
        fold=0,
        licence="synthetic data, no restriction",
        attribution="brainage synthetic cohort",
    )
    return predict_files(scans, demo.predict.root, bundle, Executor(workers=workers))


def _real_data_sentence() -> str:
    """The shipped model's cross-validated figures on real scans, read from the model file's
    description (its weights are not needed)."""
    from brainage.bundle.bundle import default_bundle_path, read_meta
    from brainage.bundle.meta import BundleMeta

    try:
        meta = BundleMeta.from_dict(read_meta(default_bundle_path()), default_bundle_path())
    except InputError:
        return ""
    cv = meta.cv_metrics or {}
    age, sex = cv.get("age_uncorrected") or {}, cv.get("sex") or {}
    if not age:
        return ""
    invariance = (
        f" The same brain stored or acquired 17 other ways varies by {meta.invariance['within_brain_sd_years']:.1f} "
        "years in its predicted age."
        if meta.invariance
        else ""
    )
    return (
        f"On real scans ({meta.cohort['n']} IXI-HH adults of one scanner, 5-fold cross-validation) the shipped model "
        f"is off by {age['mae']:.2f} years (r {age['pearson_r']:.3f}) and tells sex apart {sex.get('accuracy', 0):.0%} "
        f"of the time.{invariance} See docs/benchmarks.md and, for other scanners, docs/scanner_robustness.md."
    )


def _index_page(
    demo: DemoDir,
    seconds: dict,
    metrics: dict,
    figures: list[Path],
    injected: pd.DataFrame,
    caught: pd.Series,
    predictions: pd.DataFrame,
) -> Path:
    age = metrics.get("age_uncorrected", {})
    sex = metrics.get("sex", {})
    pre, run, root = demo.preprocessed, demo.run(DEMO_MODEL), demo.root

    def link(path: Path) -> str:
        return html.escape(path.relative_to(root).as_posix())

    rows = "".join(f"<tr><td>{k}</td><td>{v:.0f} s</td></tr>" for k, v in seconds.items())
    baseline = metrics.get("baselines", {}).get("sex_volume_only", {})
    n_pass = int((predictions.qc_verdict == "pass").sum())
    inj = "".join(
        f"<tr><td>{r.participant_id}</td><td>{r.injected_failure}</td><td>{caught.get(r.participant_id, '')}</td></tr>"
        for r in injected.itertuples()
    )
    body = f"""<h1>brainage demo (synthetic cohort)</h1>
<p>Every stage ran on {metrics.get("n_subjects", 0)} synthetic heads (plus the broken ones QC caught), with the model
<code>brainage train</code> trains by default ({html.escape(DEMO_MODEL)}:
{html.escape(model_spec(DEMO_MODEL).description)};
one seed here, three in the shipped model). <b>What the numbers mean</b>: out of fold, the model reads age to within
{age.get("mae", float("nan")):.1f} years on average (r {age.get("pearson_r", float("nan")):.2f}) and sex right for
{sex.get("accuracy", float("nan")):.0%} of heads, where brain volume alone gets
{baseline.get("accuracy", float("nan")):.0%}:
it reads anatomy, not only size. The synthetic cohort carries an age and a sex signal by construction
(<code>brainage.data.synth</code>), so these figures show that every stage works, not how well brain age works on
people. {_real_data_sentence()}</p>
<ol><li><a href="{link(demo.ingest.summary_png)}">cohort summary</a>
(<a href="{link(demo.ingest.summary_text)}">text</a>)</li>
<li>preprocessing: <a href="{link(pre.report)}">per-subject report</a>; before/after below</li>
<li><a href="{link(pre.qc.report)}">quality-control report</a>; rate the scans in the browser with
<code>brainage serve {html.escape(str(pre.root))}</code></li>
<li>splits: <a href="{link(demo.splits.fold_balance)}">fold balance</a> (QC-failed subjects excluded)</li>
<li><a href="{link(run.evaluation.report)}">evaluation</a>: age MAE {age.get("mae", float("nan")):.2f} y,
r {age.get("pearson_r", float("nan")):.3f}; sex accuracy {sex.get("accuracy", float("nan")):.3f},
AUC {sex.get("roc_auc", float("nan")):.3f}
(out-of-fold, held-out synthetic subjects)</li>
<li>export + predict: fold 0's models packed into
<a href="{link(demo.bundle(f"{DEMO_MODEL}-fold0"))}">a bundle</a> and run on
{len(predictions)} raw scans they never saw: <a href="{link(demo.predict.report)}">predictions report</a>
(mean absolute gap {predictions.brain_age_gap.abs().mean():.1f} y; {n_pass} of {len(predictions)} pass QC)</li>
<li><a href="{link(run.explain.report)}">explain</a>: Grad-CAM maps per subject and per group, regions,
sanity check</li></ol>
<h2>Injected failures and their QC verdicts</h2>
<table><tr><th>subject</th><th>failure</th><th>verdict</th></tr>{inj}</table>
<h2>Before / after preprocessing</h2>{image_links(figures, root, height=260)}
<h2>Time per stage</h2><table>{rows}</table><p>{html.escape(str(root.resolve()))}</p>"""
    return write_page(demo.index, "demo", body)
