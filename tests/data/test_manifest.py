import pandas as pd
import pytest

from brainage.data.manifest import (
    COLUMNS,
    exclude,
    make_manifest,
    parse_age,
    parse_sex,
    parse_sex_coding,
    read_manifest,
    write_manifest,
)
from brainage.errors import InputError


@pytest.mark.parametrize("value, expected", [("F", "F"), ("male", "M"), (" m ", "M"), (2, "F"), ("1", "M")])
def test_parse_sex(value, expected):
    assert parse_sex(value, codes={1: "M", 2: "F"}) == expected


@pytest.mark.parametrize("value", ["X", 3, "unknown"])
def test_unknown_sex_code(value):
    with pytest.raises(InputError, match="unknown sex code"):
        parse_sex(value, codes={1: "M", 2: "F"})


@pytest.mark.parametrize(
    "value, message", [("forty", "not a number"), ("", "missing"), (None, "missing"), (150, "outside")]
)
def test_bad_age(value, message):
    with pytest.raises(InputError, match=message):
        parse_age(value)


def test_manifest_round_trip_and_exclusion(tmp_path):
    df = make_manifest(
        [
            {"subject_id": "b", "age": 30, "sex": "F", "t1_path": "x"},
            {"subject_id": "a", "age": 40, "sex": "M", "t1_path": "y"},
        ]
    )
    assert list(df.columns) == COLUMNS and list(df.subject_id) == ["a", "b"]
    df = exclude(df, df.subject_id == "a", "first reason")
    df = exclude(df, df.subject_id == "a", "second reason")  # the first reason is kept
    write_manifest(df, tmp_path / "m.csv")
    back = read_manifest(tmp_path / "m.csv")
    assert back.loc[back.subject_id == "a", "exclusion_reason"].item() == "first reason"
    assert back.included.tolist() == [False, True]


def test_manifest_missing_columns(tmp_path):
    pd.DataFrame({"subject_id": ["a"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="missing columns"):
        read_manifest(tmp_path / "bad.csv")


def test_sex_coding_option():
    assert parse_sex_coding("1=M,2=F") == {1: "M", 2: "F"}
    assert parse_sex_coding("0=female, 1=male") == {0: "F", 1: "M"}
    for bad in ("1=M,2=M", "M=1", "1=X,2=F"):
        with pytest.raises(InputError, match="--sex-coding"):
            parse_sex_coding(bad)
    with pytest.raises(InputError, match="ambiguous"):
        parse_sex("1")


def test_reading_an_image_as_a_manifest(tmp_path):
    (tmp_path / "scan.nii.gz").write_bytes(b"\x1f\x8b" + bytes(100))
    with pytest.raises(InputError, match="scan.nii.gz: is an image; expected a manifest CSV"):
        read_manifest(tmp_path / "scan.nii.gz")
