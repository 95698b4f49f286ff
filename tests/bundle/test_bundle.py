"""Model bundles: export, safe loading, identical predictions, and the compatibility check."""

import io
import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from brainage.bundle.bundle import FORMAT_VERSION, default_bundle_path, load_bundle, read_meta
from brainage.config import fingerprint
from brainage.errors import InputError
from brainage.layout import BUNDLE_FILES, FINAL_FOLD, PreprocessedDir, RunDir
from brainage.parallel import Executor
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.pipeline import preprocess_manifest


def _rewrite(src, dst, change):
    """A copy of bundle ``src`` whose bundle.json went through ``change``."""
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for item in a.namelist():
            data = a.read(item)
            if item == BUNDLE_FILES["meta"]:
                meta = json.loads(data)
                change(meta)
                data = json.dumps(meta).encode()
            b.writestr(item, data)
    return dst


def _older_recipe(meta):
    """As a brainage whose bias correction had another parameter would have written it."""
    pre = meta["preprocessing"]
    pre["steps"][2][1]["shrink"] = 2
    pre["fingerprint"] = fingerprint(pre["grid"], pre["steps"])


def test_final_model_has_no_test_subjects_and_stays_out_of_the_cv(tiny_bundle):
    _, run, _ = tiny_bundle
    final = RunDir(run).seed_dirs(FINAL_FOLD)
    assert [d.root.name for d in final] == ["seed0"]
    preds = pd.read_csv(final[0].predictions)
    assert set(preds.role) == {"val"} and (preds.fold == -1).all()
    assert not RunDir(run).oof_predictions.exists() and RunDir(run).fold_dirs() == []


def test_bundle_is_one_safe_file_that_predicts_like_the_checkpoint(tiny_bundle, preprocessed_synth):
    path, run, _ = tiny_bundle
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(BUNDLE_FILES.values())
        # weights load without unpickling code
        tensors = torch.load(io.BytesIO(archive.read(BUNDLE_FILES["weights"])), weights_only=True)
        assert "synthetic heads" in archive.read(BUNDLE_FILES["licence"]).decode()
    assert all(k.startswith("seed0/cnn/") for k in tensors)
    meta = read_meta(path)
    assert meta["format_version"] == FORMAT_VERSION and meta["model"]["name"] == "sfcn"
    assert meta["cohort"]["n"] == len(meta["trained_on"]) and meta["preprocessing"]["grid"]["name"] == "2mm"
    assert meta["bias_correction"] is None  # a handful of validation subjects: refused, not faked
    bundle = load_bundle(path)
    index = read_cache_index(tiny_bundle[2])
    out = bundle.predict(index)
    stored = pd.read_csv(RunDir(run).seed_dirs(FINAL_FOLD)[0].predictions, dtype={"subject_id": str}).set_index(
        "subject_id"
    )
    mine = out.assign(subject_id=index.subject_id).set_index("subject_id").loc[stored.index]
    np.testing.assert_allclose(mine.predicted_age, stored.predicted_age, atol=1e-3)
    np.testing.assert_allclose(mine.p_male, stored.p_male, atol=1e-4)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format_version=FORMAT_VERSION + 1), "newer than this brainage"),
        (lambda m: m["model"].update(name="transformer9000"), "not a model this brainage knows"),
        (lambda m: m["preprocessing"]["steps"][2][1].update(shrink=2), "was edited"),
        (_older_recipe, "steps differ: bias_correct"),
        (lambda m: m.update(format="something-else"), "not a brainage model bundle"),
    ],
)
def test_an_incompatible_bundle_is_refused_with_the_reason(tiny_bundle, tmp_path, change, message):
    bad = _rewrite(tiny_bundle[0], tmp_path / "bad.brainage", change)
    with pytest.raises(InputError, match=message):
        load_bundle(bad)


def test_not_a_bundle(tmp_path):
    (tmp_path / "x.brainage").write_text("hello")
    with pytest.raises(InputError, match="not a brainage model bundle"):
        load_bundle(tmp_path / "x.brainage")
    with pytest.raises(InputError, match="does not exist"):
        load_bundle(tmp_path / "missing.brainage")


def test_the_shipped_model_loads_and_is_small():
    path = default_bundle_path()
    assert path.is_file() and path.stat().st_size <= 10 * 2**20
    bundle = load_bundle()
    meta = bundle.meta
    assert meta.cohort["n"] == 180 and meta.model.name == "scanner_robust" and len(bundle.seeds) == 3
    assert "CC BY-SA 3.0" in meta.licence and "IXI" in meta.attribution
    # cross-validated in-site (a constant predictor is 14.8 y off) and invariant on the benchmark
    assert meta.cv_metrics["age_uncorrected"]["mae"] < 7.0 and meta.cv_metrics["age_uncorrected"]["pearson_r"] > 0.85
    assert meta.invariance["within_brain_sd_years"] < 2.0 and meta.bias_correction["n"] >= 20
    assert meta.preprocessing["config"]["renditions"] == 0  # new scans are preprocessed, never rendered
    assert meta.qc_reference is not None  # QC judges a scan against the model's own training scans
    # an interval on every age: calibrated on the cross-validation of all 180, widened past 82 by a measured rate
    assert (
        meta.age_interval["calibration"]["n"] == 180
        and len(meta.age_interval["calibration"]["predicted_age"]["residuals"]) == 4
    )
    assert meta.age_interval["outside_range"]["years_per_year_uncorrected"] > 0
    # storage that moves nothing: air offsets removed, N4 on one intensity scale and the brain's box
    config = meta.preprocessing["config"]
    assert (config["background"], config["n4_scale"], config["n4_domain"]) == (
        "offset removed",
        "brain median",
        "brain box",
    )
    # every training scan's voxel fingerprint, so predict recognises IXI-HH scans under any name
    assert sorted(meta.trained_on_images) == meta.trained_on
    assert (path.parent / "ATTRIBUTION.md").is_file()


@pytest.mark.realdata
def test_the_shipped_model_on_real_scans_it_was_trained_with(preprocessed_real, tmp_path):
    """Through its own recipe, the shipped model's predictions are sane on two real IXI-HH men (38.8
    and 46.7 y; both in its training set: a sanity check, not an accuracy claim)."""
    out, _ = preprocessed_real
    bundle = load_bundle()
    recipe_out = tmp_path / "recipe"
    preprocess_manifest(PreprocessedDir(out).manifest, recipe_out, bundle.preprocess_config, Executor(workers=2))
    index = read_cache_index(PreprocessedDir(recipe_out).cache(bundle.grid).root)
    predictions = bundle.predict(index).assign(subject_id=index.subject_id).set_index("subject_id")
    # within 4 y of each (measured: 38.9 and 47.5): a constant predictor at the cohort's mean (47 y)
    # is 8 y off for IXI012, and the older man must come out older
    assert (predictions.loc[["IXI012", "IXI013"], "predicted_age"] - [38.8, 46.7]).abs().max() < 4
    assert predictions.at["IXI013", "predicted_age"] > predictions.at["IXI012", "predicted_age"]
    assert (predictions.p_male > 0.5).all()


#: A preprocessing config recorded before ``working_voxel_mm`` and ``segmentation`` existed.
CONFIG_BEFORE_WORKING_VOXEL = {
    "grids": ["2mm"],
    "skull_stripped": "auto",
    "bet_threshold": 0.5,
    "n4_shrink_factor": 4,
    "registration": "Affine",
    "deterministic": True,
    "seed": 42,
    "tissue": True,
}
#: The preprocessing config recorded in the bundle shipped with brainage 0.8 (fingerprint
#: 7c7786e519aedaf9): trained before the fast schedules existed, so it names neither.
CONFIG_OF_0_8 = {
    **CONFIG_BEFORE_WORKING_VOXEL,
    "working_voxel_mm": 2.0,
    "segmentation": "partial-volume",
    "intensity_reference": "tissue",
    "renditions": 0,
    "background": "offset removed",
    "n4_scale": "brain median",
}


def test_a_recipe_from_before_a_setting_existed_keeps_its_steps():
    """Bundles record their preprocessing config; one written before ``working_voxel_mm`` and
    ``segmentation`` existed must rebuild the steps it was trained on, not today's defaults."""
    from brainage.bundle.bundle import recipe, recipe_config

    old = CONFIG_BEFORE_WORKING_VOXEL
    steps = dict((name, params) for name, params in recipe(recipe_config(old))["steps"])
    assert steps["reorient"] == {} and steps["segment"] == {"method": "atropos-kmeans3", "mrf": 0.1}
    new = dict(
        (name, params)
        for name, params in recipe(recipe_config({**old, "working_voxel_mm": 2.0, "segmentation": "partial-volume"}))[
            "steps"
        ]
    )
    assert new["reorient"] == {"working_voxel_mm": 2.0} and new["segment"]["method"] == "partial-volume-3"


def test_invariance_summary_is_read_or_refused_with_the_file_named(tmp_path):
    import json

    import pytest

    from brainage.bundle.export import invariance_summary
    from brainage.errors import InputError

    good = tmp_path / "invariance.json"
    good.write_text(
        json.dumps(
            {
                "run": "/work/models/robust_tissue",
                "within_brain_sd_years": 0.8,
                "n_brains": 20,
                "variants": {
                    "original": {"family": "original", "mean_shift_years": 0.0, "max_abs_shift_years": 0.0},
                    "restored_1mm": {"family": "storage", "mean_shift_years": 0.1, "max_abs_shift_years": 0.6},
                },
            }
        )
    )
    summary = invariance_summary(good)
    assert summary["within_brain_sd_years"] == 0.8 and list(summary["variants"]) == ["restored_1mm"]
    assert "folds of robust_tissue" in summary["measured_on"]  # the run it measured, which a bundle may not be
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"within_brain_sd_years": 0.8}))
    with pytest.raises(InputError, match="bad.json"):
        invariance_summary(bad)


@pytest.mark.realdata
def test_the_shipped_model_recognises_its_training_scans_by_content(ixi_dir, tmp_path):
    import nibabel as nib
    import pandas as pd

    from brainage.predict.run import training_matches

    scan = ixi_dir / "T1" / "IXI012-HH-1211-T1.nii.gz"
    renamed = tmp_path / "patient_7.nii"  # another name, uncompressed, another axis order: the same voxels
    img = nib.load(str(scan))
    nib.save(nib.as_closest_canonical(img), str(renamed))
    table = pd.DataFrame(
        {
            "subject_id": ["patient_7", "IXI012"],
            "t1_path": [str(renamed), str(tmp_path / "gone.nii")],
            "included": [True, False],
        }
    )
    assert training_matches(table, load_bundle().meta) == ["same voxel data", ""]


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda m: m.update(colour="red"), "unknown fields ['colour']"),
        (lambda m: m.pop("cohort"), "missing ['cohort']"),
        (lambda m: m["model"].pop("kind"), "model description needs exactly"),
    ],
)
def test_bundle_json_is_read_through_its_record(tiny_bundle, tmp_path, change, words):
    """An unknown key or a missing field of bundle.json is one line naming the file, not a KeyError later."""
    path, _, _ = tiny_bundle
    edited = _rewrite(path, tmp_path / "edited.brainage", change)
    with pytest.raises(InputError, match=re.escape(words)) as caught:
        load_bundle(edited)
    assert "edited.brainage" in str(caught.value)


def test_a_refreshed_bundle_carries_new_intervals_and_recipe_and_the_same_weights(tiny_bundle, tmp_path):
    from brainage.bundle.export import refresh_bundle

    rng = np.random.default_rng(0)
    age = rng.uniform(20, 80, 100)
    oof = pd.DataFrame(
        {"subject_id": [f"s{i}" for i in range(100)], "age": age, "predicted_age": age + rng.normal(0, 5, 100)}
    )
    oof.to_csv(tmp_path / "oof_predictions.csv", index=False)
    changes = {"background": "offset removed", "n4_scale": "brain median"}
    refresh_bundle(tiny_bundle[0], tmp_path / "new.brainage", tmp_path / "oof_predictions.csv", recipe_changes=changes)
    old, new = load_bundle(tiny_bundle[0]), load_bundle(tmp_path / "new.brainage")
    assert new.meta.age_interval["calibration"]["n"] == 100 and old.meta.age_interval is None
    assert new.meta.preprocessing["fingerprint"] != old.meta.preprocessing["fingerprint"]
    assert new.preprocess_config.background == "offset removed" and old.preprocess_config.background == "as stored"
    for a, b in zip(old.seeds[0].members["cnn"].tensors().values(), new.seeds[0].members["cnn"].tensors().values()):
        assert torch.equal(a, b)


def test_a_recipe_from_before_the_fast_schedules_keeps_the_antspyx_ones():
    """A bundle trained before the fast schedules (0.8's) keeps antspyx's registration and N4; its
    steps and fingerprint are those it was trained with."""
    from brainage.bundle.bundle import recipe, recipe_config
    from brainage.preprocess.recipes import AFFINE_ITERATIONS, N4_ITERATIONS

    config = recipe_config(CONFIG_OF_0_8)
    assert (config.affine_iterations, config.n4_iterations) == (AFFINE_ITERATIONS, N4_ITERATIONS)
    built = recipe(config)
    steps = dict((name, params) for name, params in built["steps"])
    assert "iterations" not in steps["register"] and "iterations" not in steps["bias_correct"]
    assert built["fingerprint"] == "7c7786e519aedaf9"


def test_a_bundle_predicts_an_image_in_memory_as_it_predicts_its_cache_row(tiny_bundle, preprocessed_synth, tmp_path):
    """``load_bundle(...).predict(nib.load(...))``: preprocessed with the bundle's recipe in memory,
    the same numbers as from the stage commands' cache; ages given or not."""
    import nibabel as nib

    from brainage.preprocess.scan import Preprocessor

    path, _, cache = tiny_bundle
    bundle = load_bundle(path)
    out, manifest, _ = preprocessed_synth
    t1 = manifest.set_index("subject_id").at["sub-001", "t1_path"]
    from_cache = bundle.predict(read_cache_index(cache).query("subject_id == 'sub-001'"))
    in_memory = bundle.predict(nib.load(t1), age=40.0)
    assert list(in_memory.columns[:2]) == ["subject_id", "predicted_age"] and in_memory.subject_id.tolist() == ["scan1"]
    assert in_memory.predicted_age.iloc[0] == pytest.approx(from_cache.predicted_age.iloc[0], abs=1e-4)
    assert bundle.bias_correction is None and "corrected_age" not in in_memory  # too few subjects to fit one
    scan = Preprocessor(bundle.preprocess_config, work_dir=tmp_path / "work")(t1, subject_id="sub-001")
    assert scan.t1.shape == (80, 96, 80) and scan.covariates["brain_volume_ml"] > 300
    two = bundle.predict([scan, scan], age=[40.0, None])
    assert two.subject_id.tolist() == ["sub-001", "sub-001"]
    assert two.predicted_age.iloc[0] == pytest.approx(in_memory.predicted_age.iloc[0], abs=1e-4)
    assert two.predicted_age.iloc[1] == pytest.approx(two.predicted_age.iloc[0])


def test_what_a_bundle_cannot_predict_is_named(tiny_bundle):
    bundle = load_bundle(tiny_bundle[0])
    with pytest.raises(InputError, match="no path"):
        bundle.predict(pd.DataFrame({"subject_id": ["a"], "age": [40]}))
    with pytest.raises(InputError, match="NIfTI file or a nibabel image, got int"):
        bundle.predict(3)
    with pytest.raises(InputError, match="2 ages for 1 scans"):
        bundle.predict(["a.nii.gz"], age=[30, 40])
    with pytest.raises(InputError, match="file does not exist"):
        bundle.predict("no/such/scan.nii.gz")


def test_a_folds_model_is_calibrated_without_the_residuals_of_the_subjects_it_is_tested_on(tmp_path):
    """Fold 0's subjects are predicted 30 y off: the interval of fold 0's model leaves them out (cross-
    conformal, as benchmarks/invariance.py scores it on them); the final model's keeps every residual."""
    from brainage.bundle.export import _interval_record_from
    from brainage.training.intervals import AgeIntervals

    rng = np.random.default_rng(0)
    age = rng.uniform(20, 80, 200)
    fold = np.arange(200) % 5
    predicted = age + rng.normal(0, 3, 200) + np.where(fold == 0, 30.0, 0.0)
    path = tmp_path / "oof_predictions.csv"
    pd.DataFrame(
        {"subject_id": [f"s{i}" for i in range(200)], "age": age, "predicted_age": predicted, "fold": fold}
    ).to_csv(path, index=False)

    def width(leave_out):
        record = _interval_record_from(path, None, None, leave_out)
        low, high = AgeIntervals.from_dict(record["calibration"]).predicted.bounds([50.0])
        return float(high[0] - low[0]), record["calibration"]["fitted_on"]

    fold0, fitted_on = width(0)
    final, _ = width(FINAL_FOLD)
    assert fold0 < 15 < final
    assert "but fold 0's" in fitted_on
