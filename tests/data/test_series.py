"""Series selection of a DICOM export: each study's 3D T1 is predicted, every other series is
listed in series.csv with the reason it was skipped."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainage.data.inputs import manifest_for_inputs
from brainage.data.series import classify
from brainage.errors import InputError
from tests.dicom import write_dicom_series

T1_3D = {
    "EchoTime": "3.0",
    "RepetitionTime": "2300",
    "InversionTime": "900",
    "MRAcquisitionType": "3D",
    "ScanningSequence": ["GR", "IR"],
}


@pytest.mark.parametrize(
    "sidecar, shape, expected",
    [
        ({"SeriesDescription": "AAHScout", "ImageType": ["ORIGINAL", "PRIMARY", "M"]}, (256, 256, 3), "localizer"),
        (
            {"SeriesDescription": "t1_mprage_sag", "ImageType": ["DERIVED", "SECONDARY", "MPR"], "EchoTime": 0.003},
            (176, 256, 256),
            "derived",
        ),
        (
            {"SeriesDescription": "t1_mprage_sag", "ContrastBolusAgent": "Gadovist", "EchoTime": 0.003},
            (176, 256, 256),
            "contrast",
        ),
        ({"SeriesDescription": "T1 3D post Gd", "EchoTime": 0.003}, (176, 256, 256), "contrast"),
        ({"SeriesDescription": "ax t2 tse", "EchoTime": 0.09}, (256, 256, 30), "echo time 90 ms"),
        ({"SeriesDescription": "flair 3d", "EchoTime": 0.02, "InversionTime": 2.5}, (176, 256, 256), "FLAIR"),
        ({"SeriesDescription": "ep2d_diff"}, (128, 128, 60, 31), "not a 3D volume"),
        ({"SeriesDescription": "DTI", "EchoTime": 0.02}, (128, 128, 60), "description"),
        ({"SeriesDescription": "T1 MPRAGE", "EchoTime": 0.003, "InversionTime": 0.9}, (176, 256, 256, 1), ""),
        ({}, (90, 108, 90), ""),
    ],
)
def test_classify_names_the_reason(sidecar, shape, expected):
    reason = classify(sidecar, shape)
    assert (expected in reason) if expected else reason == ""


def _volume(shape=(40, 48, 36), voxel=(1.2, 1.2, 1.2)):
    rng = np.random.default_rng(0)
    return nib.Nifti1Image(rng.uniform(0, 100, shape).astype(np.float32), np.diag([*voxel, 1.0]))


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """Patient A, study 1: localizer, T2, FLAIR, a 2D T1, the 3D T1, its MPR and a post-contrast
    T1; patient A, study 2: a 3D T1; patient B: a 3D T1 and a T2; all in one folder."""
    root = tmp_path_factory.mktemp("hospital") / "export"
    study1 = {"StudyDate": "20240105", "StudyInstanceUID": "1.2.3.1"}
    series = [
        (1, "localizer", _volume((64, 64, 3)), {"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]}),
        (2, "t2_tse_tra", _volume((48, 48, 24), (1, 1, 5)), {"EchoTime": "95", "MRAcquisitionType": "2D"}),
        (3, "t2_flair_3d", _volume(), {"EchoTime": "20", "InversionTime": "2500", "MRAcquisitionType": "3D"}),
        (
            4,
            "t1_se_tra",
            _volume((48, 48, 24), (1, 1, 5)),
            {"EchoTime": "12", "RepetitionTime": "550", "MRAcquisitionType": "2D"},
        ),
        (5, "t1_mprage_sag", _volume(), T1_3D),
        (6, "t1_mprage_sag_MPR_tra", _volume(), {**T1_3D, "ImageType": ["DERIVED", "SECONDARY", "MPR"]}),
        (7, "t1_mprage_sag", _volume(), {**T1_3D, "ContrastBolusAgent": "Gadovist"}),
    ]
    for number, description, image, tags in series:
        write_dicom_series(
            image,
            root / f"s{number}",
            series_number=number,
            description=description,
            patient_id="A",
            study_uid=study1["StudyInstanceUID"],
            tags={"StudyDate": study1["StudyDate"], **tags},
        )
    write_dicom_series(
        _volume(),
        root / "later",
        series_number=3,
        description="t1_mprage_sag",
        patient_id="A",
        study_uid="1.2.3.2",
        tags={"StudyDate": "20250310", **T1_3D},
    )
    write_dicom_series(
        _volume(),
        root / "b1",
        series_number=2,
        description="T1 3D",
        patient_id="B",
        study_uid="1.2.3.3",
        tags={"StudyDate": "20240105", **T1_3D},
    )
    write_dicom_series(
        _volume((48, 48, 24), (1, 1, 5)),
        root / "b2",
        series_number=3,
        description="T2",
        patient_id="B",
        study_uid="1.2.3.3",
        tags={"StudyDate": "20240105", "EchoTime": "95"},
    )
    return root


def test_a_hospital_export_predicts_each_studys_3d_t1(export, tmp_path):
    manifest = manifest_for_inputs(export, tmp_path)
    assert sorted(manifest.subject_id) == ["A_20240105", "A_20250310", "B"]
    series = pd.read_csv(tmp_path / "series.csv", dtype={"study_date": str})
    assert len(series) == 10 and series.chosen.sum() == 3
    first = series[(series.patient_id == "A") & (series.study_date == "20240105")].set_index("series_number")
    assert first.loc[5, "chosen"] and first.loc[5, "subject_id"] == "A_20240105"
    reasons = first.reason.to_dict()
    assert "localizer" in reasons[1] and "echo time 95 ms" in reasons[2] and "FLAIR" in reasons[3]
    assert "another T1 of this study was chosen (series 5: 3D" in reasons[4]
    assert "derived" in reasons[6] and "Gadovist" in reasons[7]


def test_series_override_and_nothing_usable(export, tmp_path):
    manifest = manifest_for_inputs(export, tmp_path / "a", series=["4"])
    assert manifest.subject_id.tolist() == ["A"]
    series = pd.read_csv(tmp_path / "a" / "series.csv")
    assert series[series.chosen].description.tolist() == ["t1_se_tra"]
    only_t2 = tmp_path / "t2only"
    write_dicom_series(
        _volume((48, 48, 24), (1, 1, 5)), only_t2, series_number=2, description="t2_tse", tags={"EchoTime": "95"}
    )
    with pytest.raises(InputError, match="none of its 1 DICOM series is a 3D T1-weighted scan"):
        manifest_for_inputs(only_t2, tmp_path / "b")


def test_predict_on_a_hospital_export_predicts_only_the_t1(tiny_bundle, synth_cohort, tmp_path):
    from brainage.cli import main as brainage
    from brainage.layout import PredictDir

    head = sorted(synth_cohort.glob("sub-*/anat/*_T1w.nii.gz"))[5]
    export = tmp_path / "export"
    write_dicom_series(head, export / "t1", series_number=4, description="t1_mprage_sag", patient_id="H1", tags=T1_3D)
    write_dicom_series(
        _volume((48, 48, 24), (1, 1, 5)),
        export / "t2",
        series_number=2,
        description="t2_tse",
        patient_id="H1",
        tags={"EchoTime": "95"},
    )
    write_dicom_series(_volume((64, 64, 3)), export / "loc", series_number=1, description="localizer", patient_id="H1")
    out = PredictDir(tmp_path / "out")
    assert (
        brainage(["predict", str(export), "--out", str(out.root), "--model", str(tiny_bundle[0]), "--no-pictures"]) == 0
    )
    table = pd.read_csv(out.predictions)
    assert table.subject_id.tolist() == ["H1"] and table.predicted_age.notna().all()
    series = pd.read_csv(out.series)
    assert len(series) == 3 and series.set_index("series_number").chosen.to_dict() == {1: False, 2: False, 4: True}
