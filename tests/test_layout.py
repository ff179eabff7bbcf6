"""The house rules of the layout (issue 15): each room speaks to the rooms below it, and only its own
engine. A newcomer reads the diagram from the folder list; this test keeps it true.

    text -> models, errors -> stages, config -> net, storage, search -> pipeline -> outputs -> service
    -> app -> dev
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "veille"
MODULES = sorted(PACKAGE.rglob("*.py"))

# What each room may import from veille (besides itself). Stages are pure: text, models, errors only.
ALLOWED = {
    "text": {"errors"},
    "models": {"text"},
    "errors": set(),
    "stages": {"text", "models", "errors"},
    "config": {"text", "models", "errors"},
    "net": {"text", "models", "errors"},
    "storage": {"text", "models", "errors"},
    "search": {"text", "models", "errors", "storage"},
    "pipeline": {"text", "models", "errors", "stages", "config", "net", "storage", "search"},
    "outputs": {"text", "models", "errors", "stages", "config", "net", "storage", "search", "app.queries"},
    "service": {"text", "models", "errors", "stages", "config", "net", "storage", "search", "pipeline",
                "outputs", "app.queries"},
    "app": {"text", "models", "errors", "stages", "config", "net", "storage", "search", "pipeline", "outputs",
            "service"},
    "dev": {"text", "models", "errors", "stages", "config", "net", "storage", "search", "pipeline", "outputs",
            "service", "app"},
    "__init__": {"config", "errors", "storage"},
    "__main__": {"app"},
}
ENGINES = {  # a third-party engine, and the only room that may import it
    "sqlite3": "storage",
    "whoosh": "search",
    "httpx": "net",
    "httpcore": "net",
    "smtplib": "net",
}
SQL = re.compile(r"\b(SELECT\s[^;]*?\sFROM\s+\w+|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+"
                 r"(TABLE|INDEX|TRIGGER)|PRAGMA\s)", re.S)


def room(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py")


def imported(path: Path) -> list[tuple[int, str]]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-node.level]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.append((node.lineno, base))
            if base == "veille":  # from veille import x: x may be a room
                names += [(node.lineno, f"veille.{alias.name}") for alias in node.names]
    return names


def veille_rooms(path: Path) -> list[tuple[int, str]]:
    found = []
    for line, name in imported(path):
        parts = name.split(".")
        if parts[0] == "veille" and len(parts) > 1 and (
                (PACKAGE / parts[1]).exists() or (PACKAGE / f"{parts[1]}.py").exists()):
            # app/queries.py is the library's queries (find_ids, resolve_saved): lower than the CLI
            found.append((line, "app.queries" if parts[1:3] == ["app", "queries"] else parts[1]))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_diagram(path):
    here = room(path)
    wrong = [f"line {line}: {here} imports {there}" for line, there in veille_rooms(path)
             if there.split(".")[0] != here and there not in ALLOWED[here]]
    assert not wrong, wrong


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("stages/*.py")), ids=lambda p: p.name)
def test_no_stage_imports_another_stage(path):
    others = [name for _, name in imported(path) if name.startswith("veille.stages.")
              and name != f"veille.stages.{path.stem}"]
    assert not others, others


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_engine_is_spoken_in_its_own_room_only(path):
    here = room(path)
    wrong = []
    for line, name in imported(path):
        top = name.split(".")[0]
        if top in ENGINES and ENGINES[top] != here:
            wrong.append(f"line {line}: {name} outside {ENGINES[top]}/")
        if name.startswith("veille.search.") and name.split(".")[2] == "whoosh" and here != "search":
            wrong.append(f"line {line}: {name} (reach search through veille.search)")
        if name.startswith("veille.storage.sqlite") and here not in ("storage",):
            wrong.append(f"line {line}: {name} (reach the archive through veille.storage)")
    assert not wrong, wrong


@pytest.mark.parametrize("path", [p for p in MODULES if room(p) != "storage"],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_sql_outside_storage(path):
    strings = [(node.lineno, node.value) for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    wrong = [f"line {line}: {value[:60]!r}" for line, value in strings if SQL.search(value)]
    assert not wrong, wrong


def test_every_module_is_under_600_lines_and_every_function_under_60():
    long_modules, long_functions = [], []
    for path in MODULES:
        text = path.read_text()
        if len(text.splitlines()) >= 600:
            long_modules.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length >= 60:
                    long_functions.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {length}")
    assert not long_modules and not long_functions, long_modules + long_functions


def test_every_exception_is_defined_in_errors():
    outside = []
    for path in MODULES:
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", getattr(base, "attr", "")).endswith(("Error", "Exception"))
                    for base in node.bases):
                outside.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not outside, outside
