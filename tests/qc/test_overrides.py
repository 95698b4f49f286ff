import pandas as pd
import pytest

from brainage.errors import InputError
from brainage.qc.overrides import apply_overrides, ensure_overrides_file, read_overrides


def _verdicts():
    return pd.DataFrame(
        {
            "subject_id": ["a", "b", "c"],
            "site": "x",
            "verdict": ["pass", "fail", "warn"],
            "reasons": ["", "fail: cut off", "warn: noisy"],
            "outlier_score": [0.0, 20.0, 11.0],
        }
    )


def test_override_replaces_verdict_and_file_is_never_overwritten(tmp_path):
    path = ensure_overrides_file(tmp_path / "qc_overrides.csv")
    path.write_text("subject_id,verdict,note\nb,pass,checked by eye: fine\na,FAIL,\n")
    ensure_overrides_file(path)
    assert "checked by eye" in path.read_text()
    out = apply_overrides(_verdicts(), read_overrides(path)).set_index("subject_id")
    assert out.final_verdict.to_dict() == {"a": "fail", "b": "pass", "c": "warn"}
    assert "checked by eye" in out.at["b", "final_reasons"] and out.at["c", "final_reasons"] == "warn: noisy"


@pytest.mark.parametrize(
    "text, message",
    [
        ("subject_id,verdict\na,maybe\n", "not one of"),
        ("subject_id,verdict\na,pass\na,fail\n", "more than once"),
        ("id,verdict\na,pass\n", "lacks columns"),
    ],
)
def test_bad_override_files(tmp_path, text, message):
    (tmp_path / "o.csv").write_text(text)
    with pytest.raises(InputError, match=message):
        read_overrides(tmp_path / "o.csv")
