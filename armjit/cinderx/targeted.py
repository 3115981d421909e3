"""One targeted test of the target repo (the RED/GREEN loop): run it, tell what happened to it.

The runner is a small script handed to the test's Python with ``-c``, so it works on any host
without installing anything: it uses pytest when that Python has it (``-k`` is a pytest
expression) and unittest otherwise (``-k`` is a substring or a ``fnmatch`` pattern, as in
``python -m unittest -k``). Either way it prints one line per selected test and per collection
error, which ``parse_run`` reads; ``classify`` turns that into one of five outcomes.

``python -m armjit.cinderx.targeted -k NAME [--repo DIR] [--test-file F] [--python PY]`` runs it here,
with pytest (the ``nox -s targeted`` session).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from armjit.errors import ArmjitError

__all__ = [
    "COLLECTION_ERROR",
    "DEFAULT_TEST_FILE",
    "FAILED",
    "NO_MATCH",
    "PASSED",
    "RUNNER_SCRIPT",
    "SKIPPED",
    "Outcome",
    "TargetedRun",
    "cinderx_line",
    "classify",
    "excerpt",
    "main",
    "parse_run",
    "runner_command",
    "shadow_warning",
]

DEFAULT_TEST_FILE = "cinderx/PythonLib/test_cinderx/test_arm_runtime.py"
PASSED, FAILED, NO_MATCH, COLLECTION_ERROR, SKIPPED = "passed", "failed", "no-match", "collection-error", "skipped"

# Host-side, what the runtime gate also reports: which cinderx the tests loaded, against the wheel's RECORD.
_WHICH_CINDERX = (resources.files("armjit.cinderx") / "resources" / "armjit_which_cinderx.py").read_text("utf-8")
# Host-side: plain stdlib plus (optionally) pytest, for whatever Python the host has.
# unittest imports only the named module, as ``python -m unittest test_cinderx.test_x`` does from
# the first directory above the file without ``__init__.py`` (cinderx/PythonLib): discovering the
# package would import every sibling, and some need CPython's ``test`` package, which Debian lacks.
_RUNNER_BODY = r"""
import fnmatch, inspect, json, os, sys, traceback, unittest
path, keyword, runner = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
def out(kind, data):
    print("armjit-" + kind + " " + json.dumps(data), flush=True)
def which_cinderx():
    out("cinderx", cinderx_seen())
if not os.path.isfile(path):
    out("collect-error", {"id": sys.argv[1], "detail": "no such test file"})
    sys.exit(4)
try:
    import pytest
    has_pytest = True
except ImportError:
    has_pytest = False
if runner == "auto":
    runner = "pytest" if has_pytest else "unittest"
if runner == "pytest" and not has_pytest:
    out("collect-error", {"id": sys.argv[1], "detail": "pytest is not installed for " + sys.executable})
    sys.exit(4)
out("runner", {"name": runner})
if runner == "pytest":
    class Recorder:
        def __init__(self):
            self.status, self.detail = {}, {}
        def pytest_collectreport(self, report):
            if report.failed:
                out("collect-error", {"id": report.nodeid or sys.argv[1], "detail": str(report.longreprtext)[-3000:]})
        def pytest_collection_finish(self, session):
            out("selected", [item.nodeid for item in session.items])
        def pytest_runtest_logreport(self, report):
            nid = report.nodeid
            if report.skipped:
                self.status.setdefault(nid, "skip")
                self.detail.setdefault(nid, "xfail" if hasattr(report, "wasxfail") else str(report.longrepr)[-500:])
            elif report.failed:
                self.status[nid] = "fail" if report.when == "call" else "error"
                self.detail[nid] = str(report.longreprtext)[-3000:]
            elif report.when == "call":
                self.status.setdefault(nid, "pass")
        def pytest_sessionfinish(self, session):
            print(flush=True)  # pytest's progress line has no newline yet
            for nid, status in self.status.items():
                out("test", {"id": nid, "status": status, "detail": self.detail.get(nid, "")})
            which_cinderx()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-k", keyword, path], plugins=[Recorder()])
    sys.exit(int(code))
top, parts = os.path.dirname(path), [os.path.splitext(os.path.basename(path))[0]]
while os.path.isfile(os.path.join(top, "__init__.py")):
    top, package = os.path.split(top)
    parts.insert(0, package)
name = ".".join(parts)
os.chdir(top)
sys.path.insert(0, top)
out("module", {"name": name, "top": top})
try:
    import importlib
    module = importlib.import_module(name)
except BaseException:
    out("collect-error", {"id": name, "detail": traceback.format_exc()[-3000:]})
    which_cinderx()
    sys.exit(2)
suite = unittest.TestLoader().loadTestsFromModule(module)
def flatten(s):
    for item in s:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item
pattern = keyword if "*" in keyword else "*" + keyword + "*"
kept, broken = unittest.TestSuite(), []
for test in flatten(suite):
    if type(test).__name__ == "_FailedTest":
        broken.append(test)
    elif fnmatch.fnmatchcase(test.id(), pattern):
        kept.addTest(test)
for test in broken:
    try:
        test.debug()
        detail = "cannot load"
    except BaseException as exc:
        detail = type(exc).__name__ + ": " + str(exc)
    out("collect-error", {"id": test.id(), "detail": detail[-3000:]})
if not broken and not kept.countTestCases():
    # Plain test functions and non-TestCase classes are pytest's: unittest cannot run them.
    plain = []
    for attr, value in vars(module).items():
        if attr.startswith("test") and inspect.isfunction(value):
            plain.append(name + "." + attr)
        elif attr.startswith("Test") and isinstance(value, type) and not issubclass(value, unittest.TestCase):
            plain += [name + "." + attr + "." + m for m in vars(value) if m.startswith("test")]
    wanted = [t for t in plain if fnmatch.fnmatchcase(t, pattern)]
    if wanted:
        why = "pytest is not installed for " + sys.executable if not has_pytest else "run them with --runner pytest"
        shown = ", ".join(t.rsplit(".", 1)[-1] for t in wanted[:3])
        out("collect-error", {"id": name, "detail": "pytest-style test(s) " + shown + ": " + why})
        sys.exit(4)
out("selected", [t.id() for t in kept])
def emit(test, status, detail=""):
    out("test", {"id": test.id(), "status": status, "detail": detail[-3000:]})
class Recorder(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test); emit(test, "pass")
    def addFailure(self, test, err):
        super().addFailure(test, err); emit(test, "fail", self._exc_info_to_string(err, test))
    def addError(self, test, err):
        super().addError(test, err); emit(test, "error", self._exc_info_to_string(err, test))
    def addSkip(self, test, reason):
        super().addSkip(test, reason); emit(test, "skip", reason)
    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err); emit(test, "skip", "expected failure")
    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test); emit(test, "fail", "unexpected success")
if broken:
    which_cinderx()
    sys.exit(2)
if not kept.countTestCases():
    which_cinderx()
    sys.exit(5)
result = unittest.TextTestRunner(resultclass=Recorder, verbosity=2, stream=sys.stdout).run(kept)
which_cinderx()
sys.exit(0 if result.wasSuccessful() else 1)
"""
RUNNER_SCRIPT = _WHICH_CINDERX + _RUNNER_BODY


@dataclass(frozen=True)
class Outcome:
    test_id: str
    status: str  # pass | fail | error | skip
    detail: str = ""


@dataclass(frozen=True)
class TargetedRun:
    """What the runner printed: which runner, the selected tests, their outcomes, collection errors."""

    runner: str
    selected: tuple[str, ...]
    outcomes: tuple[Outcome, ...]
    collection_errors: tuple[Outcome, ...]
    exit_code: int
    cinderx: dict[str, Any] | None = None  # which cinderx the tests saw: path, version, installed, shadowed


def runner_command(python: str, test_file: str, keyword: str, runner: str = "auto") -> str:
    """The shell command that runs ``keyword`` of ``test_file`` with ``python`` (pure)."""
    if runner not in ("auto", "pytest", "unittest"):
        raise ValueError(f"runner {runner!r}")
    argv = [python, "-c", RUNNER_SCRIPT, test_file, keyword, runner]
    return shlex.join(argv)


def parse_run(stdout: str, exit_code: int) -> TargetedRun:
    """Read the runner's ``armjit-*`` lines; anything else in the output is ignored."""
    runner = ""
    selected: tuple[str, ...] = ()
    outcomes: dict[str, Outcome] = {}
    errors: list[Outcome] = []
    cinderx: dict[str, Any] | None = None
    for line in stdout.splitlines():
        kind, _, payload = line.partition(" ")
        if not kind.startswith("armjit-"):
            continue
        try:
            data = json.loads(payload)
        except json.JSONDecodeError:
            continue
        if kind == "armjit-runner" and isinstance(data, dict):
            runner = str(data.get("name", ""))
        elif kind == "armjit-selected" and isinstance(data, list):
            selected = tuple(str(item) for item in data)
        elif kind == "armjit-test" and isinstance(data, dict):
            test_id = str(data.get("id"))
            outcomes[test_id] = Outcome(test_id, str(data.get("status")), str(data.get("detail", "")))
        elif kind == "armjit-collect-error" and isinstance(data, dict):
            errors.append(Outcome(str(data.get("id")), "error", str(data.get("detail", ""))))
        elif kind == "armjit-cinderx" and isinstance(data, dict):
            cinderx = data
    return TargetedRun(runner, selected, tuple(outcomes.values()), tuple(errors), exit_code, cinderx)


def cinderx_line(found: dict[str, Any] | None) -> str:
    """Which cinderx a test run saw, in one line ("" when the runner did not say)."""
    if not found:
        return ""
    where = found.get("path") or "not importable"
    version = found.get("version") or "no installed distribution"
    line = f"cinderx {version} {'imported' if found.get('imported') else 'importable'} from {where}"
    return line + (" (shadows the installed wheel)" if found.get("shadowed") else "")


def shadow_warning(found: dict[str, Any] | None) -> str:
    """The warning when the tests loaded cinderx files that the installed wheel did not install
    ("" otherwise): which ones, from where, and the wheel's own."""
    if not found or not found.get("shadowed"):
        return ""
    extension = found.get("extension") or {}
    files = {"cinderx": (found.get("path"), found.get("installed"))}
    files["_cinderx"] = (extension.get("path"), extension.get("installed"))
    names = found.get("not_from_wheel") or ["cinderx"]  # a record from before the extension was judged
    version = f" (cinderx {found['version']})" if found.get("version") else ""
    said = [f"{name} from {files[name][0]}, not the installed wheel's {files[name][1] or '(none)'}" for name in names]
    said[0] += version
    said += [f"{name} came from the wheel" for name in files if name not in names and files[name][0]]
    return "warning: the tests imported " + "; ".join(said)


def classify(run: TargetedRun) -> str:
    """One word for the run: collection-error, no-match, failed, skipped or passed.

    A collection error wins (the selection cannot be trusted); a failing or erroring test makes
    the run ``failed``; a run is ``passed`` only when every selected test passed.
    """
    if run.collection_errors or not run.runner:
        return COLLECTION_ERROR
    if not run.selected and not run.outcomes:
        return NO_MATCH
    statuses = {o.status for o in run.outcomes}
    # A selected test without an outcome and a non-zero exit: the interpreter died in it (SIGSEGV).
    missing = set(run.selected) - {o.test_id for o in run.outcomes}
    if statuses & {"fail", "error"} or (missing and run.exit_code != 0):
        return FAILED
    if statuses == {"pass"} and not missing:
        return PASSED
    return SKIPPED


def excerpt(text: str, width: int = 160) -> str:
    """The line of a traceback that says what went wrong (pytest's ``E`` lines, else the last line)."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    marked = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    chosen = marked[0] if marked else (lines[-1].strip() if lines else "")
    return chosen if len(chosen) <= width else chosen[: width - 3] + "..."


def _default_repo() -> Path:
    """The target repo from the settings sources (pyproject, ARMJIT_REPO), else the current directory."""
    from armjit.resolve import resolve_settings

    repo = resolve_settings()[0].repo
    return Path(repo).expanduser() if repo else Path.cwd()


def main(argv: list[str] | None = None) -> int:
    from armjit.render import table
    from armjit.seams.hosts import local_command

    parser = argparse.ArgumentParser(prog="python -m armjit.cinderx.targeted", description=__doc__.split("\n")[0])
    parser.add_argument("-k", dest="keyword", required=True, help="pytest -k expression selecting the test(s)")
    parser.add_argument("--repo", type=Path, default=None, help="target checkout (default: settings' repo, else .)")
    parser.add_argument("--test-file", default=DEFAULT_TEST_FILE, help="test file, relative to the repo")
    parser.add_argument("--python", default=sys.executable, help="Python with the build and pytest installed")
    args = parser.parse_args(argv)
    try:
        repo = (args.repo or _default_repo()).expanduser()
    except ArmjitError as exc:  # a bad setting in pyproject or ARMJIT_*: one line, as the tasks say it
        print(f"armjit: {exc}", file=sys.stderr)
        return 2
    test_file = repo / args.test_file
    if not test_file.is_file():
        print(f"armjit: no test file {test_file}", file=sys.stderr)
        return 2
    result = local_command([args.python, "-c", RUNNER_SCRIPT, str(test_file), args.keyword, "pytest"], cwd=repo)
    passthrough = [ln for ln in result.stdout.splitlines() if not ln.startswith("armjit-")]
    print("\n".join(passthrough))
    if result.stderr.strip():
        print(result.stderr.rstrip(), file=sys.stderr)
    run = parse_run(result.stdout, result.exit_code)
    rows = [(o.test_id, o.status, excerpt(o.detail) if o.status != "pass" else "") for o in run.outcomes]
    rows += [(o.test_id, "collection error", excerpt(o.detail)) for o in run.collection_errors]
    if rows:
        print(table(rows, ["test", "status", "detail"]))
    for line in (cinderx_line(run.cinderx), shadow_warning(run.cinderx)):
        if line:
            print(line)
    print(f"{classify(run)} (-k {args.keyword}, {run.runner or 'no runner'})")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
