"""The type check: mypy with the repository's mypy.ini (strict on perfkit.io and perfkit.analysis),
and the public API's signatures annotated in full."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import perfkit

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "mypy.ini"


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    """mypy as a subprocess from the repository's root (its cache: build/mypy_cache, as configured)."""
    pytest.importorskip("mypy", reason="mypy is in the [dev] extra")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(CONFIG), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_mypy_passes() -> None:
    run = _mypy()
    assert run.returncode == 0, f"mypy found errors:\n{run.stdout}{run.stderr}"
    assert "Success: no issues found" in run.stdout


# A planted module, read by mypy in place of a real one (--shadow-file: the tree is not touched).
_PLANTED_STRICT = """
def untyped(x):
    return x


def wrong() -> int:
    return "not an int"
"""
_PLANTED_LOOSE = """
def untyped_body():
    return 1 + "a"
"""


def test_mypy_catches_planted_errors(tmp_path: Path) -> None:
    """Controls: in a strict package an unannotated def and a wrong return type are errors; outside
    it, the body of an unannotated def is still checked (check_untyped_defs)."""
    strict = tmp_path / "strict.py"
    strict.write_text(Path(ROOT / "perfkit/analysis/sketch.py").read_text() + _PLANTED_STRICT)
    loose = tmp_path / "loose.py"
    loose.write_text(Path(ROOT / "perfkit/targets.py").read_text() + _PLANTED_LOOSE)
    run = _mypy(
        "--shadow-file", "perfkit/analysis/sketch.py", str(strict),
        "--shadow-file", "perfkit/targets.py", str(loose),
        "-m", "perfkit.analysis.sketch", "-m", "perfkit.targets",
    )  # fmt: skip
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    errors = [line for line in out.splitlines() if ": error: " in line]
    sketch = [e for e in errors if e.startswith("perfkit/analysis/sketch.py:")]
    targets = [e for e in errors if e.startswith("perfkit/targets.py:")]
    assert len(sketch) + len(targets) == 3, out  # the planted errors and nothing else there
    assert any("[no-untyped-def]" in e for e in sketch), out
    assert any("[return-value]" in e for e in sketch), out
    assert any("[operator]" in e for e in targets), out
    assert not any("[no-untyped-def]" in e for e in targets), out  # not strict there


def _unannotated(source: str, name: str) -> list[str]:
    """The parameters and returns of the top-level function or class `name` in `source` (its
    public methods and __init__) that have no annotation, as 'function:parameter'."""
    tree = ast.parse(source)
    node = next(
        n for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == name
    )  # fmt: skip
    if isinstance(node, ast.ClassDef):
        functions = [
            f for f in node.body
            if isinstance(f, ast.FunctionDef) and (not f.name.startswith("_") or f.name == "__init__")
        ]  # fmt: skip
    else:
        functions = [node]
    missing = []
    for f in functions:
        a = f.args
        params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, (a.vararg, a.kwarg))]
        is_method = isinstance(node, ast.ClassDef) and not any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in f.decorator_list
        )
        if is_method and params and params[0].arg in ("self", "cls"):
            params = params[1:]
        missing += [f"{f.name}:{p.arg}" for p in params if p.annotation is None]
        if f.returns is None and f.name != "__init__":
            missing.append(f"{f.name}:return")
    return missing


def _definition(module: str, name: str) -> tuple[str, str]:
    """The source of the module that defines `name` when imported from `module` (following a
    package's re-export one `from . import` level down), and the name defined there."""
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    source = path.read_text()
    tree = ast.parse(source)
    for n in tree.body:
        if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == name:
            return source, name
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and any((a.asname or a.name) == name for a in n.names):
            alias = next(a for a in n.names if (a.asname or a.name) == name)
            base = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(n.level - 1):
                base = base.rpartition(".")[0]
            target = n.module if n.level == 0 else ".".join(filter(None, (base, n.module)))
            return _definition(target, alias.name)
    raise LookupError(f"{name} not found in {module}")


def test_public_api_is_annotated() -> None:
    """Every function and class exported from perfkit/__init__.py has annotated parameters and
    return types (classes: __init__ and public methods)."""
    missing = {}
    for name, module in perfkit._EXPORTS.items():
        source, defined = _definition(module, name)
        if gaps := _unannotated(source, defined):
            missing[name] = gaps
    assert missing == {}


def _type_checking_imports(path: Path) -> dict[str, str]:
    """name -> module of the ``from module import name as name`` lines under
    ``if TYPE_CHECKING:`` in `path` (how a lazy package shows its names to type checkers)."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                for alias in statement.names:
                    assert alias.asname == alias.name, ast.unparse(statement)  # a re-export
                    found[alias.name] = str(statement.module)
    return found


@pytest.mark.parametrize("package", ["perfkit", "perfkit.analysis.regression"])
def test_lazy_names_are_visible_to_type_checkers(package: str) -> None:
    """Every lazily loaded public name is imported for type checkers from the module it loads
    from (else `perfkit.compare` would be Any to mypy and editors), and nothing else is."""
    module = __import__(package, fromlist=["_EXPORTS"])
    expected = {
        name: package + where if where.startswith(".") else where
        for name, where in module._EXPORTS.items()
    }
    path = ROOT / Path(*package.split(".")) / "__init__.py"
    assert _type_checking_imports(path) == expected


def test_annotation_scan_finds_gaps() -> None:
    """Control for the scan above: a planted parameter and return without annotations are named,
    and `self` and an annotated __init__ are not."""
    source = "class C:\n    def __init__(self, a: int) -> None: ...\n    def m(self, b): ...\n"
    assert _unannotated(source, "C") == ["m:b", "m:return"]
    assert _unannotated("def f(x: int, *args, y=1) -> int: ...\n", "f") == ["f:y", "f:args"]
