"""The command line: every stage explains itself, and bad input is one clear line, not a traceback."""

import subprocess
import sys

import pytest

from brainage import __version__
from brainage.cli import COMMANDS, main

STAGES = [
    "download",
    "ingest",
    "split",
    "synth",
    "preprocess",
    "pack",
    "qc",
    "qc-reference",
    "train",
    "stack",
    "evaluate",
    "export",
    "predict",
    "bids",
    "finetune",
    "explain",
    "serve",
    "demo",
]


def test_command_table_is_every_stage():
    assert [c.name for c in COMMANDS] == STAGES


def test_every_command_a_stage_defines_is_in_the_table():
    """A Command written in a stage's commands.py but not registered would be unreachable."""
    import importlib
    import inspect
    import pkgutil

    import brainage
    from brainage.commands import Command

    defined = set()
    for stage in pkgutil.iter_modules(brainage.__path__):
        if stage.ispkg and importlib.util.find_spec(f"brainage.{stage.name}.commands"):
            module = importlib.import_module(f"brainage.{stage.name}.commands")
            defined |= {
                obj.name
                for _, obj in inspect.getmembers(module, inspect.isclass)
                if issubclass(obj, Command) and obj is not Command and obj.__module__ == module.__name__
            }
    assert defined == {c.name for c in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_help_has_an_example_and_defaults(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command.name, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example:" in text and command.example.split()[1] in text
    if command.name in ("split", "preprocess", "train"):
        assert "(default: " in text


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "brainage.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def _one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


def test_version_and_fast_help():
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"brainage {__version__}"
    assert _cli("--help").returncode == 0
    # heavy libraries (torch, ANTs, nilearn) are imported by the stages that use them, not by --help:
    # checked by what is imported, not by a wall-clock limit that a busy machine breaks
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, brainage.cli; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('torch', 'ants', 'nilearn', 'lightning', 'pandas')))",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip() == "[]"


def test_missing_input_is_one_line_error(tmp_path):
    _one_line_error(
        _cli("ingest", "csv", tmp_path / "nope.csv", "--out", tmp_path / "o"), "nope.csv: CSV file does not exist"
    )


def test_user_mistakes_are_one_line_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    _one_line_error(_cli("ingest", "csv", tmp_path / "empty.csv", "--out", tmp_path / "o"), "empty.csv: is empty")
    _one_line_error(_cli("ingest", "csv", tmp_path, "--out", tmp_path / "o"), "is a folder; expected a CSV file")
    header_only = tmp_path / "manifest.csv"
    header_only.write_text("subject_id,site,age,sex,t1_path,included,exclusion_reason,source\n")
    _one_line_error(
        _cli("preprocess", header_only, "--out", tmp_path / "p"), "manifest.csv: manifest has no included subjects"
    )
    image = tmp_path / "scan.nii.gz"
    image.write_bytes(b"\x1f\x8b" + bytes(64))
    _one_line_error(_cli("preprocess", image, "--out", tmp_path / "p"), "scan.nii.gz: is an image")
    _one_line_error(_cli("qc", image), "scan.nii.gz: is an image")
    (tmp_path / "empty_dir").mkdir()
    _one_line_error(
        _cli("train", tmp_path, "--splits", tmp_path / "missing", "--out", tmp_path / "m"), "no model-ready cache"
    )
    bad = tmp_path / "m.csv"
    bad.write_text("a,b\n1,2\n")
    _one_line_error(_cli("preprocess", bad, "--out", tmp_path / "o"), "not a brainage manifest")


def test_train_splits_missing_or_empty(tmp_path):
    from brainage.data.manifest import make_manifest
    from brainage.layout import PreprocessedDir
    from brainage.preprocess.cache import write_cache_index
    from brainage.preprocess.grids import GRIDS

    write_cache_index(PreprocessedDir(tmp_path / "pre").cache("2mm"), GRIDS["2mm"], make_manifest([]))
    (tmp_path / "empty").mkdir()
    _one_line_error(
        _cli("train", tmp_path / "pre", "--splits", tmp_path / "empty", "--out", tmp_path / "m"),
        "empty: folder holds no folds.csv",
    )
    _one_line_error(
        _cli("train", tmp_path / "pre", "--splits", tmp_path / "missing", "--out", tmp_path / "m"),
        "missing: does not exist",
    )


def test_ingest_split_synth_cli(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "c"), "--n", "12", "--seed", "1"]) == 0
    assert main(["ingest", "bids", str(tmp_path / "c"), "--out", str(tmp_path / "i")]) == 0
    assert main(["split", str(tmp_path / "i" / "manifest.csv"), "--out", str(tmp_path / "s"), "--folds", "3"]) == 0
    assert (tmp_path / "s" / "folds.csv").exists() and (tmp_path / "i" / "summary.png").exists()


def test_train_config_layers(tmp_path):
    """Registry defaults, then --config, then explicit options."""
    from brainage.cli import build_parser
    from brainage.config import load_config, save_config
    from brainage.training.commands import train_config_from_args
    from brainage.training.config import TrainConfig

    def config(*extra):
        return train_config_from_args(
            build_parser().parse_args(["train", "pre", "--splits", "s", "--out", "o", *extra])
        )

    from brainage.models.registry import DEFAULT_MODEL, MODELS

    assert config().model.name == DEFAULT_MODEL
    sfcn = config("--model", "sfcn")
    assert (sfcn.model.age_head, sfcn.model.dropout, sfcn.optim.lr) == ("softlabel", 0.5, 5e-3)
    ensemble = config("--model", "ensemble")
    assert (ensemble.model.width, ensemble.downsample, ensemble.max_epochs) == (
        0.5,
        2,
        MODELS["ensemble"].train["max_epochs"],
    )
    assert ensemble.model.inputs == ("t1", "tissue") and not ensemble.model.modulate
    assert config("--model", "ensemble", "--modulate", "--downsample", "1").model.modulate is True
    resnet = config("--model", "seresnet", "--width", "0.5", "--epochs", "30", "--no-augment")
    assert (resnet.model.age_head, resnet.model.width, resnet.optim.lr, resnet.max_epochs, resnet.augment.enabled) == (
        "regression",
        0.5,
        1e-3,
        30,
        False,
    )
    save_config(resnet, tmp_path / "train_config.yaml")
    assert load_config(TrainConfig, tmp_path / "train_config.yaml") == resnet
    from brainage.training.commands import run_options_from_args

    def options(*extra):
        args = build_parser().parse_args(["train", "pre", "--splits", "s", "--out", "o", *extra])
        return run_options_from_args(args, train_config_from_args(args).model.name)

    assert (options().seeds, options().precision) == ((0, 1, 2), "bf16-mixed")  # the default model's run defaults
    assert (options("--model", "sfcn").seeds, options("--model", "sfcn").precision) == ((0,), "auto")
    assert options("--seeds", "4", "--precision", "32-true").seeds == (4,)
    rerun = config("--config", str(tmp_path / "train_config.yaml"), "--epochs", "40")
    assert rerun.model == resnet.model and rerun.max_epochs == 40 and not rerun.augment.enabled


def test_config_round_trip(tmp_path):
    from brainage.config import load_config, save_config
    from brainage.errors import InputError
    from brainage.training.splits import SplitConfig

    save_config(SplitConfig(n_folds=3, seed=9), tmp_path / "c.yaml")
    assert load_config(SplitConfig, tmp_path / "c.yaml") == SplitConfig(n_folds=3, seed=9)
    (tmp_path / "bad.yaml").write_text("n_folds: 3\nunknown: 1\n")
    with pytest.raises(InputError, match="unknown config keys"):
        load_config(SplitConfig, tmp_path / "bad.yaml")


def test_qc_on_a_manifest_preprocesses_first(synth_cohort, tmp_path):
    from brainage.data.ingest_bids import ingest_bids
    from brainage.data.manifest import write_manifest

    write_manifest(ingest_bids(synth_cohort).head(1), tmp_path / "m.csv")
    assert main(["qc", str(tmp_path / "m.csv"), "--out", str(tmp_path / "qc"), "--workers", "1", "--no-pictures"]) == 0
    assert (tmp_path / "qc" / "preprocessed" / "preprocess_report.csv").exists()
    assert (tmp_path / "qc" / "qc_verdicts.csv").exists()


@pytest.mark.parametrize("command", [["predict", "scan.nii.gz"], ["demo"], ["synth"], ["preprocess", "manifest.csv"]])
def test_an_output_folder_that_is_a_file_is_refused_in_one_line(command, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a user's file")
    assert main([*command, "--out", str(taken)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file; --out names the output folder" in err and len(err.splitlines()) == 1
    assert taken.read_text() == "a user's file"


def test_every_option_says_its_default_or_that_it_is_required():
    import argparse

    from brainage.cli import build_parser
    from brainage.commands import HelpFormatter

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    silent = []
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction) or action.default is False:
                continue
            text = HelpFormatter(name)._get_help_string(action)
            if "default" not in text and "required" not in text:
                silent.append(f"{name} {action.option_strings[-1]}")
    assert not silent


def test_positional_arguments_claim_no_default():
    """A positional argument is always given, so its help never says "(default: none)"."""
    import argparse

    from brainage.cli import build_parser
    from brainage.commands import HelpFormatter

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    claims = [
        f"{name} {action.dest}"
        for name, parser in sub.choices.items()
        for action in parser._actions
        if not action.option_strings and "default" in HelpFormatter(name)._get_help_string(action)
    ]
    assert not claims
