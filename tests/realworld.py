"""Real web pages with known expectations, from trafilatura 1.0.0's own test suite.

The trafilatura 1.0.0 source distribution on PyPI ships ~110 pages saved from
the web (`tests/cache/*.html`, mostly German and English) and, in
`tests/realworld_tests.py`, the strings its authors checked the extracted text
for: `assert 'x' in result and 'y' not in result`. veille's developers never
tuned against these pages, which is the point: `load_cases()` turns them into
`Case` records for an end-to-end test of the fetch pipeline.

The test file is parsed with `ast`, never executed. An assertion is kept only
when it can be pinned on one page and on trafilatura's default text output:

- `result = load_mock_page('<url literal>', ...)` makes `result` stand for that
  page until it is reassigned; a call whose URL is not a literal in MOCK_PAGES,
  or any other assignment to the name, makes it stand for nothing;
- the other arguments of the call must evaluate (with the values the test is
  parametrized with) to load_mock_page's defaults, so the XML/TEI output and
  `langcheck` runs are left out; the function body is walked once per
  parametrization, and `if xmloutput is False:` blocks are followed only where
  the condition can be decided statically;
- only conjunctions of `'literal' in result` / `'literal' not in result` count;
  anything else (an `or`, a bare string in an `and` chain, which asserts
  nothing) is ignored; loops and `with` blocks are not entered.

One more difference of options is found in the pages rather than in the calls:
trafilatura 1.0.0 keeps reader comments by default and veille leaves them out
(`include_comments=False`), so a `must_contain` string that sits in a page's
comment section (an element below <body> whose id or class says comment,
Kommentar, respond or disqus) expects something veille does not promise. Such
strings are moved to `Case.in_comments` and not held against veille.

Downloads go to `tests/cache/` (git-ignored) and the parsed cases are cached
there as JSON next to the sdist.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CACHE = Path(__file__).resolve().parent / "cache"
SDIST_NAME = "trafilatura-1.0.0.tar.gz"
SDIST = CACHE / SDIST_NAME
CASES_JSON = CACHE / "trafilatura-1.0.0-cases.json"
REQUIREMENT = "trafilatura==1.0.0"
PARSER_VERSION = 3  # bump when the parsing rules change, to invalidate the JSON cache

# Why the last load_cases() returned [] (for the test's skip message).
last_error: str | None = None


@dataclass
class Case:
    url: str
    filename: str
    html_bytes: bytes = field(repr=False)
    must_contain: list[str] = field(default_factory=list)
    must_not_contain: list[str] = field(default_factory=list)
    in_comments: list[str] = field(default_factory=list)  # expected by trafilatura 1.0.0 only with comments kept


def load_cases() -> list[Case]:
    """Every real page of MOCK_PAGES with the expectations attributed to it; [] if unavailable."""
    global last_error
    last_error = None
    if not SDIST.is_file():
        problem = download_sdist(REQUIREMENT, SDIST)
        if problem:
            last_error = problem
            return []
    try:
        return _cases_from_sdist(SDIST)
    except (tarfile.TarError, OSError, SyntaxError, ValueError, KeyError) as exc:
        last_error = f"{SDIST} is unusable ({type(exc).__name__}: {exc}); delete it to download again"
        return []


def download_sdist(requirement: str, sdist: Path) -> str | None:
    """Fetch a source distribution with pip into `sdist`'s folder (tests/cache/); a short reason on failure."""
    sdist.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    with tempfile.TemporaryDirectory(dir=sdist.parent) as tmp:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", requirement,
                 "-d", tmp, "--quiet", "--timeout", "20", "--retries", "1"],
                capture_output=True, text=True, timeout=180, env=env,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"pip download of {requirement} failed ({type(exc).__name__})"
        got = Path(tmp) / sdist.name
        if done.returncode != 0 or not got.is_file():
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            return f"pip download of {requirement} failed: {lines[-1] if lines else done.returncode}"
        shutil.move(str(got), sdist)
    return None


def _cases_from_sdist(sdist: Path) -> list[Case]:
    stat = sdist.stat()
    stamp = {"parser": PARSER_VERSION, "size": stat.st_size, "mtime": int(stat.st_mtime)}
    cached = _read_json_cache(stamp)
    files = _read_sdist(sdist)  # one sequential pass: seeking back in a .tar.gz re-reads it
    if cached is None:
        source = files["tests/realworld_tests.py"].decode("utf-8")
        mock_pages, expectations = parse_realworld_tests(source)
        cached = []
        for url, name in mock_pages.items():
            html = files.get(f"tests/cache/{name}")
            if html is None or not _is_real_page(url):
                continue
            must, must_not = expectations.get(url, ([], []))
            in_comments = in_reader_comments(html, must)
            cached.append({"url": url, "filename": name,
                           "must_contain": [m for m in must if m not in in_comments],
                           "must_not_contain": must_not,
                           "in_comments": [m for m in must if m in in_comments]})
        _write_json_cache(stamp, cached)
    return [
        Case(url=c["url"], filename=c["filename"], html_bytes=files[f"tests/cache/{c['filename']}"],
             must_contain=list(c["must_contain"]), must_not_contain=list(c["must_not_contain"]),
             in_comments=list(c["in_comments"]))
        for c in cached
    ]


def _read_sdist(sdist: Path) -> dict[str, bytes]:
    """The test pages and the test module, by path inside the project (without the top folder)."""
    files: dict[str, bytes] = {}
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            _, _, inner = member.name.partition("/")
            if member.isfile() and (inner.startswith("tests/cache/") or inner == "tests/realworld_tests.py"):
                files[inner] = tar.extractfile(member).read()
    return files


def _is_real_page(url: str) -> bool:
    # 'http://exotic_tags' is a page trafilatura's authors wrote to test markup, not a saved web page.
    host = urlsplit(url).hostname or ""
    return "." in host


_COMMENT_MARK = re.compile(r"comment|kommentar|respond|disqus", re.I)


def in_reader_comments(html: bytes, strings: list[str]) -> set[str]:
    """The strings whose text sits inside a reader-comment section of the page."""
    if not strings:
        return set()
    import lxml.etree  # only needed when the JSON cache is (re)built
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return set()
    texts = [(el, " ".join(el.text_content().split())) for el in tree.iter() if isinstance(el.tag, str)]
    found = set()
    for string in strings:
        wanted = " ".join(string.split())
        holders = {el for el, text in texts if wanted in text}
        innermost = [h for h in holders if not any(d in holders for d in h.iterdescendants())]
        # Only when every place the text occurs is a comment: a quote in the article counts.
        if innermost and all(_in_comment_section(el) for el in innermost):
            found.add(string)
    return found


def _in_comment_section(element) -> bool:
    for el in [element, *element.iterancestors()]:
        if el.tag in ("body", "html"):
            return False
        if _COMMENT_MARK.search(f"{el.get('id') or ''} {el.get('class') or ''}"):
            return True
    return False


def _read_json_cache(stamp: dict) -> list[dict] | None:
    try:
        data = json.loads(CASES_JSON.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data["cases"] if isinstance(data, dict) and data.get("stamp") == stamp else None


def _write_json_cache(stamp: dict, cases: list[dict]) -> None:
    try:
        CASES_JSON.write_text(json.dumps({"stamp": stamp, "cases": cases}, ensure_ascii=False, indent=1),
                              encoding="utf-8")
    except OSError:
        pass  # a cache, not a requirement


# --------------------------------------------------------------------------
# Reading realworld_tests.py without running it
# --------------------------------------------------------------------------

_UNKNOWN = object()  # a value the static evaluation cannot decide


def parse_realworld_tests(source: str) -> tuple[dict[str, str], dict[str, tuple[list[str], list[str]]]]:
    """(MOCK_PAGES, {url: (must_contain, must_not_contain)}) from the test module's source."""
    module = ast.parse(source)
    mock_pages: dict[str, str] = {}
    loader_defaults: list[tuple[str, object]] | None = None
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MOCK_PAGES" for t in node.targets):
            mock_pages = ast.literal_eval(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name == "load_mock_page":
            loader_defaults = _signature(node)
    if not mock_pages or loader_defaults is None:
        raise ValueError("realworld_tests.py has no MOCK_PAGES or no load_mock_page")
    found: dict[str, tuple[list[str], list[str]]] = {}
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            for env in _parametrizations(node):
                _walk(node.body, env, {}, mock_pages, loader_defaults, found)
    return mock_pages, found


def _signature(func: ast.FunctionDef) -> list[tuple[str, object]]:
    """[(name, default)] of load_mock_page's parameters after the URL."""
    params = func.args.args
    defaults = [ast.literal_eval(d) for d in func.args.defaults]
    padded = [_UNKNOWN] * (len(params) - len(defaults)) + defaults
    return [(p.arg, d) for p, d in zip(params, padded)][1:]


def _parametrizations(func: ast.FunctionDef) -> list[dict[str, object]]:
    """One environment per combination of @pytest.mark.parametrize values."""
    axes: list[list[dict[str, object]]] = []
    for deco in func.decorator_list:
        if not (isinstance(deco, ast.Call) and ast.unparse(deco.func).endswith("mark.parametrize")):
            continue
        try:
            names = ast.literal_eval(deco.args[0])
            values = ast.literal_eval(deco.args[1])
        except (ValueError, IndexError, SyntaxError):
            return []  # cannot tell what the function runs with: attribute nothing
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if len(names) == 1:
            axes.append([{names[0]: v} for v in values])
        else:
            axes.append([dict(zip(names, v)) for v in values])
    envs = []
    for combo in itertools.product(*axes):
        env: dict[str, object] = {}
        for part in combo:
            env.update(part)
        envs.append(env)
    return envs or [{}]


def _walk(body, env, results, mock_pages, loader_defaults, found) -> None:
    """Follow statements in order; `results` maps a variable to its page URL (or None)."""
    for stmt in body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            url = _page_of(stmt.value, env, mock_pages, loader_defaults) if stmt.value is not None else None
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        results[name.id] = url if isinstance(target, ast.Name) else None
        elif isinstance(stmt, ast.Assert):
            _collect(stmt.test, results, found)
        elif isinstance(stmt, ast.If):
            decided = _evaluate(stmt.test, env)
            if decided is _UNKNOWN:
                # Either branch may run: whatever they assign is unknown afterwards.
                for name in _assigned_names(stmt.body + stmt.orelse):
                    results[name] = None
                continue
            _walk(stmt.body if decided else stmt.orelse, env, results, mock_pages, loader_defaults, found)
        else:
            # Loops, with, try, nested defs: not followed; names they assign become unknown.
            for name in _assigned_names([stmt]):
                results[name] = None


def _assigned_names(stmts) -> set[str]:
    names = set()
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _page_of(value: ast.expr, env, mock_pages, loader_defaults) -> str | None:
    """The URL if `value` is load_mock_page('<known url>', <default arguments>), else None."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "load_mock_page"):
        return None
    if not value.args or not isinstance(value.args[0], ast.Constant) or value.args[0].value not in mock_pages:
        return None
    given: dict[str, object] = {}
    for (name, _), arg in zip(loader_defaults, value.args[1:]):
        given[name] = _evaluate(arg, env)
    if len(value.args) - 1 > len(loader_defaults):
        return None
    for keyword in value.keywords:
        if keyword.arg is None:
            return None  # **kwargs: cannot tell
        given[keyword.arg] = _evaluate(keyword.value, env)
    defaults = dict(loader_defaults)
    for name, val in given.items():
        if name not in defaults or val is _UNKNOWN or val != defaults[name] or type(val) is not type(defaults[name]):
            return None
    return value.args[0].value


def _evaluate(node: ast.expr, env: dict[str, object]) -> object:
    """Constants, parametrized names, `is`/`==`/`!=`/`is not`, `not`; _UNKNOWN otherwise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id, _UNKNOWN)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _evaluate(node.operand, env)
        return _UNKNOWN if inner is _UNKNOWN else not inner
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = _evaluate(node.left, env), _evaluate(node.comparators[0], env)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        op = node.ops[0]
        if isinstance(op, ast.Is):
            return left is right
        if isinstance(op, ast.IsNot):
            return left is not right
        if isinstance(op, ast.Eq):
            return left == right
        if isinstance(op, ast.NotEq):
            return left != right
    return _UNKNOWN


def _collect(test: ast.expr, results: dict[str, str | None], found) -> None:
    """Record `'s' in result` / `'s' not in result` terms of a conjunction."""
    terms = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    for term in terms:
        if not (isinstance(term, ast.Compare) and len(term.ops) == 1
                and isinstance(term.ops[0], (ast.In, ast.NotIn))
                and isinstance(term.left, ast.Constant) and isinstance(term.left.value, str)
                and isinstance(term.comparators[0], ast.Name)):
            continue  # an `or`, a bare string, a call...: not a checkable expectation
        url = results.get(term.comparators[0].id)
        if url is None:
            continue
        must, must_not = found.setdefault(url, ([], []))
        bucket = must if isinstance(term.ops[0], ast.In) else must_not
        if term.left.value not in bucket:
            bucket.append(term.left.value)

