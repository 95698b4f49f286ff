import numpy as np
import pandas as pd
import pytest

from brainage.data.ingest_ixi import ingest_ixi
from brainage.data.manifest import included, make_manifest
from brainage.errors import InputError
from brainage.training.splits import SplitConfig, describe_groups, make_folds, read_folds, strata, write_splits


def _cohort(n=120, seed=0, sites=("A",)):
    rng = np.random.default_rng(seed)
    return make_manifest(
        [
            {
                "subject_id": f"s{i:03d}",
                "age": float(rng.uniform(20, 80)),
                "sex": rng.choice(["F", "M"], p=[0.6, 0.4]),
                "site": sites[i % len(sites)],
                "t1_path": "x",
            }
            for i in range(n)
        ]
    )


def test_folds_are_deterministic_and_partition_subjects():
    m = _cohort()
    a, b = make_folds(m, SplitConfig(seed=7)), make_folds(m.sample(frac=1, random_state=1), SplitConfig(seed=7))
    assert a.set_index("subject_id").fold.to_dict() == b.set_index("subject_id").fold.to_dict()
    assert sorted(a.subject_id) == sorted(m.subject_id) and set(a.fold) == set(range(5))
    assert make_folds(m, SplitConfig(seed=8)).fold.tolist() != a.fold.tolist()
    assert set(a.split) == {"train", "val", "test"}


def test_sex_ratio_and_age_balanced_with_sites():
    m = _cohort(200, sites=("A", "B"))
    folds = make_folds(m, SplitConfig(n_folds=5))
    table = describe_groups(m, folds.fold, "fold")
    overall = table.iloc[0]
    assert (table.male_fraction - overall.male_fraction).abs().max() <= 0.05
    assert (table.age_mean - overall.age_mean).abs().max() <= 4.0


@pytest.mark.realdata
def test_real_ixi_folds_within_5_points_of_cohort_sex_ratio(ixi_dir, tmp_path):
    manifest = ingest_ixi(ixi_dir, check=False)
    folds = write_splits(manifest, tmp_path, SplitConfig(n_folds=5, seed=42))
    table = pd.read_csv(tmp_path / "fold_balance.csv")
    cohort = table[table.fold == "all"].male_fraction.item()
    per_fold = table[table.fold != "all"]
    assert len(per_fold) == 5 and per_fold.n.sum() == 180
    assert (per_fold.male_fraction - cohort).abs().max() <= 0.05, per_fold
    assert (per_fold.age_mean - table[table.fold == "all"].age_mean.item()).abs().max() < 3.0
    split_table = pd.read_csv(tmp_path / "split_balance.csv")
    assert set(split_table.split) == {"all", "train", "val", "test"}
    assert (tmp_path / "split_config.yaml").exists() and len(folds) == 180


def test_strata_too_small_for_the_folds_are_merged_without_a_warning():
    """44 subjects in 3 folds (the demo's size) whose youngest age bin has only two women: merging
    them into a per-sex catch-all still leaves two, fewer than the folds; they must be merged on
    until every stratum can be placed, or scikit-learn warns and the folds lose balance."""
    import warnings

    sexes = ["M"] * 9 + ["F"] * 2 + ["F", "M"] * 16 + ["F"]
    manifest = make_manifest({"subject_id": f"s{i:02d}", "age": 20.0 + i, "sex": sex} for i, sex in enumerate(sexes))
    labels = pd.Series(strata(included(manifest), 4, 3))
    assert labels.value_counts().min() >= 3, labels.value_counts()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        folds = make_folds(manifest, SplitConfig(n_folds=3, seed=1))
    assert folds.groupby("fold").size().between(14, 15).all()


def test_a_folds_table_is_read_typed_and_a_broken_one_is_one_line(tmp_path):
    path = tmp_path / "folds.csv"
    pd.DataFrame({"subject_id": ["007", "012"], "fold": [0, 1], "split": ["train", "val"]}).to_csv(path, index=False)
    folds = read_folds(path)
    assert folds.subject_id.tolist() == ["007", "012"] and folds.fold.dtype.kind == "i"
    for broken, message in (
        (pd.DataFrame({"subject_id": ["a"], "fold": ["one"]}), "fold 'one' is not a fold number"),
        (pd.DataFrame({"subject_id": ["a"], "fold": [0.5]}), "is not a fold number"),
        (pd.DataFrame({"subject_id": ["a"]}), "needs subject_id and fold"),
    ):
        broken.to_csv(path, index=False)
        with pytest.raises(InputError, match=message):
            read_folds(path)
