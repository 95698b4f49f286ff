import pandas as pd
import pytest

from brainage.data.manifest import COLUMNS, exclude, make_manifest, parse_age, parse_sex, read_manifest, write_manifest
from brainage.errors import InputError


@pytest.mark.parametrize("value, expected", [("F", "F"), ("male", "M"), (" m ", "M"), (2, "F"), ("1", "M")])
def test_parse_sex(value, expected):
    assert parse_sex(value, codes={1: "M", 2: "F"}) == expected


@pytest.mark.parametrize("value", ["X", 3, "unknown"])
def test_unknown_sex_code(value):
    with pytest.raises(InputError, match="unknown sex code"):
        parse_sex(value, codes={1: "M", 2: "F"})


@pytest.mark.parametrize("value, message", [("forty", "not a number"), ("", "missing"), (None, "missing"), (150, "outside")])
def test_bad_age(value, message):
    with pytest.raises(InputError, match=message):
        parse_age(value)


def test_manifest_round_trip_and_exclusion(tmp_path):
    df = make_manifest([{"subject_id": "b", "age": 30, "sex": "F", "t1_path": "x"},
                        {"subject_id": "a", "age": 40, "sex": "M", "t1_path": "y"}])
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
