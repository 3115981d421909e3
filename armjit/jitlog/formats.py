"""The JIT's own message formats, read from its C++ source: text -> formats -> regexes.

CinderX writes every log line through ``JIT_LOG``/``JIT_DLOG``/``JIT_LOGIF`` (and macros defined
on them, such as the inliner's ``LOG_INLINER``) with an fmt format string; a compile that throws
is logged as ``JIT_DLOG("{}", exn.what())``, so the formats of thrown messages (``JIT_THROW``,
``throw std::runtime_error{fmt::format(...)}``) are log lines too. Reading those format strings
from the tree being built, instead of listing the lines seen so far, is what lets a refusal the
logs at hand never showed (``LIR function '{}' has too many instructions ({}, max={})``) be told
apart from a silent failure. Everything here is pure: the caller reads the files.

A table of the formats of released versions ships as data (``jit_formats.json``, made by
``scripts/jit_formats.py``); a tree given with ``--repo`` is read at mine time instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

__all__ = [
    "FormatTable",
    "LogFormat",
    "format_regex",
    "formats_from_sources",
    "is_source_file",
    "matters",
    "shipped_json",
    "shipped_table",
    "table_from_json",
    "table_to_json",
]

# Macros whose format argument is logged (argument index of the format string).
_LOG_SINKS = {"JIT_LOG": 0, "JIT_DLOG": 0, "JIT_LOGIF": 1}
# Macros whose format becomes an exception message (logged by the compile's catch as "{}").
_THROW_SINKS = {"JIT_THROW": 0, "JIT_THROW_IF": 1}
_SOURCE_SUFFIXES = (".cpp", ".h", ".c", ".cc", ".hpp")
_DERIVED = re.compile(r"#define\s+(\w+)\(\.\.\.\)[\s\\]*(\w+)\(")
_CALL = re.compile(r"\b([A-Z][A-Z0-9_]*)\s*\(")
_THROW = re.compile(r"\bthrow\s+[\w:]+\s*[({]\s*(?:fmt::format\s*\(\s*)?")
_LITERAL = re.compile(r'\s*(?:u8|L|u|U)?"((?:[^"\\\n]|\\.)*)"\s*')
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\", "0": "\0", "r": "\r"}
# A JIT_THROW message starts with "cinderx/Jit/x.cpp:12 " (log.cpp's throwImplV).
_THROWN_PREFIX = r"(?:\S+:\d+ )?"


@dataclass(frozen=True)
class LogFormat:
    """One format string of the JIT, where it is written, and how it reaches the log."""

    text: str  # as in the source, e.g. "LIR function '{}' has too many instructions ({}, max={})"
    source: str  # the file, relative to the tree's cinderx/ directory
    sink: str  # "log" (a logging macro) or "thrown" (an exception message the compile logs)

    @property
    def literal(self) -> int:
        """Characters of fixed text on the first line: more is more specific."""
        return len(_PLACEHOLDER.sub("", self.text.split("\n", 1)[0]))

    @property
    def role(self) -> str:
        """start, finish, batch, inline (the inliner's notes, never a caller's failure) or message."""
        first = self.text.split("\n", 1)[0]
        if first == "Compiling {}":
            return "start"
        if first.startswith("Finished compiling {}"):
            return "finish"
        if "functions it calls" in first:
            return "batch"
        if "inlin" in first.lower():
            return "inline"
        return "message"

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return format_regex(self.text, thrown=self.sink == "thrown")


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def format_regex(text: str, *, thrown: bool = False) -> re.Pattern[str]:
    """A regex matching one logged line of format ``text``; each ``{...}`` field is a group.

    Only the first line of a multi-line format is matched (a log line is one line); ``{{`` and
    ``}}`` are literal braces, as in fmt.
    """
    first, _, rest = text.partition("\n")
    parts: list[str] = ["^", _THROWN_PREFIX if thrown else ""]
    pos = 0
    while pos < len(first):
        if first.startswith(("{{", "}}"), pos):
            parts.append(re.escape(first[pos]))
            pos += 2
        elif first[pos] == "{":
            end = first.find("}", pos)
            if end < 0:
                parts.append(re.escape(first[pos:]))
                break
            parts.append("(.*?)")
            pos = end + 1
        else:
            nxt = min((i for i in (first.find("{", pos), first.find("}", pos)) if i >= 0), default=len(first))
            if nxt == pos:  # a lone "}"
                nxt += 1
            parts.append(re.escape(first[pos:nxt]))
            pos = nxt
    parts.append(r"\s*$" if not rest else "")
    return re.compile("".join(parts), re.DOTALL)


def is_source_file(name: str) -> bool:
    return name.endswith(_SOURCE_SUFFIXES)


def _arguments(text: str, start: int, limit: int = 4) -> list[str]:
    """Top-level arguments of the call whose "(" (or "{") is just before ``start``."""
    args: list[str] = []
    depth, pos, begin, n = 0, start, start, len(text)
    while pos < n and len(args) < limit:
        ch = text[pos]
        if ch in {'"', "'"}:
            pos += 1
            while pos < n and text[pos] != ch and text[pos] != "\n":
                pos += 2 if text[pos] == "\\" else 1
        elif text.startswith("//", pos):
            pos = text.find("\n", pos)
            if pos < 0:
                break
        elif text.startswith("/*", pos):
            pos = text.find("*/", pos)
            if pos < 0:
                break
            pos += 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                args.append(text[begin:pos])
                return args
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[begin:pos])
            begin = pos + 1
        pos += 1
    return args


def _string_literal(arg: str) -> str | None:
    """The value of an argument made only of (adjacent) string literals, else None."""
    pieces: list[str] = []
    pos = 0
    arg = re.sub(r"//[^\n]*", "", arg)
    while pos < len(arg):
        m = _LITERAL.match(arg, pos)
        if not m:
            return None if arg[pos:].strip() else "".join(pieces) if pieces else None
        pieces.append(re.sub(r"\\(.)", lambda e: _ESCAPES.get(e[1], e[1]), m[1]))
        pos = m.end()
    return "".join(pieces) if pieces else None


def _relative(path: str) -> str:
    cut = path.rfind("cinderx/")
    return path[cut + len("cinderx/") :] if cut >= 0 else path


def formats_from_sources(files: Iterable[tuple[str, str]]) -> list[LogFormat]:
    """Every logged and thrown format string in ``(path, text)`` C++ sources, in file order.

    Formats with no fixed text (``"{}"``) are left out: they only pass another message on.
    """
    files = list(files)
    sinks = dict(_LOG_SINKS)
    for _path, text in files:  # macros defined on a sink, e.g. LOG_INLINER(...) -> JIT_LOGIF(pred, ...)
        for m in _DERIVED.finditer(text):
            if m[2] in _LOG_SINKS:
                before = _arguments(text, m.end())
                shift = next((i for i, a in enumerate(before) if "__VA_ARGS__" in a), None)
                if shift is not None and m[1] not in sinks:
                    sinks[m[1]] = _LOG_SINKS[m[2]] - shift
    found: dict[tuple[str, str], LogFormat] = {}
    for path, text in files:
        source = _relative(path)
        for m in _CALL.finditer(text):
            name = m[1]
            index = sinks.get(name, _THROW_SINKS.get(name))
            if index is None or index < 0 or text[max(0, m.start() - 8) : m.start()].rstrip().endswith("define"):
                continue
            args = _arguments(text, m.end(), index + 1)
            value = _string_literal(args[index]) if len(args) > index else None
            if value is not None:
                sink = "thrown" if name in _THROW_SINKS else "log"
                found.setdefault((sink, value), LogFormat(value, source, sink))
        for m in _THROW.finditer(text):
            args = _arguments(text, m.end(), 1)
            value = _string_literal(args[0]) if args else None
            if value is not None:
                found.setdefault(("thrown", value), LogFormat(value, source, "thrown"))
    return [f for f in found.values() if f.literal > 0]


@dataclass(frozen=True)
class FormatTable:
    """The formats of one JIT version, and where they came from (a release, or a tree)."""

    origin: str  # e.g. "cinderx 2026.11.2.0 (PyPI sdist)" or "tree /path (cinderx/Jit)"
    formats: tuple[LogFormat, ...]

    @cached_property
    def _index(self) -> tuple[dict[str, list[LogFormat]], list[LogFormat]]:
        """Formats by the first word of their fixed text, most specific first; and the formats
        that start with a field (tried for every message). One dict lookup replaces a scan of
        every format per message."""
        by_word: dict[str, list[LogFormat]] = {}
        open_start: list[LogFormat] = []
        for f in sorted(self.formats, key=lambda f: (-f.literal, f.text)):
            word = _first_word(_PLACEHOLDER.split(f.text.split("\n", 1)[0], 1)[0])
            if word:
                by_word.setdefault(word, []).append(f)
            else:
                open_start.append(f)
        return by_word, open_start

    def match(self, message: str) -> tuple[LogFormat, tuple[str, ...]] | None:
        """The most specific format the message was written with, and its field values."""
        by_word, open_start = self._index
        bare = _THROWN_AT.sub("", message, count=1)
        candidates = by_word.get(_first_word(message), []) + by_word.get(_first_word(bare), []) + open_start
        best: tuple[LogFormat, tuple[str, ...]] | None = None
        for fmt in candidates:
            m = fmt.regex.match(message)
            if m and (best is None or fmt.literal > best[0].literal):
                best = (fmt, m.groups())
        return best


_THROWN_AT = re.compile(r"^\S+:\d+ ")


def _first_word(text: str) -> str:
    """The text up to its first space (a format's fixed start is at least this long)."""
    return text.split(" ", 1)[0] if " " in text else ""


def matters(fmt: LogFormat) -> bool:
    """Whether a format belongs in the shipped table: every logged format (so its lines are
    recognised), and the thrown ones that can name a function (a placeholder to fill)."""
    return fmt.sink == "log" or bool(_PLACEHOLDER.search(fmt.text))


def table_to_json(tables: Sequence[tuple[str, str, Sequence[LogFormat]]]) -> str:
    """The shipped data: for each version (id, description), its formats; one format per line."""
    versions = {vid: desc for vid, desc, _ in tables}
    rows: dict[tuple[str, str, str], list[str]] = {}
    for vid, _desc, formats in tables:
        for f in filter(matters, formats):
            rows.setdefault((f.sink, f.source, f.text), []).append(vid)
    lines = ["{", f'  "versions": {json.dumps(versions)},', '  "formats": [']
    body = [
        json.dumps([sink, source, text, vids], ensure_ascii=False)
        for (sink, source, text), vids in sorted(rows.items())
    ]
    lines.append(",\n".join(f"    {b}" for b in body))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def table_from_json(text: str, version: str | None = None) -> FormatTable:
    """One version's table from the shipped data; all versions together when ``version`` is None
    (logs of any known release or commit are then recognised)."""
    data = json.loads(text)
    versions: dict[str, str] = data["versions"]
    if version is not None and version not in versions:
        raise KeyError(version)
    keep = [version] if version is not None else list(versions)
    formats = tuple(LogFormat(t, src, sink) for sink, src, t, vids in data["formats"] if set(vids) & set(keep))
    return FormatTable(" + ".join(versions[v] for v in keep), formats)


def shipped_json() -> str:
    return resources.files("armjit.jitlog").joinpath("jit_formats.json").read_text(encoding="utf-8")


@cache
def shipped_table(version: str | None = None) -> FormatTable:
    """The table shipped with armjit (package data), read once."""
    return table_from_json(shipped_json(), version)
