"""The README's first command on any machine: the Makefile picks the torch build and never stalls
on an index it cannot reach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return path


def _make(tmp_path: Path, *args: str, gpu: bool) -> subprocess.CompletedProcess:
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    _script(tools / "nvidia-smi", "exit 0\n" if gpu else "exit 9\n")
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    return subprocess.run(
        ["make", f"VENV={tmp_path / 'venv'}", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_without_a_gpu_the_cpu_index_is_asked_with_a_short_timeout_and_no_retries(tmp_path):
    plan = _make(tmp_path, "-n", "install", gpu=False)
    assert "--index-url https://download.pytorch.org/whl/cpu --timeout 5 --retries 0" in plan.stdout, plan.stdout
    with_gpu = _make(tmp_path, "-n", "install", gpu=True)
    assert "--index-url" not in with_gpu.stdout and 'pip install -q "torch==2.13.0"' in with_gpu.stdout


def test_an_index_that_cannot_give_torch_falls_back_to_the_default_one(tmp_path):
    """A fake pip that fails whenever it is sent to the CPU index, as an unreachable index does."""
    log = tmp_path / "pip.log"
    pip = _script(
        tmp_path / "fake-pip",
        f'echo "$@" >> {log}\ncase "$*" in *--index-url*) exit 1;; esac\nexit 0\n',
    )
    _script(tmp_path / "fake-python", f'mkdir -p "$3/bin" && cp {pip} "$3/bin/pip"\n')
    done = _make(tmp_path, f"PY={tmp_path / 'fake-python'}", str(tmp_path / "venv/bin/.torch"), gpu=False)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and "--index-url" in calls[0] and "--index-url" not in calls[1], calls
    assert "using the default index" in done.stdout
    assert (tmp_path / "venv" / "bin" / ".torch").is_file()


def test_pip_gives_up_on_an_unreachable_index_in_seconds(tmp_path):
    """The flags the Makefile passes, on real pip and an index nothing answers: no minutes of retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp_path), "six==1.16.0"]
        + ["--index-url", "http://127.0.0.1:9/simple", "--timeout", "5", "--retries", "0"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert time.perf_counter() - start < 30
    assert done.stderr.count("Retrying") <= 1, done.stderr
