"""`brainage bids`: a BIDS App on a generated two-session dataset (the same synthetic heads, older)."""

import json

import numpy as np
import pandas as pd
import pytest

from brainage.cli import main as brainage
from brainage.data.synth import SynthConfig, make_cohort
from brainage.layout import BidsDerivativesDir


@pytest.fixture(scope="module")
def longitudinal(tmp_path_factory):
    root = tmp_path_factory.mktemp("bids") / "ds"
    make_cohort(root, SynthConfig(n_subjects=2, seed=3, sessions=2, years_between_sessions=6.0))
    return root


def _files(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_the_synthetic_cohort_ages_a_head_per_session(longitudinal):
    sessions = pd.read_csv(longitudinal / "sub-001" / "sub-001_sessions.tsv", sep="\t")
    assert sessions.session_id.tolist() == ["ses-1", "ses-2"] and sessions.age.diff().iloc[1] == pytest.approx(6.0)
    assert (longitudinal / "sub-002" / "ses-2" / "anat" / "sub-002_ses-2_T1w.nii.gz").is_file()


@pytest.fixture(scope="module")
def derivatives(longitudinal, tiny_bundle_with_intervals, tmp_path_factory):
    """`participant` for sub-001 (the files it wrote, alone), then for sub-002, then `group`."""
    out = BidsDerivativesDir(tmp_path_factory.mktemp("derivatives") / "out")
    model = ["--model", str(tiny_bundle_with_intervals)]
    first = ["bids", str(longitudinal), str(out.root), "participant", "--participant-label", "001", *model]
    assert brainage(first) == 0
    after_first = _files(out.root)
    second = ["bids", str(longitudinal), str(out.root), "participant", "--participant-label", "sub-002", *model]
    assert brainage(second) == 0
    assert brainage(["bids", str(longitudinal), str(out.root), "group"]) == 0
    return out, after_first


def test_a_participant_run_writes_only_its_own_files(derivatives):
    out, written = derivatives
    # its own folders, and the two dataset-level files every run writes alike
    outside = {f for f in written if not f.startswith(("sub-001/", "work/sub-001/"))}
    assert outside == {"dataset_description.json", ".bidsignore"}, outside


def test_every_session_gets_its_predictions_with_intervals_a_sidecar_and_its_records(derivatives):
    out, _ = derivatives
    for session in ("1", "2"):
        table = pd.read_csv(out.predictions("001", session), sep="\t", na_values="n/a")
        assert table.session_id.tolist() == [f"ses-{session}"] and table.predicted_age.notna().all()
        assert (table.predicted_age_low < table.predicted_age).all()
        assert (table.predicted_age < table.predicted_age_high).all()
        sidecar = json.loads(out.predictions("001", session).with_suffix(".json").read_text())
        assert set(sidecar) == set(table.columns) and sidecar["predicted_age"]["Units"] == "year"
        assert out.preprocessing("001", session).is_file() and out.qc_picture("001", session).is_file()
    assert out.subject_page("001").is_file()
    description = json.loads(out.description.read_text())
    generated = description["GeneratedBy"][0]
    assert description["DatasetType"] == "derivative" and generated["Name"] == "brainage"
    assert "with_intervals.brainage" in generated["Description"] and "sha256" in generated["Description"]


def test_the_group_gathers_everyone_with_the_change_per_year_and_its_interval(derivatives):
    out, _ = derivatives
    change = pd.read_csv(out.group_change, sep="\t", na_values="n/a").set_index("participant_id")
    assert change.index.tolist() == ["sub-001", "sub-002"] and np.allclose(change.years, 6.0, atol=0.02)
    assert (change.brain_age_change_per_year_low < change.brain_age_change_per_year).all()
    assert (change.brain_age_change_per_year < change.brain_age_change_per_year_high).all()
    assert len(pd.read_csv(out.group_table, sep="\t")) == 4 and out.trajectories.is_file() and out.group_page.is_file()


def test_the_derivatives_are_indexed_by_pybids_with_their_entities(derivatives):
    """The layout rules we rely on, checked by the field's own BIDS library."""
    from bids import BIDSLayout

    out, _ = derivatives
    layout = BIDSLayout(str(out.root), validate=False, is_derivative=True)
    found = layout.get(suffix="brainage", extension=".tsv", subject=["001", "002"])
    assert sorted((f.entities["subject"], f.entities["session"]) for f in found) == [
        ("001", "1"),
        ("001", "2"),
        ("002", "1"),
        ("002", "2"),
    ]


def test_sessions_are_chosen_by_label_with_the_age_at_each(longitudinal):
    from brainage.data.bids_sessions import bids_sessions

    table = bids_sessions(longitudinal, participants=["002"], sessions=["ses-2"])
    assert table.subject_id.tolist() == ["sub-002_ses-2"]
    everyone = bids_sessions(longitudinal).set_index("subject_id")
    assert np.isclose(everyone.at["sub-001_ses-2", "age"] - everyone.at["sub-001_ses-1", "age"], 6.0, atol=0.02)


def test_a_participant_that_does_not_exist_is_refused_in_one_line(longitudinal, tmp_path, capsys):
    assert brainage(["bids", str(longitudinal), str(tmp_path / "o"), "participant", "--participant-label", "999"]) == 2
    assert "no T1w image for participant(s) 999" in capsys.readouterr().err
