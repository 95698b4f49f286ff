import pandas as pd
import pytest

from brainage.data.ingest import ingest
from brainage.data.ingest_bids import ingest_bids
from brainage.data.ingest_csv import ingest_csv
from brainage.data.ingest_ixi import ingest_ixi, ingest_ixi_with_report
from brainage.errors import InputError
from tests.conftest import head_like, write_nifti


def _ixi_folder(tmp_path):
    """A mini IXI download exercising every spreadsheet quirk."""
    for i in (1, 2, 3, 4, 5, 6, 7):
        write_nifti(tmp_path / "T1" / f"IXI{i:03d}-HH-{1000 + i}-T1.nii.gz", head_like())
    (tmp_path / "T1" / "IXI007-HH-1007-T1.nii.gz").write_bytes(b"broken")  # corrupt image
    rows = [
        (1, 1, "1960-01-01", 45.0),  # clean male
        (2, 2, "1970-01-01", 35.0),  # duplicate that agrees
        (2, 2, "1970-01-01", 35.0),
        (3, 1, "1950-01-01", 55.0),  # duplicate that conflicts on sex
        (3, 2, "1950-01-01", 55.0),
        (4, 2, "1980-01-01", None),  # missing AGE
        (5, 3, "1980-01-01", 30.0),  # unknown sex code
        (7, 1, "1960-01-01", 50.0),  # row fine, image corrupt
        (99, 1, "1960-01-01", 50.0),  # row without a scan
    ]  # IXI006 has a scan but no row
    pd.DataFrame(rows, columns=["IXI_ID", "SEX_ID (1=m, 2=f)", "DOB", "AGE"]).to_csv(tmp_path / "IXI.csv", index=False)
    return tmp_path


def test_ixi_quirks(tmp_path):
    folder = _ixi_folder(tmp_path)
    manifest, report = ingest_ixi_with_report(folder, folder / "IXI.csv")
    pd.testing.assert_frame_equal(ingest_ixi(folder, folder / "IXI.csv"), manifest)  # a table, as its siblings
    m = manifest.set_index("subject_id")
    assert m.included.to_dict() == {
        "IXI001": True,
        "IXI002": True,
        "IXI003": False,
        "IXI004": False,
        "IXI005": False,
        "IXI006": False,
        "IXI007": False,
    }
    assert m.at["IXI002", "sex"] == "F" and m.at["IXI002", "age"] == 35.0 and m.at["IXI002", "site"] == "HH"
    assert "disagree on sex" in m.at["IXI003", "exclusion_reason"]
    assert "AGE is missing" in m.at["IXI004", "exclusion_reason"]
    assert "unknown SEX_ID" in m.at["IXI005", "exclusion_reason"]
    assert "no row in IXI.xls" in m.at["IXI006", "exclusion_reason"]
    assert "bad image" in m.at["IXI007", "exclusion_reason"]
    assert report.rows_without_scan == [99]
    assert report.duplicate_ids_agreeing == [2] and report.duplicate_ids_conflicting == [3]


def test_ixi_missing_columns(tmp_path):
    write_nifti(tmp_path / "IXI001-HH-1001-T1.nii.gz", head_like())
    pd.DataFrame({"IXI_ID": [1]}).to_csv(tmp_path / "IXI.csv", index=False)
    with pytest.raises(InputError, match="lacks columns"):
        ingest_ixi(tmp_path, tmp_path / "IXI.csv")


@pytest.mark.realdata
def test_real_ixi_hh_180_usable(ixi_dir, tmp_path):
    manifest = ingest("ixi", ixi_dir, tmp_path)
    use = manifest[manifest.included]
    assert len(manifest) == 185 and len(use) == 180
    assert (use.sex == "F").sum() == 93 and (use.sex == "M").sum() == 87
    assert 20 <= use.age.min() and use.age.max() <= 82
    excluded = manifest[~manifest.included].set_index("subject_id").exclusion_reason
    assert sorted(excluded.index) == ["IXI328", "IXI637", "IXI638", "IXI643", "IXI661"]
    assert "disagree on sex and date of birth" in excluded["IXI328"]
    assert all("no row in IXI.xls" in excluded[s] for s in ["IXI637", "IXI638", "IXI643", "IXI661"])
    text = (tmp_path / "summary.txt").read_text()
    assert "180 usable (93 F / 87 M)" in text and "IXI328" in text
    assert (tmp_path / "summary.png").stat().st_size > 10_000


def _bids(tmp_path, rows):
    for pid in ("sub-01", "sub-02", "sub-03"):
        write_nifti(tmp_path / pid / "anat" / f"{pid}_T1w.nii.gz", head_like())
    write_nifti(tmp_path / "sub-04" / "ses-1" / "anat" / "sub-04_ses-1_T1w.nii.gz", head_like())
    pd.DataFrame(rows).to_csv(tmp_path / "participants.tsv", sep="\t", index=False)
    return tmp_path


def test_bids(tmp_path):
    root = _bids(
        tmp_path,
        {
            "participant_id": ["sub-01", "sub-02", "sub-03", "sub-04", "sub-05"],
            "age": ["30", "abc", "50", "61.5", "40"],
            "sex": ["F", "M", "Q", "male", "F"],
        },
    )
    m = ingest_bids(root).set_index("subject_id")
    assert m.included.to_dict() == {"sub-01": True, "sub-02": False, "sub-03": False, "sub-04": True, "sub-05": False}
    assert "not a number" in m.at["sub-02", "exclusion_reason"]
    assert "unknown sex code" in m.at["sub-03", "exclusion_reason"]
    assert "no T1w image" in m.at["sub-05", "exclusion_reason"]
    assert m.at["sub-04", "sex"] == "M" and m.at["sub-04", "t1_path"].endswith("sub-04_ses-1_T1w.nii.gz")


def test_bids_missing_age_column(tmp_path):
    root = _bids(tmp_path, {"participant_id": ["sub-01"], "sex": ["F"]})
    with pytest.raises(InputError, match="no age column"):
        ingest_bids(root)


def test_plain_csv(tmp_path):
    write_nifti(tmp_path / "a.nii.gz", head_like())

    (tmp_path / "zero.nii.gz").write_bytes(b"")
    pd.DataFrame(
        {
            "path": ["a.nii.gz", "zero.nii.gz", "missing.nii.gz", "a.nii.gz"],
            "age": [40, 50, 60, "old"],
            "sex": ["F", "M", "F", "M"],
        }
    ).to_csv(tmp_path / "export.csv", index=False)
    m = ingest_csv(tmp_path / "export.csv")
    assert m.included.tolist() == [True, False, False, False]
    assert "does not exist" in m.exclusion_reason[2]
    assert "row 5" in m.exclusion_reason[3] and "not a number" in m.exclusion_reason[3]


def test_plain_csv_missing_columns(tmp_path):
    pd.DataFrame({"file": ["a"], "age": [3]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(InputError, match="missing columns"):
        ingest_csv(tmp_path / "x.csv")


def test_plain_csv_relative_paths_are_stored_absolute(tmp_path, monkeypatch):
    write_nifti(tmp_path / "scans" / "a.nii.gz", head_like())
    pd.DataFrame({"path": ["scans/a.nii.gz"], "age": [40], "sex": ["F"]}).to_csv(tmp_path / "export.csv", index=False)
    monkeypatch.chdir(tmp_path)
    m = ingest_csv("export.csv")  # a relative CSV path, as a user types it
    assert m.t1_path[0] == str(tmp_path / "scans" / "a.nii.gz") and m.included[0]


def test_numeric_sex_codes_need_an_explicit_coding(tmp_path):
    write_nifti(tmp_path / "a.nii.gz", head_like())
    pd.DataFrame({"path": ["a.nii.gz", "a.nii.gz"], "age": [40, 50], "sex": ["1", "2"]}).to_csv(
        tmp_path / "e.csv", index=False
    )
    with pytest.raises(InputError, match=r"e.csv: numeric sex code '1' is ambiguous.*--sex-coding"):
        ingest_csv(tmp_path / "e.csv")
    assert ingest_csv(tmp_path / "e.csv", sex_coding={1: "F", 2: "M"}).sex.tolist() == ["F", "M"]
    assert ingest_csv(tmp_path / "e.csv", sex_coding={1: "M", 2: "F"}).sex.tolist() == ["M", "F"]


@pytest.mark.parametrize("content, message", [("", "is empty"), ("path,age,sex\n", "no rows")])
def test_empty_csv_is_one_clear_error(tmp_path, content, message):
    (tmp_path / "e.csv").write_text(content)
    with pytest.raises(InputError, match=message):
        ingest_csv(tmp_path / "e.csv")


def test_csv_given_a_folder(tmp_path):
    with pytest.raises(InputError, match="is a folder; expected a CSV"):
        ingest_csv(tmp_path)
