"""The package's shape: imports point down the pipeline, and file names live in the layout module."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "brainage"

#: Pipeline order. A module may import its own stage, earlier stages and the shared base;
#: the base (top-level modules such as config, files, layout) imports only the base.
STAGES = [
    "data",
    "preprocess",
    "qc",
    "models",
    "training",
    "evaluation",
    "bundle",
    "predict",
    "explain",
    "viewer",
    "demo",
]
#: Top-level modules that sit above every stage (they assemble the stages).
ENTRY_POINTS = {"__init__", "cli"}
BASE = -1


def _rank(module: str) -> int | None:
    """``None`` for entry points, -1 for the shared base, else the stage's index."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ENTRY_POINTS:
        return None
    return STAGES.index(parts[1]) if parts[1] in STAGES else BASE


def _module_name(package: Path, path: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every brainage module imported anywhere in the file, function-level imports included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return [(line, name) for line, name in found if name.startswith(("brainage", "."))]


def violations(package: Path) -> list[str]:
    bad = []
    for path in sorted(package.rglob("*.py")):
        module = _module_name(package, path)
        own = _rank(module)
        for line, imported in _imports(path):
            where = f"{path.relative_to(package)}:{line}"
            if imported.startswith("."):
                bad.append(f"{where} uses a relative import; write brainage.… so the direction is visible")
            elif own is not None and _rank(imported) is None:
                bad.append(f"{where} imports the entry point {imported}")
            elif own is not None and _rank(imported) > own:
                bad.append(f"{where} ({module}) imports {imported} from a later stage")
    return bad


def test_imports_point_down_the_pipeline():
    assert violations(PACKAGE) == []


def test_the_checker_catches_upward_imports(tmp_path):
    fake = tmp_path / "brainage"
    (fake / "data").mkdir(parents=True)
    (fake / "data" / "bad.py").write_text("def f():\n    from brainage.qc.verdicts import qc_failed\n")
    (fake / "layout.py").write_text("import os\nfrom brainage.training import splits\n")
    (fake / "qc").mkdir()
    (fake / "qc" / "fine.py").write_text("from brainage.data import inject\nfrom brainage.layout import QCDir\n")
    found = violations(fake)
    assert len(found) == 2
    assert found[0].startswith("data/bad.py:2") and found[1].startswith("layout.py:2")


#: A string literal that is an output file name (``index.csv``, ``t1_ras.nii.gz``, ...).
FILE_NAME = re.compile(r"[\w\-{}]+\.(csv|json|yaml|nii\.gz|mat|npy|png|html|ckpt|tsv|txt)")
#: Modules allowed to spell file names: the layout (one module per stage, ``layout/``), the files
#: that ship in the package, and names of inputs brainage reads from other tools (IXI's
#: spreadsheet, the download archive, the reviewer's overrides).
NAME_OWNERS = {"resources.py", "data/ingest_ixi.py", "data/download.py", "explain/atlas.py"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_output_file_names_are_spelled_in_the_layout_module(path):
    rel = str(path.relative_to(PACKAGE))
    if rel in NAME_OWNERS or rel.startswith("layout/"):
        return
    tree = ast.parse(path.read_text())
    docstrings = {
        ast.get_docstring(n, clean=False)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))
    } - {None}
    names = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and n.value not in docstrings
        and FILE_NAME.fullmatch(n.value)
    ]
    assert names == [], f"{rel} spells file names {names}: name them in its stage's brainage/layout/ module"


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the brainage modules it imports (anywhere in the file); ``from a import b`` is an
    import of ``a.b`` where that is a module."""
    modules = {_module_name(package, p): p for p in package.rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module in modules:
                subs = {f"{node.module}.{a.name}" for a in node.names} & set(modules)
                edges |= subs or {node.module}
        graph[module] = edges - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: its strongly connected components of more than one module
    (Tarjan's algorithm; the standard library has none)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_house_has_no_circle():
    """No two modules import each other, directly or round a loop, even inside functions."""
    assert cycles(import_graph(PACKAGE)) == []


def test_the_circle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
