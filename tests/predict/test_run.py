"""`brainage predict` end to end on synthetic heads, and the site adaptation pieces."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from brainage.bundle.bundle import load_bundle
from brainage.cli import main as brainage
from brainage.layout import PredictDir, SiteDir
from brainage.predict.run import COLUMNS
from brainage.predict.site import _with_calibration, finetune_bundle, split_site
from brainage.preprocess.cache import read_cache_index
from brainage.training.finetune import FinetuneConfig, site_calibration


def test_predict_writes_a_row_per_scan_with_warnings_and_a_report(tiny_bundle, synth_cohort, tmp_path, capsys):
    t1 = sorted(synth_cohort.glob("sub-*/anat/*_T1w.nii.gz"))
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(t1[2].read_bytes()[:3000])
    pd.DataFrame(
        {
            "subject_id": ["old", "unknown", "broken"],
            "path": [str(t1[0]), str(t1[1]), str(broken)],
            "age": [99, None, 40],
            "sex": ["F", None, "M"],
        }
    ).to_csv(tmp_path / "scans.csv", index=False)
    out = tmp_path / "out"
    assert brainage(["predict", str(tmp_path / "scans.csv"), "--out", str(out), "--model", str(tiny_bundle[0])]) == 0
    table = pd.read_csv(PredictDir(out).predictions, dtype={"subject_id": str}).set_index("subject_id")
    assert list(table.reset_index().columns) == COLUMNS and len(table) == 3
    assert np.isfinite(table.loc[["old", "unknown"], "predicted_age"]).all()
    assert table.loc[["old", "unknown"], "p_male"].between(0, 1).all()
    assert "outside the training range" in table.loc["old", "warnings"]
    assert np.isclose(table.loc["old", "brain_age_gap"], table.loc["old", "predicted_age"] - 99)
    assert pd.isna(table.loc["unknown", "brain_age_gap"]) and pd.isna(table.loc["unknown", "corrected_age"])
    assert table.loc["broken", "qc_verdict"] == "fail" and pd.isna(table.loc["broken", "predicted_age"])
    # the tiny model was trained on these synthetic heads: recognised by voxel content, not by name
    assert (table.loc[["old", "unknown"], "in_training_set"] == "same voxel data").all()
    assert "the model was trained on this scan" in table.loc["old", "warnings"] and pd.isna(
        table.loc["broken", "in_training_set"]
    )
    page = PredictDir(out).report.read_text()
    assert "3 scans" in page and "synthetic heads" in page and "predictions.csv" in page
    assert "2 of 3 scans predicted" in capsys.readouterr().err


def test_site_calibration_and_holdout_split():
    table = pd.DataFrame({"age": np.linspace(20, 80, 20)})
    role = split_site(table, 0.5, seed=0)
    assert (role == "holdout").sum() == 10
    # stratified: each age half gives half of the held-out scans
    assert (role[:10] == "holdout").sum() == 5
    assert (split_site(table, 0.0, 0) == "calibrate").all()


def test_a_recalibrated_bundle_removes_a_site_offset_on_held_out_scans(tiny_bundle, preprocessed_synth):
    """A site whose people are 7 years younger than the model reads them: the offset is fitted on
    half of the scans and removes the gap on the other half, which it never saw."""
    bundle = load_bundle(tiny_bundle[0])
    index = read_cache_index(tiny_bundle[2])
    raw = bundle.predict(index).predicted_age.to_numpy()
    site_age = index.age.to_numpy() - 7.0
    calibrate, holdout = np.arange(len(index)) % 2 == 0, np.arange(len(index)) % 2 == 1
    calibration = site_calibration(site_age[calibrate], raw[calibrate], "offset")
    after = _with_calibration(bundle, calibration).predict(index[holdout]).predicted_age.to_numpy()
    before_gap, after_gap = (raw[holdout] - site_age[holdout]).mean(), (after - site_age[holdout]).mean()
    assert calibration["n"] == calibrate.sum() and abs(after_gap) < abs(before_gap) - 4


def test_a_site_bundles_bias_correction_is_fitted_on_the_site(tiny_bundle):
    from brainage.predict.site import _site_bias_correction
    from brainage.training.bias import AgeBiasCorrector

    bundle = load_bundle(tiny_bundle[0])
    index = read_cache_index(tiny_bundle[2])
    rows = pd.concat([index.assign(subject_id=index.subject_id + f"-{k}") for k in range(3)], ignore_index=True)
    site = _with_calibration(bundle, {"method": "offset", "offset": 3.0, "slope": 1.0, "n": len(rows)})
    correction = _site_bias_correction(site, rows)
    expected = AgeBiasCorrector().fit(rows.age.to_numpy(float), site.predict(rows)["predicted_age"].to_numpy())
    assert correction["n"] == len(rows) and "site" in correction["fitted_on"]
    assert np.isclose(correction["alpha"], expected.alpha_) and np.isclose(correction["beta"], expected.beta_)


def test_finetuning_changes_the_cnn_and_keeps_the_original(tiny_bundle, preprocessed_synth):
    bundle = load_bundle(tiny_bundle[0])
    index = read_cache_index(tiny_bundle[2])
    before = bundle.seeds[0].members["cnn"].tensors()
    tuned = finetune_bundle(bundle, index, FinetuneConfig(epochs=2, lr=1e-2, batch_size=4))
    after = tuned.seeds[0].members["cnn"].tensors()
    changed = [k for k in before if before[k].is_floating_point() and not np.allclose(before[k], after[k])]
    assert changed and all(np.array_equal(before[k], bundle.seeds[0].members["cnn"].tensors()[k]) for k in before)
    assert tuned.meta.finetuned["n"] == len(index)


def test_no_site_bundle_keeps_the_training_cohorts_bias_correction(tiny_bundle):
    """Recalibrated or fine-tuned, a site bundle's corrected columns must not come from the
    training cohort's age-bias correction (the fine-tuned path used to keep it)."""
    bundle = load_bundle(tiny_bundle[0])
    bundle.meta = bundle.meta.replace(
        bias_correction={"alpha": -0.3, "beta": 14.0, "n": 40, "fitted_on": "training cohort"}
    )
    assert _with_calibration(bundle, None).meta.bias_correction is None
    offset = {"method": "offset", "offset": 2.0, "slope": 1.0, "n": 10}
    assert _with_calibration(bundle, offset).meta.bias_correction is None
    assert bundle.meta.bias_correction["n"] == 40  # the shipped bundle itself is untouched


def test_finetune_scores_each_adaptation_on_held_out_scans_and_writes_a_site_model(
    tiny_bundle, synth_cohort, tmp_path, monkeypatch
):
    from brainage.predict import site as site_module

    tuned_on = []
    original = site_module.finetune_bundle

    def recording(bundle, rows, config):
        tuned_on.extend(rows.subject_id)
        return original(bundle, rows, config)

    monkeypatch.setattr(site_module, "finetune_bundle", recording)
    out = tmp_path / "site"
    assert (
        brainage(
            [
                "finetune",
                str(synth_cohort),
                "--out",
                str(out),
                "--model",
                str(tiny_bundle[0]),
                "--epochs",
                "1",
                "--holdout",
                "0.5",
            ]
        )
        == 0
    )
    site = SiteDir(out)
    roles = pd.read_csv(site.split).set_index("subject_id").role
    # the CNN is fine-tuned on exactly the calibration scans: never on one it is then scored on
    assert sorted(tuned_on) == sorted(roles.index[roles == "calibrate"])
    metrics = pd.read_csv(site.metrics)
    assert metrics.model.tolist()[0] == "as shipped" and "fine-tuned" in set(metrics.model)
    split = pd.read_csv(site.split)  # the 8 heads, less any QC fail
    held_out = (split.role == "holdout").sum()
    assert len(split) >= 6 and held_out == round(len(split) / 2) and (metrics.n == held_out).all()
    model = load_bundle(site.bundle)
    calibration = model.meta.site_calibration
    assert calibration["method"] == "offset" and calibration["n"] == len(split) - held_out
    assert model.meta.bias_correction is None  # a handful of calibration scans: refused, not faked
    assert site.report.is_file()


def test_predict_runs_qc_on_the_executor_it_was_given(monkeypatch, tmp_path):
    """`--executor dask` must reach QC too (it used to build a fresh local executor)."""
    import brainage.predict.run as run_module
    from brainage.errors import InputError
    from brainage.parallel import Executor

    seen = {}
    monkeypatch.setattr(run_module, "load_bundle", lambda path: _FakeBundle())
    monkeypatch.setattr(run_module, "manifest_for_inputs", lambda *a, **k: _one_subject_manifest())
    monkeypatch.setattr(run_module, "preprocess_manifest", lambda *a, **k: None)
    monkeypatch.setattr(run_module, "read_manifest", lambda path: _one_subject_manifest())

    def fake_qc(root, executor, pictures, reference):
        seen["executor"] = executor
        raise InputError(None, "stop here")

    monkeypatch.setattr(run_module, "run_qc", fake_qc)
    given = Executor(kind="dask", scheduler="tcp://127.0.0.1:1", workers=3)
    try:
        run_module.predict_files(tmp_path / "in.nii.gz", tmp_path / "out", "bundle", given)
    except InputError:
        pass
    assert seen["executor"].kind == "dask" and seen["executor"].scheduler == given.scheduler
    assert seen["executor"].workers == 3 and not seen["executor"].isolate


class _FakeBundle:
    preprocess_config = None
    meta = SimpleNamespace(qc_reference=None)


def _training_qc_metrics(n: int = 24) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "subject_id": [f"t{i:02d}" for i in range(n)],
            "site": "train",
            "snr_total": rng.normal(40, 2, n),
            "cnr": rng.normal(3, 0.1, n),
        }
    )


def test_predict_judges_the_scanner_against_the_models_own_training_scans(monkeypatch, tmp_path):
    """A bundle that carries its training scans' QC statistics is QC'd against them, not IXI-HH."""
    import brainage.predict.run as run_module
    from brainage.errors import InputError
    from brainage.qc.reference import Reference

    training = Reference.build(_training_qc_metrics(), "toy training scans", "24 scans")
    bundle = _FakeBundle()
    bundle.meta = SimpleNamespace(qc_reference=training.to_dict())
    seen = {}
    monkeypatch.setattr(run_module, "load_bundle", lambda path: bundle)
    monkeypatch.setattr(run_module, "manifest_for_inputs", lambda *a, **k: _one_subject_manifest())
    monkeypatch.setattr(run_module, "preprocess_manifest", lambda *a, **k: None)
    monkeypatch.setattr(run_module, "read_manifest", lambda path: _one_subject_manifest())

    def fake_qc(root, executor, pictures, reference):
        seen["reference"] = Reference.load(reference)
        raise InputError(None, "stop here")

    monkeypatch.setattr(run_module, "run_qc", fake_qc)
    with pytest.raises(InputError):
        run_module.predict_files(tmp_path / "in.nii.gz", tmp_path / "out", "bundle")
    assert seen["reference"].name == "toy training scans"
    assert seen["reference"].stats["snr_total"].median == pytest.approx(training.stats["snr_total"].median)


def test_an_exported_bundle_carries_the_qc_statistics_of_its_clean_training_scans(tmp_path):
    from brainage.bundle.export import _qc_reference
    from brainage.files import write_csv
    from brainage.layout import PreprocessedDir

    pre = PreprocessedDir(tmp_path / "pre")
    metrics = _training_qc_metrics(26)
    metrics.loc[0, "snr_total"] = 1000.0  # a failed scan: must not shape the yardstick
    write_csv(metrics, pre.qc.metrics)
    verdicts = metrics[["subject_id", "site"]].assign(
        verdict="pass", reasons="", final_verdict="pass", final_reasons=""
    )
    verdicts.loc[0, ["verdict", "final_verdict"]] = "fail"
    write_csv(verdicts, pre.qc.verdicts)
    trained_on = metrics.subject_id[:25]  # t25 was not trained on
    reference = _qc_reference(pre, trained_on, "toy")
    assert reference["n_subjects"] == 24 and "t00" not in reference["subjects"] and "t25" not in reference["subjects"]
    assert reference["stats"]["snr_total"]["high"] < 100
    assert _qc_reference(pre, trained_on[:10], "toy") is None  # too few to be a yardstick


def _one_subject_manifest():
    from brainage.data.manifest import make_manifest

    return make_manifest([{"subject_id": "s1", "t1_path": "/nowhere/s1.nii.gz"}])


def test_an_unreadable_or_2d_input_gets_blank_geometry_not_a_crash(tmp_path):
    import nibabel as nib

    from brainage.predict.run import _readable_geometry

    fake = tmp_path / "notes.nii.gz"
    fake.write_text("not an image")
    flat = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8), np.float32), np.eye(4)), str(flat))
    for path in (fake, flat, tmp_path / "missing.nii.gz"):
        assert _readable_geometry(str(path))["orientation"] == ""


def test_nothing_usable_exits_non_zero_in_one_line_and_still_writes_a_row_each(tiny_bundle, tmp_path, capsys):
    import nibabel as nib

    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "notes.nii.gz").write_text("not an image")
    labels = np.zeros((48, 48, 48), np.int16)
    labels[10:38, 10:38, 10:38], labels[10:24, 10:38, 10:38] = 2, 5
    nib.save(nib.Nifti1Image(labels, np.diag([2.0, 2.0, 2.0, 1.0])), str(folder / "segmentation.nii.gz"))
    out = tmp_path / "out"
    assert brainage(["predict", str(folder), "--out", str(out), "--model", str(tiny_bundle[0])]) == 2
    err = capsys.readouterr().err
    assert "no usable image" in err and "label map (3 labels)" in err and "Traceback" not in err
    table = pd.read_csv(PredictDir(out).predictions)
    assert len(table) == 2 and table.predicted_age.isna().all() and (table.qc_verdict == "fail").all()
    assert table.qc_reasons.str.contains("not a readable").any()


def test_finetune_refuses_a_small_sample_before_preprocessing(synth_cohort, tmp_path):
    from brainage.errors import InputError
    from brainage.predict.site import MIN_SITE_SCANS, finetune_site

    t1 = sorted(synth_cohort.glob("sub-*/anat/*_T1w.nii.gz"))[: MIN_SITE_SCANS - 1]
    pd.DataFrame({"path": [str(t) for t in t1], "age": [50.0] * len(t1)}).to_csv(tmp_path / "site.csv", index=False)
    try:
        finetune_site(None, tmp_path / "site.csv", tmp_path / "out")
    except InputError as exc:
        assert f"only {len(t1)} readable scans have an age" in str(exc)
    else:
        raise AssertionError("a sample below the minimum was accepted")
    assert not SiteDir(tmp_path / "out").predict.preprocessed.root.exists()


def test_a_predict_that_cannot_start_leaves_no_empty_output_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert brainage(["predict", str(tmp_path / "missing.nii.gz"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("a user's file")
    assert brainage(["predict", str(tmp_path / "missing.nii.gz"), "--out", str(kept)]) == 2
    assert (kept / "notes.txt").read_text() == "a user's file"  # a folder that existed is never removed


def _inverted(source, target):
    """The same head with its contrast inverted inside the head (a T2-like copy, as in the issue)."""
    import nibabel as nib

    img = nib.load(str(source))
    data = img.get_fdata()
    head = data > 0.05 * data.max()
    inverted = np.where(head, data[head].max() + data[head].min() - data, 0)
    nib.save(nib.Nifti1Image(inverted.astype(np.float32), img.affine), str(target))
    return target


def test_every_age_has_an_interval_and_an_image_that_is_not_a_t1_gets_no_age(
    tiny_bundle_with_intervals, synth_cohort, tmp_path
):
    t1 = sorted(synth_cohort.glob("sub-*/anat/*_T1w.nii.gz"))
    bundle = tiny_bundle_with_intervals
    inverted = _inverted(t1[3], tmp_path / "inverted.nii.gz")
    pd.DataFrame(
        {"subject_id": ["head", "inverted"], "path": [str(t1[3]), str(inverted)], "age": [50, 50], "sex": ["F", "F"]}
    ).to_csv(tmp_path / "scans.csv", index=False)
    out = tmp_path / "out"
    args = ["predict", str(tmp_path / "scans.csv"), "--out", str(out), "--model", str(bundle), "--coverage", "0.8"]
    assert brainage(args) == 0
    table = pd.read_csv(PredictDir(out).predictions, dtype={"subject_id": str}).set_index("subject_id")
    head = table.loc["head"]
    assert head.predicted_age_low < head.predicted_age < head.predicted_age_high
    assert 5 < head.predicted_age_high - head.predicted_age_low < 40
    flipped = table.loc["inverted"]
    assert flipped.qc_verdict == "fail" and "not T1-weighted" in flipped.qc_reasons
    assert flipped[["predicted_age", "p_male", "predicted_age_low", "brain_age_gap"]].isna().all()
    page = PredictDir(out).report.read_text()
    assert "80%" in page and f"({head.predicted_age_low:.0f} to {head.predicted_age_high:.0f})" in page
