"""``brainage finetune``: adapt a bundle to a new site with a small labelled sample (20-50 controls).

The site's labelled scans are predicted once with the bundle, then split (stratified by age,
deterministic) into a *calibration* part and a *held-out* part. Three models are scored on the
held-out part only:

* **as shipped**;
* **recalibrated**: the site's offset (mean brain-age gap of its calibration controls), or with
  ``method="linear"`` offset and slope (Cole & Franke's ``predicted = a + b * age`` fitted on the
  controls, inverted: ``(predicted - a) / b``). Cheap, needs only predictions, what most users need;
* **fine-tuned**: every CNN member trained further on the calibration scans
  (:func:`~brainage.training.finetune.finetune_network`: low learning rate, the bundle's
  augmentation, a fixed number of epochs); the ridge member and the stack stay as shipped.

``site.brainage`` is the chosen adaptation fitted on the calibration part, so the held-out figures
are an honest estimate of exactly that file. With ``holdout=0`` every labelled scan calibrates
and nothing is scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainage.bundle.bundle import Bundle, load_bundle
from brainage.bundle.members import CNNMember
from brainage.config import from_dict
from brainage.data.inputs import manifest_for_inputs
from brainage.errors import InputError
from brainage.evaluation.metrics import age_metrics
from brainage.files import write_csv
from brainage.layout import SiteDir
from brainage.parallel import Executor
from brainage.predict.run import predict_files
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.grids import CacheInfo
from brainage.progress import console
from brainage.training.augment import build_augmentation
from brainage.training.bias import AgeBiasCorrector, TooFewSubjects
from brainage.training.config import TrainConfig
from brainage.training.finetune import FinetuneConfig, finetune_network, site_calibration

__all__ = ["finetune_bundle", "finetune_site", "split_site"]


def split_site(table: pd.DataFrame, holdout: float, seed: int) -> pd.Series:
    """``calibrate`` / ``holdout`` per subject, stratified by age (every other subject in age order
    within random pairs), reproducible from ``seed``."""
    role = pd.Series("calibrate", index=table.index)
    if holdout <= 0:
        return role
    rng = np.random.default_rng(seed)
    order = table.age.sort_values(kind="stable").index.to_numpy()
    n_holdout = int(round(holdout * len(order)))
    # One subject from each consecutive age block goes to the held-out part.
    blocks = np.array_split(order, max(1, n_holdout))
    for block in blocks:
        role[rng.choice(block)] = "holdout"
    return role


def finetune_bundle(bundle: Bundle, table: pd.DataFrame, config: FinetuneConfig) -> Bundle:
    """A copy of ``bundle`` whose CNN members were trained further on ``table`` (cache-index rows with age)."""
    train_config = from_dict(TrainConfig, bundle.meta.model.train_config, saved=True)
    voxel = CacheInfo(bundle.meta.grid).voxel_mm_pooled(train_config.downsample)
    tuned = Bundle(bundle.meta, [])
    for seed_model in bundle.seeds:
        members = dict(seed_model.members)
        for kind, member in seed_model.members.items():
            if isinstance(member, CNNMember):
                dataset = member.dataset(table, build_augmentation(train_config.augment, voxel), voxel)
                net = finetune_network(
                    member.net,
                    member.model_config,
                    member.hparams,
                    dataset,
                    train_config,
                    config,
                    voxel,
                    seed=config.seed + seed_model.seed,
                )
                members[kind] = CNNMember(net, member.hparams, member.downsample)
        tuned.seeds.append(type(seed_model)(seed_model.seed, members, seed_model.stack))
    tuned.meta = tuned.meta.replace(
        finetuned={"n": int(len(table)), "epochs": config.epochs, "lr": config.lr, "subjects": sorted(table.subject_id)}
    )
    return tuned


def _with_calibration(bundle: Bundle, calibration: dict | None) -> Bundle:
    # The training cohort's age-bias correction describes neither a recalibrated nor a fine-tuned
    # model at this site: a site bundle carries only one fitted on the site (or none).
    return Bundle(bundle.meta.replace(site_calibration=calibration, bias_correction=None), bundle.seeds)


def _site_bias_correction(bundle: Bundle, rows: pd.DataFrame) -> dict | None:
    """The age-bias correction of a recalibrated bundle, fitted on the site's calibration scans."""
    predicted = bundle.predict(rows.assign(age=np.nan))["predicted_age"].to_numpy()
    try:
        corrector = AgeBiasCorrector().fit(rows.age.to_numpy(float), predicted)
    except TooFewSubjects as exc:
        console.print(f"[yellow]site bundle without an age-bias correction (its corrected columns stay empty): {exc}")
        return None
    return corrector.to_dict("the site's calibration scans")


#: Fewest scans with an age, a prediction and no QC failure that a site calibration accepts.
MIN_SITE_SCANS = 6


def finetune_site(
    bundle_path,
    source,
    out_dir,
    config: FinetuneConfig = FinetuneConfig(),
    executor: Executor = Executor(),
    sex_coding: dict | None = None,
) -> pd.DataFrame:
    """Adapt a bundle to the site of ``source`` (scans with ages); writes ``site.brainage`` and the
    held-out comparison; returns the metrics table.

    Parameters
    ----------
    bundle_path
        The bundle to adapt (default model: ``None``).
    source
        Scans of the new site with ages: a folder, a CSV or a BIDS dataset, as ``brainage predict``
        reads them.
    out_dir
        Output folder: ``site.brainage``, the held-out comparison and its report.
    config
        How to adapt (:class:`FinetuneConfig`: ``offset`` or ``finetune``, held-out share, epochs,
        ...).
    executor
        Where preprocessing runs (local workers or a Dask cluster).
    sex_coding
        Map of numeric sex codes in ``source`` to ``M``/``F``, if it uses numbers.

    Returns
    -------
    pandas.DataFrame
        Metrics of the original and the adapted model on the held-out scans of the site.
    """
    out = SiteDir(out_dir)
    bundle = load_bundle(bundle_path)
    # refuse a sample that is too small before preprocessing it, not after
    inputs = manifest_for_inputs(source, out.predict.root, sex_coding)
    n_aged = int((inputs.included & inputs.age.notna()).sum())
    if n_aged < MIN_SITE_SCANS:
        raise InputError(
            source,
            f"only {n_aged} readable scans have an age: a site calibration needs at least "
            f"{MIN_SITE_SCANS} (20-50 recommended)",
        )
    shipped = predict_files(source, out.predict.root, bundle, executor, sex_coding)
    labelled = shipped[shipped.age.notna() & shipped.predicted_age.notna() & (shipped.qc_verdict != "fail")].copy()
    if len(labelled) < MIN_SITE_SCANS:
        raise InputError(
            source,
            f"only {len(labelled)} scans have an age, a prediction and no QC fail: "
            f"a site calibration needs at least {MIN_SITE_SCANS} (20-50 recommended)",
        )
    labelled["role"] = split_site(labelled.reset_index(drop=True), config.holdout, config.seed).to_numpy()
    write_csv(labelled[["subject_id", "age", "sex", "role"]], out.split)
    calibrate, holdout = labelled[labelled.role == "calibrate"], labelled[labelled.role == "holdout"]
    index = read_cache_index(out.predict.preprocessed.cache(bundle.grid).root).set_index("subject_id")
    variants: dict[str, Bundle] = {}
    for method in ("offset", "linear"):
        try:
            variants[f"recalibrated ({method})"] = _with_calibration(
                bundle, site_calibration(calibrate.age, calibrate.predicted_age, method)
            )
        except InputError as exc:
            console.print(f"[yellow]{method} recalibration skipped: {exc}")
    if config.method == "finetune" or len(holdout):
        console.print(f"fine-tuning the CNN members on {len(calibrate)} calibration scans ({config.epochs} epochs)")
        rows = index.loc[calibrate.subject_id].reset_index()
        variants["fine-tuned"] = _with_calibration(finetune_bundle(bundle, rows, config), None)
    chosen = {"offset": "recalibrated (offset)", "linear": "recalibrated (linear)", "finetune": "fine-tuned"}[
        config.method
    ]
    if chosen not in variants:
        raise InputError(None, f"the {config.method} adaptation could not be fitted on this site's sample")
    site_bundle = variants[chosen]
    site_bundle.meta = site_bundle.meta.replace(name=f"{bundle.meta.name}+site")
    if config.method != "finetune":  # fine-tuned predictions of its own training scans would flatter the fit
        site_bundle.meta = site_bundle.meta.replace(
            bias_correction=_site_bias_correction(site_bundle, index.loc[calibrate.subject_id].reset_index())
        )
    site_bundle.save(out.bundle)
    metrics, predictions = (
        [],
        holdout[["subject_id", "age", "predicted_age"]].rename(columns={"predicted_age": "as shipped"}),
    )
    if len(holdout):
        rows = index.loc[holdout.subject_id].reset_index()
        for name, variant in variants.items():
            predictions[name] = variant.predict(rows)["predicted_age"].to_numpy()
        for name in ["as shipped", *variants]:
            metrics.append({"model": name, **age_metrics(holdout.age, predictions[name])})
        write_csv(predictions, out.predictions)
    table = pd.DataFrame(metrics)
    write_csv(table, out.metrics)
    from brainage.predict.report import write_site_report

    write_site_report(table, len(calibrate), len(holdout), chosen, out)
    for row in metrics:
        console.print(
            f"  {row['model']:<24} held-out MAE {row['mae']:.2f} y  mean gap {row['mean_signed_error']:+.2f} y"
        )
    console.print(f"site bundle ({chosen}, fitted on {len(calibrate)} scans): {out.bundle}")
    return table
