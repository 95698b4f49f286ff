"""The stacked ensemble: the default model's fitter, and stacking finished runs."""

import numpy as np
import pandas as pd

from brainage.cli import main
from brainage.models.network import model_config
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.cv import train_cv


def _mae(oof, column="predicted_age"):
    return float(np.mean(np.abs(oof[column] - oof.age)))


def test_ensemble_trains_both_members_and_stacks_on_validation_subjects(tissue_cache, tmp_path):
    config = TrainConfig(model=model_config("ensemble", width=0.25), max_epochs=2, batch_size=8, val_fraction=0.35)
    oof = train_cv(tissue_cache, tissue_cache / "splits", tmp_path / "ens", config, RunOptions(num_workers=0))
    preds = pd.read_csv(tmp_path / "ens" / "all_predictions.csv")
    for column in ("predicted_age", "predicted_age_cnn", "predicted_age_ridge", "p_male_cnn", "p_male_ridge"):
        assert preds[column].notna().all(), column
    assert set(preds.role) == {"val", "test"}
    test = preds[preds.role == "test"]
    # two epochs of a CNN know little; the stack must learn to lean on the ridge member
    assert _mae(test) < _mae(test, "predicted_age_cnn")
    assert _mae(oof) < 8
    fold = tmp_path / "ens" / "fold0" / "seed0"
    assert (fold / "model.joblib").exists() and (fold / "checkpoints" / "last.ckpt").exists()


def test_stack_command_combines_finished_runs(tissue_cache, tmp_path):
    runs = tmp_path / "runs"
    for name, extra in (("ridge", []), ("ridge_t1", ["--inputs", "tissue", "--covariates", "none"])):
        assert (
            main(
                [
                    "train",
                    str(tissue_cache),
                    "--splits",
                    str(tissue_cache / "splits"),
                    "--out",
                    str(runs / name),
                    "--model",
                    "ridge",
                    *extra,
                ]
            )
            == 0
        )
    assert main(["stack", str(runs / "ridge"), str(runs / "ridge_t1"), "--out", str(runs / "stack")]) == 0
    oof = pd.read_csv(runs / "stack" / "oof_predictions.csv")
    assert len(oof) == 60 and _mae(oof) < 6
    assert main(["evaluate", str(runs / "stack")]) == 0
