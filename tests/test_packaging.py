"""Every module veille imports is declared in pyproject.toml, so a plain `pip install .` works.

(`.ci/run` also installs the package into a fresh venv with Python's bundled pip and runs it.)
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from conftest import ROOT

SOURCE = ROOT / "src" / "veille"


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"veille"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normalise(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]) for requirement in project["dependencies"]}


def test_every_imported_package_is_a_declared_dependency():
    distributions = packages_distributions()
    declared = _declared()
    undeclared = {
        module: distributions.get(module, ["(not installed)"])
        for module in _imported_top_level_modules()
        if not declared & {_normalise(d) for d in distributions.get(module, [])}
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_lxml_html_clean_is_declared_for_justext():
    # lxml 5.2 split lxml.html.clean out; justext, under trafilatura, still imports it, and
    # pip does not always bring it in: without it `veille --version` fails at start.
    assert "lxml-html-clean" in _declared()
