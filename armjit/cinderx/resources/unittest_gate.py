"""Run a unittest file, skipping tests whose id contains a token; one JSON line per test.

Usage: python unittest_gate.py TEST_FILE [SKIP_TOKEN,...]
Lines: ``armjit-test {"id": ..., "status": "pass|fail|error|skip", "detail": ...}``, and
``armjit-cinderx {...}``: which cinderx the tests saw (``armjit_which_cinderx.py``, shipped beside
it). Exit 1 if any test failed or errored, 3 if nothing was collected, 4 if the file could not be loaded.

Only the file's module is imported, by its dotted name from the first directory above it without
``__init__.py`` (``test_cinderx.test_oss_quick`` from cinderx/PythonLib), as ``python -m unittest``
does there: discovering the package would import its siblings too, and some of CinderX's need
CPython's ``test`` package, which Debian's python3.14 does not ship.
"""

import importlib
import json
import os
import sys
import traceback
import unittest

# Shipped beside this script (its directory is sys.path[0]).
from armjit_which_cinderx import cinderx_seen


def emit(test_id, status, detail=""):
    record = {"id": test_id, "status": status, "detail": detail[-2000:]}
    print("armjit-test " + json.dumps(record), flush=True)


class Recorder(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test)
        emit(test.id(), "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        emit(test.id(), "fail", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        emit(getattr(test, "id", lambda: str(test))(), "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        emit(test.id(), "skip", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        emit(test.id(), "pass", "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        emit(test.id(), "fail", "unexpected success")


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


def which_cinderx():
    """Which cinderx the tests imported (or would import), against the installed wheel's RECORD."""
    print("armjit-cinderx " + json.dumps(cinderx_seen()), flush=True)


def load(path):
    """The tests of ``path``'s module, imported by its dotted name."""
    top, parts = os.path.dirname(path), [os.path.splitext(os.path.basename(path))[0]]
    while os.path.isfile(os.path.join(top, "__init__.py")):
        top, package = os.path.split(top)
        parts.insert(0, package)
    os.chdir(top)
    sys.path.insert(0, top)
    name = ".".join(parts)
    print(f"armjit-gate-module: {name} from {top}")
    return unittest.TestLoader().loadTestsFromModule(importlib.import_module(name))


def main():
    path = os.path.abspath(sys.argv[1])
    tokens = [t for t in (sys.argv[2] if len(sys.argv) > 2 else "").split(",") if t]
    if not os.path.isfile(path):
        print(f"armjit-gate-error: no test file {sys.argv[1]}")
        return 4
    name = os.path.basename(path)
    try:
        suite = load(path)
    except BaseException as exc:
        print(traceback.format_exc()[-3000:])
        print(f"armjit-gate-error: cannot load {name}: {type(exc).__name__}: {exc}")
        which_cinderx()
        return 4
    kept = unittest.TestSuite()
    print(f"arm_runtime_skip_tokens={','.join(tokens)}")
    skipped = 0
    for test in flatten(suite):
        if any(token in test.id() for token in tokens):
            skipped += 1
            print(f"skipped: {test.id()}")
            emit(test.id(), "skip", "skip token")
        else:
            kept.addTest(test)
    print(f"arm_runtime_skipped_count={skipped}")
    if kept.countTestCases() == 0 and skipped == 0:
        print("armjit-gate-error: no tests collected")
        which_cinderx()
        return 3
    runner = unittest.TextTestRunner(resultclass=Recorder, verbosity=2, stream=sys.stdout)
    result = runner.run(kept)
    which_cinderx()
    return 0 if result.wasSuccessful() else 1


sys.exit(main())
