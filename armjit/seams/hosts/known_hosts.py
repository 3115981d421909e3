"""known_hosts files read the way OpenSSH reads them, and first-use trust as one appended line.

paramiko's own reader fails on files OpenSSH reads happily: a non-UTF-8 line raises
UnicodeDecodeError and an ``@cert-authority`` line raises InvalidHostKey, so one unusual line in
``~/.ssh/known_hosts`` stopped every SSH task. Its writer rewrites the whole file, dropping
comments and splitting ``a,b`` host lists. Here each line stands alone:

- plain, comma-separated, wildcard (``*``, ``?``) and negated (``!``) host patterns, and hashed
  ``|1|salt|hash`` names are matched as OpenSSH matches them;
- ``@revoked`` keys are refused; ``@cert-authority`` lines are skipped with a warning (armjit does
  not check host certificates, so such a host is trusted by its plain key or on first use);
- a line that is not UTF-8, malformed, or of a key type paramiko cannot use is skipped with a
  warning naming the file and the line.

Parsing is pure (bytes in, entries and warnings out); :func:`append_key` is the only writer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armjit.errors import UsageError

__all__ = ["Entry", "Lookup", "append_key", "host_matches", "lookup", "parse_known_hosts", "read_known_hosts"]

_MARKERS = ("@cert-authority", "@revoked")


@dataclass(frozen=True)
class Entry:
    """One usable key line: its host patterns, key type and base64 key, and where it was."""

    patterns: tuple[str, ...]
    keytype: str
    blob: str
    revoked: bool
    where: str  # file:line

    def pkey(self) -> Any:
        import paramiko

        return paramiko.PKey.from_type_string(self.keytype, base64.b64decode(self.blob))


@dataclass(frozen=True)
class Lookup:
    """What the files say about one host name: its trusted keys, its revoked keys, and warnings."""

    known: tuple[Entry, ...] = ()
    revoked: tuple[Entry, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def revoked_entry(self, keytype: str, blob: str) -> Entry | None:
        return next((e for e in self.revoked if e.keytype == keytype and e.blob == blob), None)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    # OpenSSH's match_pattern: '*' and '?' are the only wildcards ('[' is literal: "[host]:port").
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _hashed_matches(hashed: str, name: str) -> bool:
    """``|1|base64(salt)|base64(HMAC-SHA1(salt, name))``, OpenSSH's HashKnownHosts format."""
    parts = hashed.split("|")
    if len(parts) != 4 or parts[1] != "1":
        return False
    try:
        salt, digest = base64.b64decode(parts[2], validate=True), base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)


def host_matches(patterns: Iterable[str], name: str) -> bool:
    """OpenSSH's match_hostname: a negated pattern that matches wins, else any positive match."""
    lowered = name.lower()
    positive = False
    for pattern in patterns:
        if pattern.startswith("|"):
            positive = positive or _hashed_matches(pattern, name)
            continue
        negated = pattern.startswith("!")
        text = pattern[1:] if negated else pattern
        if _pattern_regex(text.lower()).fullmatch(lowered):
            if negated:
                return False
            positive = True
    return positive


def _known_key_type(keytype: str, blob: str) -> str | None:
    """None when paramiko can use the key, else why not."""
    import paramiko
    from paramiko.pkey import UnknownKeyType

    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return "its key is not base64"
    try:
        paramiko.PKey.from_type_string(keytype, raw)
    except UnknownKeyType:
        return f"key type {keytype} is not supported"
    except Exception as exc:  # paramiko raises several kinds for a blob that does not decode
        return f"its {keytype} key does not decode ({type(exc).__name__})"
    return None


def parse_known_hosts(data: bytes, source: str) -> tuple[list[Entry], list[str]]:
    """Usable entries and warnings (``source:line: why, skipped``) of one file's bytes. Pure."""
    entries: list[Entry] = []
    warnings: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{source}:{number}"
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            warnings.append(f"{where}: not UTF-8, line skipped")
            continue
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        marker = ""
        if fields[0].startswith("@"):
            marker = fields.pop(0)
            if marker not in _MARKERS:
                warnings.append(f"{where}: unknown marker {marker}, line skipped")
                continue
            if marker == "@cert-authority":
                warnings.append(f"{where}: @cert-authority: armjit does not check host certificates, line skipped")
                continue
        if len(fields) < 3:
            warnings.append(f"{where}: expected hosts, key type and key, line skipped")
            continue
        hosts, keytype, blob = fields[0], fields[1], fields[2]
        problem = _known_key_type(keytype, blob)
        if problem:
            warnings.append(f"{where}: {problem}, line skipped")
            continue
        patterns = (hosts,) if hosts.startswith("|") else tuple(p for p in hosts.split(",") if p)
        entries.append(Entry(patterns, keytype, blob, marker == "@revoked", where))
    return entries, warnings


def read_known_hosts(path: Path) -> tuple[list[Entry], list[str]]:
    """A file's entries and warnings; a missing file holds none, an unreadable one is a UsageError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        raise UsageError(f"cannot read known_hosts {path}: {exc.strerror or exc}") from None
    return parse_known_hosts(data, str(path))


def lookup(files: Iterable[Path], name: str) -> Lookup:
    """The keys ``files`` hold for ``name`` (``host`` or ``[host]:port``), in file order."""
    known: list[Entry] = []
    revoked: list[Entry] = []
    warnings: list[str] = []
    for path in files:
        entries, found_warnings = read_known_hosts(path)
        warnings += found_warnings
        for entry in entries:
            if host_matches(entry.patterns, name):
                (revoked if entry.revoked else known).append(entry)
    return Lookup(tuple(known), tuple(revoked), tuple(warnings))


def append_key(path: Path, name: str, keytype: str, blob: str) -> None:
    """Add one ``name keytype key`` line at the end of ``path``; the bytes before it never change.

    O_APPEND makes the write land at the end even when another process appended meanwhile; a
    file whose last line has no newline gets one first, so the new line stays a line of its own.
    """
    line = f"{name} {keytype} {blob}\n".encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise UsageError(
            f"cannot save the host key of {name} to {path}: {exc.strerror or exc}; choose a writable --known-hosts"
        ) from None
