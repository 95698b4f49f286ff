"""Every input kind of `brainage predict` becomes a manifest; DICOM goes through dcm2niix."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainage.data.inputs import manifest_for_inputs
from brainage.errors import InputError
from tests.dicom import write_dicom_series


@pytest.fixture(scope="module")
def t1(synth_cohort):
    return sorted(synth_cohort.glob("sub-*/anat/*_T1w.nii.gz"))


def test_a_nifti_file(t1, tmp_path):
    m = manifest_for_inputs(t1[0], tmp_path)
    assert m.subject_id.tolist() == ["sub-001_T1w"] and m.included.all() and m.age.isna().all()
    assert (tmp_path / "inputs" / "manifest.csv").is_file()


def test_a_folder_of_nifti(t1, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    for path in t1[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    assert len(manifest_for_inputs(folder, tmp_path / "out")) == 3


def test_bids_without_labels_and_with(synth_cohort, tmp_path):
    m = manifest_for_inputs(synth_cohort, tmp_path)
    assert len(m) == 8 and m.age.notna().all() and set(m.sex) <= {"F", "M"}
    unlabelled = tmp_path / "bids"
    unlabelled.mkdir()
    for sub in synth_cohort.glob("sub-*"):
        (unlabelled / sub.name / "anat").mkdir(parents=True)
        for f in (sub / "anat").iterdir():
            (unlabelled / sub.name / "anat" / f.name).write_bytes(f.read_bytes())
    (unlabelled / "participants.tsv").write_text(
        "participant_id\n" + "\n".join(p.name for p in synth_cohort.glob("sub-*"))
    )
    m = manifest_for_inputs(unlabelled, tmp_path / "out")
    assert len(m) == 8 and m.included.all() and m.age.isna().all()


def test_a_csv_with_paths_only_or_with_labels(t1, tmp_path):
    pd.DataFrame({"path": [str(t) for t in t1[:2]]}).to_csv(tmp_path / "a.csv", index=False)
    assert manifest_for_inputs(tmp_path / "a.csv", tmp_path / "o1").included.all()
    pd.DataFrame({"path": [str(t1[0])], "age": [99], "sex": ["female"], "subject_id": ["p1"]}).to_csv(
        tmp_path / "b.csv", index=False
    )
    m = manifest_for_inputs(tmp_path / "b.csv", tmp_path / "o2")
    assert m.iloc[0][["subject_id", "age", "sex"]].tolist() == ["p1", 99.0, "F"]


def test_a_dicom_folder_with_two_patients(t1, tmp_path):
    dicom = tmp_path / "PACS export"
    write_dicom_series(t1[0], dicom / "a", series_number=3, description="T1 MPRAGE", patient_id="P 01")
    write_dicom_series(t1[1], dicom / "b", series_number=3, description="T1 MPRAGE", patient_id="P02")
    m = manifest_for_inputs(dicom, tmp_path / "out")
    assert len(m) == 2 and m.included.all() and (m.source == "dicom").all()
    assert sorted(m.subject_id) == ["P02", "P_01"]
    # the converted volume is the written one, in the same place in the world
    original = nib.as_closest_canonical(nib.load(str(t1[0])))
    converted = nib.as_closest_canonical(nib.load(m.set_index("subject_id").t1_path["P_01"]))
    np.testing.assert_allclose(converted.affine, original.affine, atol=1e-3)
    assert np.corrcoef(converted.get_fdata().ravel(), original.get_fdata().ravel())[0, 1] > 0.999


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.nii.gz", "does not exist"),
        (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", "neither a NIfTI"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "holds no NIfTI"),
    ],
)
def test_bad_inputs_get_one_clear_line(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        manifest_for_inputs(make(tmp_path), tmp_path / "out")
