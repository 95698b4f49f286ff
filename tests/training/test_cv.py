"""End-to-end CPU training on a tiny learnable cache, resume after a crash, and leak-free bias correction."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from brainage.evaluation.report import evaluate
from brainage.layout import RunDir
from brainage.models.network import ModelConfig
from brainage.training import cnn
from brainage.training.bias import average_seeds_and_correct
from brainage.training.config import OptimConfig, RunOptions, TrainConfig
from brainage.training.cv import train_cv
from brainage.training.logs import read_training_log


def _config(**kw):
    base = dict(
        model=ModelConfig(name="sfcn", width=0.25, dropout=0.0),
        optim=OptimConfig(lr=3e-3),
        max_epochs=2,
        batch_size=4,
        patience=5,
    )
    base.update(kw)
    return TrainConfig(**base)


SERIAL = RunOptions(num_workers=0)


def test_two_epoch_cpu_training_end_to_end(tiny_run, tmp_path):
    out = tmp_path / "sfcn"
    oof = train_cv(tiny_run / "cache" / "2mm", tiny_run / "splits", out, _config(), SERIAL)
    assert len(oof) == 30 and set(oof.fold) == {0, 1, 2}
    assert {"predicted_age", "corrected_age", "p_male"} <= set(oof.columns)
    assert np.isfinite(oof.predicted_age).all() and oof.p_male.between(0, 1).all()
    for fold in range(3):
        d = out / f"fold{fold}" / "seed0"
        assert (d / "checkpoints" / "last.ckpt").exists() and (d / "logs" / "metrics.csv").exists()
    assert (out / "train_config.yaml").exists() and json.loads((out / "run_info.json").read_text())["n_subjects"] == 30
    # a second run with the same config skips every fold
    again = train_cv(tiny_run, tiny_run / "splits", out, _config(), SERIAL)
    pd.testing.assert_frame_equal(oof, again)
    result = evaluate(out)
    assert result["age_uncorrected"]["n"] == 30 and "sex_volume_only" not in result.get("baselines", {})
    for name in (
        "index.html",
        "metrics.csv",
        "age_predicted_vs_true.png",
        "age_bland_altman.png",
        "sex_roc.png",
        "learning_curves.png",
        "age_error_by_decile.csv",
        "subjects.csv",
        "brain_age_gap.png",
    ):
        assert (out / "evaluation" / name).exists(), name


def test_run_options_never_retrain_a_finished_fold(tiny_run, tmp_path, monkeypatch):
    """--workers 1 after --workers 2, or --folds 0,1 after --folds 0, reuses fold 0; a changed
    result-defining setting (epochs) retrains it."""
    out = tmp_path / "options"
    config = _config(max_epochs=1)
    train_cv(tiny_run, tiny_run / "splits", out, config, RunOptions(num_workers=0, folds=(0,)))
    first = RunDir(out).fold(0, 0).predictions.stat().st_mtime_ns
    trained = []
    real_trainer = cnn.make_trainer

    def counting(max_epochs, options, root=None, callbacks=None, **kwargs):
        if callbacks:  # fitting, not predicting
            trained.append(root.parent.name)
        return real_trainer(max_epochs, options, root, callbacks, **kwargs)

    monkeypatch.setattr(cnn, "make_trainer", counting)
    train_cv(tiny_run, tiny_run / "splits", out, config, RunOptions(num_workers=1, folds=(0, 1)))
    assert trained == ["fold1"]
    assert RunDir(out).fold(0, 0).predictions.stat().st_mtime_ns == first
    train_cv(tiny_run, tiny_run / "splits", out, _config(max_epochs=2), RunOptions(num_workers=0, folds=(0,)))
    assert trained == ["fold1", "fold0"]


def test_batched_augmentation_reads_each_volume_once_and_starts_no_worker(tiny_run, tmp_path, monkeypatch):
    """--augment-on batch: the fold's volumes are read into memory once, whatever the epochs, the
    loader starts no worker process even where the run asks for some, and the run is seeded."""
    from brainage.training.augment import AugmentConfig
    from brainage.training.dataset import BrainAgeDataset

    reads, workers = [], []
    read, loader = BrainAgeDataset._read, cnn.make_loader
    monkeypatch.setattr(BrainAgeDataset, "_read", lambda self, i: reads.append(i) or read(self, i))
    monkeypatch.setattr(cnn, "make_loader", lambda *a, **kw: workers.append(kw["num_workers"]) or loader(*a, **kw))
    options = RunOptions(num_workers=2, folds=(0,))
    counts = []
    for epochs, name in ((1, "one"), (2, "two"), (2, "again")):
        reads.clear()
        config = _config(max_epochs=epochs, augment=AugmentConfig(device="batch"))
        train_cv(tiny_run, tiny_run / "splits", tmp_path / name, config, options)
        counts.append(len(reads))
    assert counts[0] == counts[1] > 0  # two epochs read no more than one
    assert set(workers) == {0}
    first, again = (pd.read_csv(RunDir(tmp_path / n).fold(0, 0).predictions) for n in ("two", "again"))
    pd.testing.assert_frame_equal(first, again)


class _Crash(Callback):
    def on_train_epoch_end(self, trainer, module):
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


def test_resume_from_checkpoint_after_crash(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "resume"
    config, options = _config(max_epochs=3), RunOptions(num_workers=0, folds=(0,))
    original = cnn.make_trainer

    def crashing(max_epochs, options, root=None, callbacks=None, **kwargs):
        return original(max_epochs, options, root, (callbacks or []) + [_Crash()], **kwargs)

    monkeypatch.setattr(cnn, "make_trainer", crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_cv(tiny_run / "cache" / "2mm", tiny_run / "splits", out, config, options)
    last = out / "fold0" / "seed0" / "checkpoints" / "last.ckpt"
    assert last.exists() and torch.load(last, weights_only=False)["epoch"] == 0
    monkeypatch.setattr(cnn, "make_trainer", original)
    train_cv(tiny_run / "cache" / "2mm", tiny_run / "splits", out, config, options)
    done = json.loads((out / "fold0" / "seed0" / "done.json").read_text())
    assert done["train"]["epochs_run"] == 3
    log = read_training_log(out / "fold0" / "seed0")
    assert sorted(log.dropna(subset=["val_loss"]).epoch.unique()) == [0, 1, 2]
    assert (log.dropna(subset=["val_loss"]).epoch.value_counts() == 1).all()


def epochs_of(checkpoint):
    return torch.load(checkpoint, weights_only=False)["epoch"]


class _WorseEveryEpoch(Callback):
    """Validation age MAE that only gets worse: the best epoch is the first, the last is the last
    (Lightning runs the checkpoints' hooks after every other callback's)."""

    def on_validation_end(self, trainer, module):
        trainer.callback_metrics["val_age_mae"] = torch.tensor(float(trainer.current_epoch))


def test_last_checkpoint_is_the_last_epoch_not_the_best(tiny_run, tmp_path, monkeypatch):
    # Lightning 2.6's save_last writes last.ckpt only beside a new best one: a resumed fold went back
    # to its best epoch, and "last" was the best
    original = cnn.make_trainer

    def worsening(max_epochs, options, root=None, callbacks=None, **kwargs):
        return original(max_epochs, options, root, (callbacks or []) + [_WorseEveryEpoch()], **kwargs)

    monkeypatch.setattr(cnn, "make_trainer", worsening)
    out, options = tmp_path / "worse", RunOptions(num_workers=0, folds=(0,))
    train_cv(tiny_run / "cache" / "2mm", tiny_run / "splits", out, _config(max_epochs=3), options)
    checkpoints = out / "fold0" / "seed0" / "checkpoints"
    epochs = {name: epochs_of(checkpoints / name) for name in ("best.ckpt", "last.ckpt")}
    assert epochs == {"best.ckpt": 0, "last.ckpt": 2}
    # predicting with the last one instead is a setting of its own: the same weights, nothing retrained
    best, trained = pd.read_csv(out / "fold0" / "seed0" / "predictions.csv"), (checkpoints / "last.ckpt").read_bytes()
    train_cv(tiny_run, tiny_run / "splits", out, _config(max_epochs=3, checkpoint="last"), options)
    last = pd.read_csv(out / "fold0" / "seed0" / "predictions.csv")
    assert (checkpoints / "last.ckpt").read_bytes() == trained and not list(checkpoints.parent.glob("checkpoints_*"))
    assert not np.allclose(best.predicted_age, last.predicted_age)


def test_a_changed_configuration_does_not_resume_the_old_checkpoint(tiny_run, tmp_path):
    out, options = tmp_path / "changed", RunOptions(num_workers=0, folds=(0,))
    train_cv(tiny_run / "cache" / "2mm", tiny_run / "splits", out, _config(max_epochs=2), options)
    fold = out / "fold0" / "seed0"
    train_cv(tiny_run / "cache" / "2mm", tiny_run / "splits", out, _config(max_epochs=3), options)
    # trained from epoch 0 again (a resumed run's current log starts where the checkpoint ended)
    assert pd.read_csv(fold / "logs" / "metrics.csv").epoch.min() == 0
    assert json.loads((fold / "done.json").read_text())["train"]["epochs_run"] == 3
    (aside,) = fold.glob("checkpoints_*")
    assert epochs_of(aside / "last.ckpt") == 1


def test_bias_correction_is_fitted_on_validation_only():
    rng = np.random.default_rng(0)
    ages = rng.uniform(20, 80, 40)
    val = pd.DataFrame({"subject_id": [f"v{i}" for i in range(20)], "age": ages[:20], "role": "val"})
    val["predicted_age"] = 0.5 * val.age + 25  # classic regression to the mean
    test = pd.DataFrame({"subject_id": [f"t{i}" for i in range(20)], "age": ages[20:], "role": "test"})
    test["predicted_age"] = test.age + 30  # if test rows leaked into the fit, alpha/beta would change
    preds = pd.concat([val, test]).assign(fold=0, seed=0, sex="F", site="x", p_male=0.3)
    out = average_seeds_and_correct(preds)
    assert set(out.subject_id) == set(test.subject_id)
    assert out.bias_alpha.iloc[0] == pytest.approx(-0.5) and out.bias_beta.iloc[0] == pytest.approx(25)
    assert np.allclose(out.corrected_age, out.predicted_age - (-0.5 * out.age + 25))


def test_bias_correction_is_refused_on_too_few_subjects():
    rng = np.random.default_rng(1)
    val = pd.DataFrame({"subject_id": [f"v{i}" for i in range(5)], "age": rng.uniform(20, 80, 5), "role": "val"})
    val["predicted_age"] = val.age
    test = pd.DataFrame(
        {"subject_id": ["t0", "t1"], "age": [30.0, 60.0], "role": "test", "predicted_age": [35.0, 55.0]}
    )
    out = average_seeds_and_correct(pd.concat([val, test]).assign(fold=0, seed=0, sex="F", site="x"))
    assert out.corrected_age.isna().all() and out.predicted_age.tolist() == [35.0, 55.0]


def test_lightning_chatter_is_dropped_and_the_rest_kept_while_quieted_only(caplog):
    import logging
    import warnings

    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    filters = list(warnings.filters)
    messages = ("💡 Tip: try our cloud", "GPU available: False, used: False", "`Trainer.fit` stopped")
    with caplog.at_level(logging.INFO, logger=logger.name):
        with cnn.quiet_lightning():
            assert sum(isinstance(f, cnn._DropChatter) for f in logger.filters) == 1
            for message in messages:
                logger.info(message)
            with warnings.catch_warnings(record=True) as caught:
                warnings.warn("the folder exists and is not empty")  # resuming a fold: expected
                warnings.warn("something else entirely")
        assert [r.getMessage() for r in caplog.records] == ["`Trainer.fit` stopped"]
        assert [str(w.message) for w in caught] == ["something else entirely"]
        logger.info(messages[0])  # a library must not change the caller's logging or warnings
    assert caplog.records[-1].getMessage() == messages[0]
    assert not any(isinstance(f, cnn._DropChatter) for f in logger.filters) and warnings.filters == filters


def test_settings_added_later_leave_old_fingerprints_alone():
    """A run trained before the domain-randomisation settings existed keeps its fingerprint (its folds
    are not retrained); turning one on changes it."""
    from dataclasses import replace

    from brainage.config import fingerprint, to_dict
    from brainage.training.config import TrainConfig

    config = TrainConfig()
    before = to_dict(config)
    for key in ("intensity_inputs", "tissue_contrast", "blur_std_voxels"):
        del before["augment"][key]
    del before["renditions"], before["checkpoint"]
    legacy_blob = fingerprint(before)
    assert fingerprint(config) == legacy_blob
    assert fingerprint(replace(config, augment=replace(config.augment, tissue_contrast=0.1))) != legacy_blob
    assert fingerprint(replace(config, renditions=True)) != legacy_blob
    assert fingerprint(replace(config, checkpoint="last")) != legacy_blob
    assert "tissue_contrast" in to_dict(config)["augment"]  # saved configs still show every setting


def test_a_saved_config_without_a_later_setting_reads_as_trained_then(tmp_path):
    """A scanner_robust run saved before 0.12.2 predicted with its best checkpoint: reading its config
    back must not give it today's registered default (the last one), or export would ship another model."""
    import yaml

    from brainage.config import load_config, save_config
    from brainage.models.network import model_config
    from brainage.training.config import TrainConfig

    today = TrainConfig(model=model_config("scanner_robust"))
    path = save_config(today, tmp_path / "train_config.yaml")
    assert load_config(TrainConfig, path).checkpoint == today.checkpoint == "last"
    older = yaml.safe_load(path.read_text())
    del older["checkpoint"]
    path.write_text(yaml.safe_dump(older))
    assert load_config(TrainConfig, path).checkpoint == "best"


def test_a_model_that_needs_a_recipe_refuses_a_cache_made_otherwise(tmp_path):
    """``scanner_robust`` reads scans of the scanner-robust recipe: a default cache is refused before
    any fold, naming what differs; the settings the recipe gained later do not count."""
    from dataclasses import replace

    from brainage.config import save_config
    from brainage.errors import InputError
    from brainage.layout import PreprocessedDir
    from brainage.models.network import model_config
    from brainage.preprocess.cache import find_cache
    from brainage.preprocess.pipeline import PreprocessConfig, recipe_preset
    from brainage.training.config import TrainConfig
    from brainage.training.cv import check_recipe

    def cache_of(name, preprocess_config):
        folder = PreprocessedDir(tmp_path / name)
        folder.cache("2mm").root.mkdir(parents=True)
        folder.cache("2mm").index.write_text("subject_id,age,sex,site,path\n")
        folder.report.write_text("subject_id,status\n")
        save_config(preprocess_config, folder.config)
        return find_cache(folder.cache("2mm").root)

    robust = TrainConfig(model=model_config("scanner_robust"))
    default = cache_of("default", PreprocessConfig())
    with pytest.raises(InputError, match=r"--recipe scanner-robust.*intensity_reference 'percentiles' \(the recipe"):
        check_recipe(robust, default)
    check_recipe(TrainConfig(model=model_config("ensemble")), default)  # a model without a recipe: any
    before = replace(
        recipe_preset("scanner-robust"), background="as stored", n4_scale="as stored", n4_domain="image", renditions=1
    )
    check_recipe(robust, cache_of("robust_0.8", before))  # made before the refinements: accepted
