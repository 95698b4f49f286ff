"""The command line: every stage explains itself, and bad input is one clear line, not a traceback."""

import subprocess
import sys

import pytest

from brainage.cli import EXAMPLES, main

STAGES = ["download", "ingest", "split", "synth", "preprocess", "pack", "qc", "train", "evaluate", "demo"]


@pytest.mark.parametrize("stage", STAGES)
def test_help_has_an_example(stage, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([stage, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example:" in text and EXAMPLES[stage].split()[1] in text


def test_missing_input_is_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "brainage.cli", "ingest", "csv", str(tmp_path / "nope.csv"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nope.csv: CSV file does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_manifest_for_preprocess(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["preprocess", str(bad), "--out", str(tmp_path / "o")]) == 2


def test_ingest_split_synth_cli(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "c"), "--n", "12", "--seed", "1"]) == 0
    assert main(["ingest", "bids", str(tmp_path / "c"), "--out", str(tmp_path / "i")]) == 0
    assert main(["split", str(tmp_path / "i" / "manifest.csv"), "--out", str(tmp_path / "s"), "--folds", "3"]) == 0
    assert (tmp_path / "s" / "folds.csv").exists() and (tmp_path / "i" / "summary.png").exists()


def test_config_round_trip(tmp_path):
    from brainage.config import load_config, save_config
    from brainage.data.splits import SplitConfig

    save_config(SplitConfig(n_folds=3, seed=9), tmp_path / "c.yaml")
    assert load_config(SplitConfig, tmp_path / "c.yaml") == SplitConfig(n_folds=3, seed=9)
    (tmp_path / "bad.yaml").write_text("n_folds: 3\nunknown: 1\n")
    with pytest.raises(ValueError, match="unknown config keys"):
        load_config(SplitConfig, tmp_path / "bad.yaml")
