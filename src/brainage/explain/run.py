"""``brainage explain``: where the network looks, per subject and per group, and what its SE channels do.

Works on a cross-validation run (each fold's model explains that fold's *test* subjects, so no
map comes from a model that trained on the subject) and on a ``brainage predict`` folder (the
bundle's CNN explains the predicted scans). Writes, under ``explain/``:

* Grad-CAM maps (:mod:`brainage.explain.cam`) for age ("older") and sex (the subject's own
  class) of the first subjects, in MNI and native space, with tri-planar overlays;
* population averages in MNI space: female vs male, < 40 / 40-60 / > 60 years, and their differences;
* the region summary of each population map over the shipped atlas (:mod:`brainage.explain.atlas`);
* SE channel analysis (:mod:`brainage.explain.se`): group differences and a pruning experiment;
* the model-randomisation sanity check (Adebayo et al., 2018): rank correlation of the trained
  model's maps with those of the same network with random weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from nibabel.processing import resample_from_to

from brainage.bundle.bundle import load_bundle
from brainage.bundle.members import CNNMember
from brainage.config import load_config
from brainage.errors import InputError
from brainage.evaluation.metrics import age_metrics
from brainage.explain.atlas import load_atlas, region_summary
from brainage.explain.cam import grad_cam, randomised_copy, rank_correlation
from brainage.explain.se import channel_differences, excitations, lowest_channels, pruned, se_blocks
from brainage.files import write_csv
from brainage.layout import ExplainDir, PredictDir, PreprocessedDir, RunDir
from brainage.models.registry import model_spec
from brainage.preprocess.cache import find_cache, read_cache_index
from brainage.preprocess.grids import GRIDS, CacheInfo
from brainage.preprocess.ops import from_grid, save_nifti
from brainage.progress import console
from brainage.training.config import TrainConfig
from brainage.training.cv import labels_table
from brainage.training.dataset import MALE_THRESHOLD
from brainage.training.run_info import RunInfo

AGE_GROUPS = ((0, 40, "under 40"), (40, 60, "40-60"), (60, 200, "over 60"))
#: The SE channel analysis contrasts the youngest group with the oldest.
YOUNGEST, OLDEST = AGE_GROUPS[0], AGE_GROUPS[-1]
#: Regions listed per population map, by mass and by density.
TOP_REGIONS = 15
PRUNE_FRACTIONS = (0.1, 0.25, 0.5)


@dataclass
class Explained:
    """One model and the subjects it explains (cache-index rows)."""

    label: str
    member: CNNMember
    table: pd.DataFrame


def _from_run(run: RunDir) -> tuple[list[Explained], PreprocessedDir, str]:
    info = RunInfo.read(run.info)
    config = load_config(TrainConfig, run.config)
    if model_spec(config.model.name).kind == "classical":
        raise InputError(run.root, "a classical model has no network to explain")
    table = labels_table(find_cache(info.cache_dir), info.folds_csv, info.qc_verdicts)
    models = []
    for folder in run.fold_dirs():
        if folder.seed != 0 or not folder.predictions.is_file():
            continue
        models.append(
            Explained(
                f"fold{folder.fold}",
                CNNMember.from_checkpoint(folder.chosen_checkpoint(config.checkpoint), config.downsample),
                table[table.fold == folder.fold].reset_index(drop=True),
            )
        )
    if not models:
        raise InputError(run.root, "no trained fold to explain (run `brainage train` first)")
    if info.preprocessed_dir is None:
        raise InputError(run.info, "the run records no preprocessing folder: explain needs its subjects' images")
    return (
        models,
        PreprocessedDir(info.preprocessed_dir),
        (info.cache or CacheInfo.read(find_cache(info.cache_dir).grid)).grid.name,
    )


def _from_predict(folder: PredictDir, model) -> tuple[list[Explained], PreprocessedDir, str]:
    bundle = load_bundle(model)
    cnn = [s.members["cnn"] for s in bundle.seeds if "cnn" in s.members]
    if not cnn:
        raise InputError(model, "this bundle has no network to explain (a classical model)")
    table = read_cache_index(folder.preprocessed.cache(bundle.grid).root)
    return (
        [Explained(f"{bundle.meta.name} seed {bundle.seeds[0].seed}", cnn[0], table)],
        folder.preprocessed,
        bundle.grid,
    )


def _maps(model: Explained, layer: str | None) -> dict[str, np.ndarray]:
    net, data = model.member.net, model.member.dataset(model.table)
    up, out = model.member.downsample, {}
    if "age" in net.heads:
        out["age"] = grad_cam(net, data, "age", 0, layer, upsample=up)
    if "sex" in net.heads:
        male, female = (grad_cam(net, data, "sex", k, layer, upsample=up) for k in (1, 0))
        sex = model.table.sex.where(model.table.sex.isin(["F", "M"]))
        if sex.isna().any():  # unknown sex: explain the class the model predicts
            predicted = np.where(model.member.predict(model.table)["p_male"] > MALE_THRESHOLD, "M", "F")
            sex = sex.fillna(pd.Series(predicted, index=sex.index))
        is_male = (sex == "M").to_numpy()[:, None, None, None]
        out["sex"] = np.where(is_male, male, female)
    return out


def _scores(pred: dict, table: pd.DataFrame) -> dict:
    """Age MAE and sex accuracy of a member's predictions, on the subjects whose age / sex is known."""
    out = {}
    aged = table.age.notna().to_numpy()
    if "predicted_age" in pred and aged.sum() > 2:
        out["age_mae"] = age_metrics(table.age[aged], pred["predicted_age"][aged])["mae"]
    known = table.sex.isin(["F", "M"]).to_numpy()
    if "p_male" in pred and known.any():
        out["sex_accuracy"] = float(
            ((pred["p_male"][known] > MALE_THRESHOLD) == (table.sex[known] == "M").to_numpy()).mean()
        )
    return out


def se_analysis(models: list[Explained]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each SE network's channel excitations compared between sexes and the age extremes (Cohen's d),
    and its scores with the least-excited channels pruned."""
    differences, pruning = [], []
    for m in models:
        net = m.member.net
        if not se_blocks(net):
            continue
        gates = excitations(net, m.member.dataset(m.table))
        sex, age = m.table.sex.to_numpy(), m.table.age.to_numpy()
        for (a, b), labels in (
            ((sex == "F", sex == "M"), ("female", "male")),
            ((age < YOUNGEST[1], age >= OLDEST[0]), (YOUNGEST[2].replace(" ", ""), OLDEST[2].replace(" ", ""))),
        ):
            if a.sum() > 1 and b.sum() > 1:
                differences.append(
                    channel_differences(gates, a, b, labels).assign(
                        model=m.label, contrast=f"{labels[0]} vs {labels[1]}"
                    )
                )
        base = _scores(m.member.predict(m.table), m.table)
        pruning.append({"model": m.label, "fraction_pruned": 0.0, **base})
        for fraction in PRUNE_FRACTIONS:
            with pruned(net, lowest_channels(gates, fraction)):
                pruning.append(
                    {"model": m.label, "fraction_pruned": fraction, **_scores(m.member.predict(m.table), m.table)}
                )
    return (pd.concat(differences, ignore_index=True) if differences else pd.DataFrame()), pd.DataFrame(pruning)


def sanity_check(model: Explained, layer: str | None, n: int) -> pd.DataFrame:
    """Rank correlation of the trained model's maps with a randomised copy's, per task and subject."""
    sub = Explained(model.label, model.member, model.table.head(n))
    trained = _maps(sub, layer)
    random_member = CNNMember(randomised_copy(model.member.net), model.member.hparams, model.member.downsample)
    randomised = _maps(Explained(model.label, random_member, sub.table), layer)
    return pd.DataFrame(
        [
            {"task": task, "subject_id": sid, "spearman_trained_vs_random": float(r)}
            for task in trained
            for sid, r in zip(sub.table.subject_id, rank_correlation(trained[task], randomised[task]))
        ]
    )


def population_maps(maps: dict[str, np.ndarray], table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Mean maps per sex and age group, and their differences."""
    out = {}
    if "sex" in maps:
        for sex, name in (("F", "female"), ("M", "male")):
            chosen = (table.sex == sex).to_numpy()
            if chosen.any():
                out[f"sex_{name}"] = maps["sex"][chosen].mean(0)
        if {"sex_female", "sex_male"} <= set(out):
            out["sex_male_minus_female"] = out["sex_male"] - out["sex_female"]
    if "age" in maps:
        for lo, hi, name in AGE_GROUPS:
            chosen = ((table.age >= lo) & (table.age < hi)).to_numpy()
            if chosen.any():
                out[f"age_{name.replace(' ', '_')}"] = maps["age"][chosen].mean(0)
        if {"age_under_40", "age_over_60"} <= set(out):
            out["age_over_60_minus_under_40"] = out["age_over_60"] - out["age_under_40"]
    return out


#: A task's maps show evidence of what the model learnt only when it has learnt the task: sex
#: accuracy at least this far above the majority class's share, and age correlating at least this.
SEX_MARGIN_OVER_MAJORITY, MIN_AGE_R = 0.1, 0.3


def chance_caveats(table: pd.DataFrame, predictions: pd.DataFrame) -> list[str]:
    """Plain sentences for each task the explained model does no better than chance on, measured on
    the explained subjects themselves (their ages and sexes, where known).

    Example:
        >>> t = pd.DataFrame({"age": [30.0, 50.0, 70.0, 40.0], "sex": ["F", "M", "F", "M"]})
        >>> p = pd.DataFrame({"predicted_age": [31.0, 52.0, 69.0, 41.0], "p_male": [0.6, 0.4, 0.7, 0.3]})
        >>> chance_caveats(t, p)  # doctest: +ELLIPSIS
        ['sex: the network explained is right for 0 of 4 subjects, no better than always guessing the commoner...']
    """
    out = []
    known = table.sex.isin(["F", "M"]).to_numpy()
    if "p_male" in predictions and known.sum() >= 2:
        male = (table.sex[known] == "M").to_numpy()
        right = int(((predictions.p_male.to_numpy()[known] > MALE_THRESHOLD) == male).sum())
        majority = max(male.mean(), 1 - male.mean())
        if right / known.sum() < majority + SEX_MARGIN_OVER_MAJORITY:
            out.append(
                f"sex: the network explained is right for {right} of {int(known.sum())} subjects, no better than "
                "always guessing "
                f"the commoner sex ({majority:.0%}): its sex maps show what it attends to, not evidence of sex "
                "differences"
            )
    aged = table.age.notna().to_numpy()
    if "predicted_age" in predictions and aged.sum() >= 3:
        r = age_metrics(table.age[aged], predictions.predicted_age.to_numpy()[aged])["pearson_r"]
        if not r >= MIN_AGE_R:
            out.append(
                f"age: predicted and true age correlate at r = {r:.2f} on these subjects: its age maps show what "
                "it attends to, not evidence of ageing"
            )
    return out


#: The parts of an explanation, each of which runs alone (``brainage explain --only``): Grad-CAM maps
#: (per subject, per population and their regions), the SE channel analysis, the sanity check.
PARTS = ("maps", "se", "sanity")


def explain_folder(
    source: str | Path,
    model: str | Path | None = None,
    n_subjects: int = 3,
    layer: str | None = None,
    sanity_subjects: int = 8,
    parts: tuple = PARTS,
) -> ExplainDir:
    """Explain a training run or a predict folder (see the module doc): Grad-CAM maps per subject
    and for the population, the regions they fall in, SE channel activity per class, channel
    pruning and the randomisation sanity check, in an HTML report.

    Parameters
    ----------
    source
        A ``brainage train`` output folder, or a ``brainage predict`` output folder.
    model
        For a predict folder: the bundle it was predicted with (``None``: the shipped model).
    n_subjects
        How many subjects get their own map pictures.
    layer
        The network layer Grad-CAM reads (``None``: the last convolutional block).
    sanity_subjects
        Subjects of the sanity check (maps of a network with randomised weights must differ).
    parts
        Which of :data:`PARTS` to run (the report shows those; the others say they were not run).

    Returns
    -------
    ExplainDir
        The output folder (``explain/`` of the run or predict folder), its report at ``.report``.

    Example:
        >>> explain_folder("results/ixi/models/ensemble", parts=("se",))  # doctest: +SKIP
    """
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise InputError(None, f"unknown part(s) of an explanation {unknown}; choose from {', '.join(PARTS)}")
    source = Path(source)
    start = time.perf_counter()
    if RunDir(source).info.is_file():
        models, pre, grid = _from_run(RunDir(source))
        out = RunDir(source).explain
    elif PredictDir(source).preprocessed.root.is_dir():
        models, pre, grid = _from_predict(PredictDir(source), model)
        out = PredictDir(source).explain
    else:
        raise InputError(source, "neither a `brainage train` run nor a `brainage predict` output folder")
    table = pd.concat([m.table for m in models], ignore_index=True)
    predictions = pd.concat([pd.DataFrame(m.member.predict(m.table)) for m in models], ignore_index=True)
    caveats = chance_caveats(table, predictions)
    for caveat in caveats:
        console.print(f"[yellow]caveat[/yellow]: {caveat}")
    population, regions = ({}, pd.DataFrame())
    if "maps" in parts:
        maps = gradcam_maps(models, layer)
        affine = GRIDS[grid].affine()
        _subject_outputs(maps, table, pre, grid, affine, out, n_subjects)
        population = population_maps(maps, table)
        _population_outputs(population, affine, out)
        regions = _regions(population, grid, out)
    differences, pruning = se_analysis(models) if "se" in parts else (pd.DataFrame(), pd.DataFrame())
    if "se" in parts:
        write_csv(differences, out.se_differences)
        write_csv(pruning, out.se_pruning)
    sanity = sanity_check(models[0], layer, sanity_subjects) if "sanity" in parts else pd.DataFrame()
    if "sanity" in parts:
        write_csv(sanity, out.sanity)
    from brainage.explain.report import write_report

    seconds = time.perf_counter() - start
    write_report(out, table, population, regions, differences, pruning, sanity, seconds, caveats, parts)
    console.print(f"explained {len(table)} subjects ({', '.join(parts)}) in {seconds:.0f} s; report {out.report}")
    return out


def gradcam_maps(models: list[Explained], layer: str | None = None) -> dict[str, np.ndarray]:
    """Grad-CAM maps of every model's subjects, per task (``age``, ``sex``), stacked in their order."""
    found: dict[str, list] = {}
    for m in models:
        console.print(f"Grad-CAM: {m.label}, {len(m.table)} subjects")
        for task, values in _maps(m, layer).items():
            found.setdefault(task, []).append(values)
    return {task: np.concatenate(parts) for task, parts in found.items()}


def _subject_outputs(maps, table, pre: PreprocessedDir, grid: str, affine, out: ExplainDir, n: int) -> None:
    from brainage.explain.plots import overlay

    for i, sid in enumerate(table.subject_id[:n]):
        subject = pre.subject(sid)
        background = nib.load(str(subject.t1_mni(grid))) if subject.t1_mni(grid).is_file() else None
        for task, stack in maps.items():
            image = nib.Nifti1Image(stack[i].astype(np.float32), affine)
            save_nifti(image, out.subject_map(sid, task, "mni"))
            if subject.to_mni_affine.is_file() and subject.t1_ras.is_file():
                save_nifti(
                    from_grid(image, subject.to_mni_affine, nib.load(str(subject.t1_ras))),
                    out.subject_map(sid, task, "native"),
                )
            overlay(image, background, out.subject_figure(sid, task), f"{sid}: {task} Grad-CAM")


def _population_outputs(population: dict, affine, out: ExplainDir) -> None:
    from brainage.explain.plots import overlay

    for name, volume in population.items():
        image = nib.Nifti1Image(volume.astype(np.float32), affine)
        save_nifti(image, out.population_map(name))
        overlay(image, None, out.population_figure(name), name.replace("_", " "), difference="minus" in name)


#: Regions smaller than this (voxels of the 2 mm atlas, 0.8 ml) are left out of the density ranking:
#: a few voxels on a bright spot would top it by chance.
MIN_REGION_VOXELS = 100


def _regions(population: dict, grid: str, out: ExplainDir) -> pd.DataFrame:
    """Per population map (a difference map: its positive part), the :data:`TOP_REGIONS` regions with
    the largest share of its mass and those where it is densest relative to a uniform map. Maps on
    another grid than the atlas's are resampled onto it first (linearly, in MNI space)."""
    atlas, atlas_affine, labels = load_atlas()
    rows = []
    for name, volume in population.items():
        if volume.shape != atlas.shape:
            on_grid = nib.Nifti1Image(np.asarray(volume, np.float32), GRIDS[grid].affine())
            volume = resample_from_to(on_grid, (atlas.shape, atlas_affine), order=1).get_fdata(dtype=np.float32)
        summary = region_summary(volume, atlas, labels).merge(labels[["label", "voxels"]], on="label")
        by_mass = summary.head(TOP_REGIONS)
        by_density = (
            summary[summary.voxels >= MIN_REGION_VOXELS].sort_values("mean_density", ascending=False).head(TOP_REGIONS)
        )
        for ranking, top in (("mass", by_mass), ("density", by_density)):
            rows.append(top.assign(map=name, ranked_by=ranking, rank=np.arange(1, len(top) + 1)))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    write_csv(table, out.regions)
    if len(table):
        from brainage.explain.plots import region_bars

        region_bars(table[table.ranked_by == "density"], out.regions_figure)
    return table
