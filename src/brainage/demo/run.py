"""``brainage demo``: every stage on a synthetic cohort, on a laptop-class CPU, in minutes.

Results land in one folder with an ``index.html`` that links each stage's report.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from brainage.bundle.export import export_bundle
from brainage.data.ingest import ingest
from brainage.data.synth import SynthConfig, make_cohort
from brainage.errors import InputError
from brainage.evaluation.report import evaluate
from brainage.explain.run import explain_folder
from brainage.html import image_links, trusted, write_template
from brainage.layout import CohortDir, DemoDir
from brainage.models.registry import DEFAULT_MODEL, model_spec
from brainage.parallel import Executor
from brainage.predict.run import predict_files
from brainage.preprocess.figures import before_after
from brainage.preprocess.grids import DEFAULT_GRID
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
    explain_folder(run.root)
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
        f" The same brain stored or acquired {len(meta.invariance['variants'])} other ways varies by "
        f"{meta.invariance['within_brain_sd_years']:.1f} "
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
    """``index.html`` of the demo (``templates/demo.html``): every stage's page, linked."""
    age, sex = metrics.get("age_uncorrected", {}), metrics.get("sex", {})
    pre, run, root = demo.preprocessed, demo.run(DEMO_MODEL), demo.root
    nan = float("nan")
    verdicts = [(r.participant_id, r.injected_failure, caught.get(r.participant_id, "")) for r in injected.itertuples()]

    def link(path: Path) -> str:
        return path.relative_to(root).as_posix()

    return write_template(
        demo.index,
        "demo",
        "demo",
        n_subjects=metrics.get("n_subjects", 0),
        model=DEMO_MODEL,
        model_description=model_spec(DEMO_MODEL).description,
        age_mae=age.get("mae", nan),
        age_r=age.get("pearson_r", nan),
        sex_accuracy=sex.get("accuracy", nan),
        sex_auc=sex.get("roc_auc", nan),
        volume_accuracy=metrics.get("baselines", {}).get("sex_volume_only", {}).get("accuracy", nan),
        real_data=_real_data_sentence(),
        links={
            "summary_png": link(demo.ingest.summary_png),
            "summary_text": link(demo.ingest.summary_text),
            "preprocessing": link(pre.report),
            "qc": link(pre.qc.report),
            "fold_balance": link(demo.splits.fold_balance),
            "evaluation": link(run.evaluation.report),
            "bundle": link(demo.bundle(f"{DEMO_MODEL}-fold0")),
            "predict": link(demo.predict.report),
            "explain": link(run.explain.report),
        },
        preprocessed=str(pre.root),
        n_predicted=len(predictions),
        n_pass=int((predictions.qc_verdict == "pass").sum()),
        mean_abs_gap=predictions.brain_age_gap.abs().mean(),
        injected=verdicts,
        figures=trusted(image_links(figures, root, height=260)),
        stages=list(seconds.items()),
        root=str(root.resolve()),
    )
