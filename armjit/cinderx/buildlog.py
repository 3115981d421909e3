"""Reading a CinderX build log: the first line that says why the build failed (pure).

A failed source build prints hundreds of lines after its real cause: CMake keeps configuring
after a download failed, ninja finishes the jobs already running after a compile error, and
setup.py ends with a Python traceback. The last line (``Build step for asmjit failed``,
``error: command '/usr/bin/cmake' failed``) is what the build died of, not why.

``first_error`` looks for the causes people meet on a build host, in log order, and returns the
first one; only when none is there does it fall back to generic error lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["CAUSES", "first_error"]

# (what it is, pattern): a line matching one of these names the cause of a failed build.
CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # gcc/clang: "path/file.cpp:123:45: error: ..." (also "fatal error:"), and the linker's errors
    ("compiler", re.compile(r"^\S+?:\d+(?::\d+)?: (?:fatal )?error: .+")),
    ("linker", re.compile(r"(?:undefined reference to|ld(?:\.\w+)?: cannot find) .+")),
    # CMake's file(DOWNLOAD) and FetchContent's git clone without network
    ("download", re.compile(r"error: downloading '[^']+' failed")),
    ("download", re.compile(r"fatal: unable to access '[^']+': .+")),
    ("download", re.compile(r"Failed to clone repository: '[^']+'")),
    ("compiler", re.compile(r"Cannot find suitable C/C\+\+ compiler.*")),
    ("compiler", re.compile(r"No CMAKE_(?:C|CXX)_COMPILER could be found.*")),
    ("disk", re.compile(r".*No space left on device.*")),
    ("python", re.compile(r"fatal error: Python\.h: No such file or directory")),
    ("tool", re.compile(r"Could not find (?:a package configuration file|CCACHE_PROGRAM|CMAKE_MAKE_PROGRAM).*")),
    ("tool", re.compile(r"CMake \d+(?:\.\d+)* or higher is required\..*")),
    ("tool", re.compile(r"(?:cmake|ninja|ccache|gcc|g\+\+): (?:command )?not found")),
    ("python", re.compile(r"No module named '?[\w.]+'?.*")),
)
# Used only when no cause above is in the log: the first line that looks like an error.
_GENERIC = (
    re.compile(r"^CMake Error.*"),
    re.compile(r"^\s*(?:ERROR|error|Error)(?: \w+)?: .+"),
    re.compile(r"^\w+Error: .+"),
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX = 300


def first_error(lines: str | Iterable[str]) -> str | None:
    """The first line of a build log that names a cause of failure, stripped and at most 300
    characters; None when the log holds no error line at all."""
    text = lines.splitlines() if isinstance(lines, str) else list(lines)
    cleaned = [_ANSI.sub("", line).strip() for line in text]
    # A traceback quotes the source line that raised ('raise RuntimeError("Cannot find ...")'):
    # the cause is the exception line below it.
    cleaned = ["" if i and cleaned[i - 1].startswith('File "') else line for i, line in enumerate(cleaned)]
    for line in cleaned:
        for _, pattern in CAUSES:
            found = pattern.search(line)
            if found:
                return _cut(_whole(line, found))
    for line in cleaned:
        for pattern in _GENERIC:
            if pattern.match(line):
                return _cut(line)
    return None


def _whole(line: str, found: re.Match[str]) -> str:
    # A compiler error or a download failure is clearest as the whole line; a cause inside a
    # longer line (a Python exception message) as the part from the cause on.
    return line if found.start() < 20 else line[found.start() :]


def _cut(line: str) -> str:
    return line if len(line) <= _MAX else line[: _MAX - 3] + "..."
