"""Every public function (``brainage.__all__``) documents each of its parameters and what it
returns in numpydoc sections, so an API reference can be generated from the package."""

import inspect
import re

import pytest

import brainage
import brainage.predict.run  # noqa: F401  (a subpackage imported before the names are read must not shadow one)

FUNCTIONS = [name for name in brainage.__all__ if inspect.isfunction(getattr(brainage, name))]


def test_every_public_name_is_what_it_says_even_after_its_subpackage_is_imported():
    """``from brainage import X`` is the function or class of that name, never a module: a public
    name equal to a subpackage's (``predict``, then ``explain``) became the subpackage as soon as
    anything under it was imported, and this test's own list silently skipped it."""
    import importlib

    import brainage.explain.run  # noqa: F401

    for name in brainage.__all__:
        value = getattr(brainage, name)
        assert not inspect.ismodule(value), f"brainage.{name} is a module"
        assert value is getattr(importlib.import_module(brainage._EXPORTS[name]), name)
    assert {"predict_files", "explain_folder", "load_bundle", "recipe_preset"} <= set(FUNCTIONS)


def _section(doc: str, title: str) -> str:
    """The body of a numpydoc section: from its underlined title to the next blank-line-separated title."""
    match = re.search(rf"^{title}\n-{{{len(title)}}}\n(.*?)(?=\n\S[^\n]*\n-{{3,}}\n|\nExample|\Z)", doc, re.S | re.M)
    return match.group(1) if match else ""


def test_the_public_api_has_functions_to_check():
    assert len(FUNCTIONS) >= 15


@pytest.mark.parametrize("name", FUNCTIONS)
def test_parameters_and_returns_are_documented(name):
    function = getattr(brainage, name)
    doc = inspect.getdoc(function) or ""
    parameters = _section(doc, "Parameters")
    documented = {line.strip().lstrip("*") for line in parameters.splitlines() if line and not line[0].isspace()}
    assert documented == set(inspect.signature(function).parameters), f"{name}: Parameters lists {sorted(documented)}"
    assert _section(doc, "Returns").strip(), f"{name}: no Returns section"


def test_the_check_fails_on_an_undocumented_parameter():
    def documented_one(a, b):
        """Add.

        Parameters
        ----------
        a
            A number.

        Returns
        -------
        int
            The sum.
        """

    doc = inspect.getdoc(documented_one)
    listed = {line for line in _section(doc, "Parameters").splitlines() if line and not line[0].isspace()}
    assert listed == {"a"} != set(inspect.signature(documented_one).parameters)
