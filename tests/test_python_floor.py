"""The Python version pyproject.toml promises is the one the code is written for."""

import ast
import re
from pathlib import Path

import brainage

ROOT = Path(__file__).resolve().parents[1]


def _floor() -> tuple[int, int]:
    text = (ROOT / "pyproject.toml").read_text()
    major, minor = re.search(r'requires-python = ">=(\d+)\.(\d+)"', text).groups()
    return int(major), int(minor)


def test_every_module_parses_with_the_grammar_of_the_oldest_python_promised():
    """Syntax newer than the floor (``except*``, PEP 695 generics, ...) fails here, on any Python
    this suite runs on. (A static check of the standard-library calls, ``vermin -t=3.10-
    --violations src``, found none newer than 3.10 for brainage 0.9.)"""
    floor = _floor()
    assert floor == (3, 10)
    sources = sorted(Path(brainage.__file__).parent.rglob("*.py"))
    assert len(sources) > 50
    for path in sources:
        ast.parse(path.read_text(), str(path), feature_version=floor)
