"""Training renditions stay with their source subject: never tested, never validated on, folded with it."""

import shutil

import numpy as np
import pandas as pd
import pytest

from brainage.errors import InputError
from brainage.layout import CacheDir, PreprocessedDir, RunDir
from brainage.models.network import model_config
from brainage.preprocess.cache import read_cache_index, write_cache_index
from brainage.preprocess.grids import GridSpec
from brainage.training import classical, cnn
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.cv import labels_table, train_cv


def _with_renditions(tissue_cache, target) -> CacheDir:
    """A copy of the tissue cache in which every subject has one rendition: its image with grey
    matter thinner in the age-bearing corner, as a blurrier acquisition makes it look older."""
    source = PreprocessedDir(tissue_cache).cache("2mm")
    cache = PreprocessedDir(target).cache("2mm")
    shutil.copytree(source.root, cache.root)
    index = read_cache_index(cache.root)
    rows = []
    for row in index.itertuples():
        rid = f"{row.subject_id}~gamma_0.7"
        tissue = np.load(row.tissue_path)
        tissue[1, :6, :6, :6] = (tissue[1, :6, :6, :6] * 0.8).astype(np.uint8)
        np.save(cache.volume(rid), tissue[1])
        np.save(cache.tissue(rid), tissue)
        rows.append(
            {
                "subject_id": rid,
                "age": row.age,
                "sex": row.sex,
                "site": row.site,
                "included": True,
                "source_subject": row.subject_id,
                "rendition": "gamma_0.7",
                "affine_det": row.affine_det,
                "brain_volume_ml": row.brain_volume_ml,
            }
        )
    manifest = index.assign(included=True)
    write_cache_index(cache, GridSpec("2mm", 2.0, (12, 12, 12)), manifest, index, pd.DataFrame(rows))
    return cache


@pytest.fixture(scope="module")
def rendered(tissue_cache, tmp_path_factory):
    return _with_renditions(tissue_cache, tmp_path_factory.mktemp("rendered")), tissue_cache / "splits" / "folds.csv"


def test_renditions_take_their_source_subjects_fold(rendered, tmp_path):
    cache, folds = rendered
    plain = labels_table(cache, folds, None)
    assert len(plain) == 60 and (plain.rendition == "").all()
    table = labels_table(cache, folds, None, renditions=True)
    assert len(table) == 120
    fold_of = plain.set_index("subject_id").fold
    renditions = table[table.rendition != ""]
    assert (renditions.fold.to_numpy() == fold_of[renditions.source_subject].to_numpy()).all()
    # a subject that QC failed takes its rendition with it
    verdicts = tmp_path / "qc_verdicts.csv"
    pd.DataFrame({"subject_id": ["s00"], "final_verdict": ["fail"], "final_reasons": ["broken"]}).to_csv(
        verdicts, index=False
    )
    kept = labels_table(cache, folds, verdicts, renditions=True)
    assert not kept.source_subject.eq("s00").any() and len(kept) == 118


def test_asking_for_renditions_a_cache_lacks_is_one_clear_error(tissue_cache):
    with pytest.raises(InputError, match="--renditions"):
        labels_table(PreprocessedDir(tissue_cache).cache("2mm"), tissue_cache / "splits" / "folds.csv", None, True)


def test_validation_subjects_renditions_are_not_trained_on(rendered):
    table = labels_table(*rendered, None, renditions=True)
    train, val = cnn._train_and_val(table, 0.2, seed=3)
    assert (val.rendition == "").all() and len(val) == 12
    assert not set(train.source_subject) & set(val.source_subject)
    assert (train.rendition != "").sum() == 48  # the other subjects' renditions are trained on


def test_inner_folds_keep_each_rendition_with_its_source(rendered):
    table = labels_table(*rendered, None, renditions=True)
    splits = classical.inner_splits(table, seed=0)
    for train, held_out in splits:
        assert not set(table.source_subject.iloc[train]) & set(table.source_subject.iloc[held_out])
    assert sorted(np.concatenate([h for _, h in splits])) == list(range(len(table)))
    # without renditions the inner folds are those of the original scans alone
    plain = table[table.rendition == ""].reset_index(drop=True)
    assert [h.tolist() for _, h in classical.inner_splits(plain, 0)] == [
        np.flatnonzero(plain.subject_id.isin(table.subject_id.iloc[h])).tolist() for _, h in splits
    ]


def test_a_run_with_renditions_trains_on_them_and_reports_original_scans_only(rendered, tmp_path):
    cache, folds = rendered
    config = TrainConfig(model=model_config("ridge"))
    base = train_cv(cache.root, folds, tmp_path / "plain", config, RunOptions(num_workers=0))
    with_renditions = train_cv(
        cache.root, folds, tmp_path / "rendered", TrainConfig(model=model_config("ridge"), renditions=True)
    )
    assert len(with_renditions) == 60 and with_renditions.subject_id.isin(base.subject_id).all()
    for fold in range(3):
        preds = pd.read_csv(RunDir(tmp_path / "rendered").fold(fold, 0).predictions)
        assert not preds.subject_id.str.contains("~").any()  # neither held-out training rows nor test rows
    # the renditions reached the fit: the same folds give other predictions
    assert not np.allclose(
        base.sort_values("subject_id").predicted_age, with_renditions.sort_values("subject_id").predicted_age
    )
