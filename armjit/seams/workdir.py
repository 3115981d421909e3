"""Host-side half of the path guard: armjit deletes only inside directories it owns, and there
only what it wrote.

A work dir is armjit's when its owner file (``.armjit-workdir``, written when armjit first creates
or adopts it) names the directory's resolved path and a random id that armjit also keeps in its
own state on this machine, per host (``workdirs.json`` in ``ARMJIT_STATE_DIR``, default
``~/.config/armjit``). A marker whose path or id does not match (copied from another dir, made by
another machine, or a deploy marker or manifest dropped into a data dir) is foreign: the dir is
not armjit's. The owner file is separate from the deploy marker on purpose: the deploy marker is
removed at the start of every sync (so a failed sync claims nothing), and a work dir must not turn
into a stranger's directory because one sync failed half-way.

``--adopt-workdir`` deletes nothing: it moves everything in the directory into a sibling
``<dir>.armjit-adopted-<time>/``, says where and counts files, dirs (empty ones included) and bytes,
then claims the emptied directory.

A venv is recreated (``rm -rf``) only when it is absent, empty or has a ``pyvenv.cfg``.
The checks are shell fragments so they run in the same round trip as the command they guard.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from armjit.errors import ArmjitError, UsageError
from armjit.seams.hosts import Host
from armjit.seams.safepaths import Account, check_host_dir, expand_user, judge_resolved

__all__ = [
    "OWNER_NAME",
    "REFUSED",
    "Adopted",
    "Refusal",
    "adopt",
    "claim_shell",
    "create_shell",
    "is_owned",
    "known_id",
    "owner_id",
    "parse_adopted",
    "parse_refusal",
    "preflight",
    "raise_if_refused",
    "resolve_guarded",
    "state_file",
    "venv_removable_shell",
]

OWNER_NAME = ".armjit-workdir"
ADOPTED = ".armjit-adopted-"
REFUSED = 65  # exit status of a guard fragment that refused a directory
_SHOWN = 5
_OWNER_TEXT = (
    "armjit work dir: a deploy deletes here only files an earlier deploy wrote that the source no longer has\n"
)


@dataclass(frozen=True)
class Refusal:
    """What a guard found in a directory it refused: the number of entries and the first names."""

    path: str
    count: int
    names: tuple[str, ...]
    kind: str  # "workdir" or "venv"

    def message(self, host: str) -> str:
        shown = ", ".join(self.names[:_SHOWN]) + (", ..." if self.count > _SHOWN else "")
        where = f"{host}:{self.path}"
        if self.count < 0:
            return f"{where} is not a directory: point the setting at a directory armjit may own"
        if self.kind == "venv":
            return (
                f"{where} holds {self.count} entries ({shown}) but is no venv (no pyvenv.cfg), and armjit "
                "recreates a broken venv with rm -rf: give --driver-venv a new or empty directory"
            )
        return (
            f"{where} holds {self.count} entries armjit did not put there ({shown}), or its owner file does not "
            "name this directory and the id armjit keeps for it: give --remote-workdir a new or empty directory, "
            "or pass --adopt-workdir "
            "once to take this one over (it moves what is there into a sibling <dir>.armjit-adopted-<time>/, "
            "deleting nothing)"
        )


def state_file() -> Path:
    """armjit's own record of the work dirs it owns: {host name: {resolved path: id}}."""
    return Path(os.environ.get("ARMJIT_STATE_DIR") or "~/.config/armjit").expanduser() / "workdirs.json"


_STATE_LOCK = threading.Lock()


def _load_state(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.stat().st_size < (8 << 20) else {}
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(h): {str(k): str(v) for k, v in d.items()} for h, d in data.items() if isinstance(d, dict)}


def known_id(host: Host, dest: str) -> str | None:
    """The id armjit wrote into ``dest``'s owner file on ``host``, None when it never claimed it."""
    with _STATE_LOCK:
        return _load_state(state_file()).get(host.name, {}).get(dest)


def owner_id(host: Host, dest: str) -> str:
    """The id for ``dest`` on ``host``: the known one, else a new random one, recorded before any
    claim uses it (an id recorded for a directory that was never claimed proves nothing)."""
    from filelock import FileLock

    path = state_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArmjitError(f"cannot make armjit's state dir {path.parent}: {exc.strerror or exc}") from None
    # Two armjit processes recording ids at once must not lose one: a lost id makes a dir foreign.
    with _STATE_LOCK, FileLock(str(path.with_name(f".{path.name}.lock"))):
        state = _load_state(path)
        found = state.get(host.name, {}).get(dest)
        if found:
            return found
        ident = secrets.token_hex(16)
        state.setdefault(host.name, {})[dest] = ident
        try:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            raise ArmjitError(f"cannot record the work dir id in {path}: {exc.strerror or exc}") from None
        return ident


def _owner_text(dest: str, ident: str) -> str:
    return f"{_OWNER_TEXT}id {ident}\npath {dest.rstrip('/') or '/'}\n"


def _owned_test(d: str, dest: str, ident: str | None) -> str:
    """True in the shell when ``d`` carries an owner file naming ``dest`` and ``ident``."""
    if not ident:
        return "false"
    owner = f"{d}/{OWNER_NAME}"
    path_line = shlex.quote(f"path {dest.rstrip('/') or '/'}")
    return f"{{ [ -f {owner} ] && grep -qxF {shlex.quote(f'id {ident}')} {owner} && grep -qxF {path_line} {owner}; }}"


def _refuse_unless(d: str, test: str, kind: str) -> str:
    """Exit REFUSED, printing a header and the first names, unless ``d`` is absent, empty or passes ``test``."""
    header = shlex.quote(f"armjit-refused {kind}")
    return (
        f"if [ -e {d} ] || [ -L {d} ]; then "
        f"if [ ! -d {d} ]; then echo {header} -1 {d}; exit {REFUSED}; fi; "
        f"if {test}; then :; else "
        f"names=$(ls -A {d}) || exit {REFUSED + 1}; "
        f'if [ -n "$names" ]; then echo {header} "$(printf \'%s\\n\' "$names" | wc -l)" {d}; '
        f"printf '%s\\n' \"$names\" | head -n {_SHOWN}; exit {REFUSED}; fi; fi; fi"
    )


def claim_shell(dest: str, ident: str | None, *, create: bool = True) -> str:
    """Refuse a non-empty ``dest`` armjit does not own (its owner file must name ``dest`` and
    ``ident``); with ``create``, make it and mark it owned with ``ident``."""
    d = shlex.quote(dest)
    check = _refuse_unless(d, _owned_test(d, dest, ident), "workdir")
    if not create or not ident:
        return check
    owner = shlex.quote(f"{dest.rstrip('/')}/{OWNER_NAME}")
    text = shlex.quote(_owner_text(dest, ident))
    return f"{check}; mkdir -p {d} && {{ {_owned_test(d, dest, ident)} || printf %s {text} > {owner}; }}"


def create_shell(dest: str, ident: str) -> str:
    """Make ``dest``; mark it armjit's when it was new or empty. A directory with content is
    left unmarked: only a deploy's check or --adopt-workdir may claim that, and nothing but
    armjit's own fixed-name subdirectories (venvs, per-run wheel dirs) is removed there."""
    d = shlex.quote(dest)
    owner = shlex.quote(f"{dest.rstrip('/')}/{OWNER_NAME}")
    text = shlex.quote(_owner_text(dest, ident))
    return f'mkdir -p {d} && {{ [ -n "$(ls -A {d})" ] || printf %s {text} > {owner}; }}'


def venv_removable_shell(venv: str) -> str:
    """Exit REFUSED unless ``venv`` may be removed and created again."""
    d = shlex.quote(venv)
    return _refuse_unless(d, f"[ -f {d}/pyvenv.cfg ]", "venv")


def parse_refusal(path: str, stdout: str) -> Refusal | None:
    """The refusal a guard fragment printed (``armjit-refused KIND COUNT PATH`` and the first
    names), None if it printed none. ``path`` stands in when the line names none."""
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("armjit-refused "):
            fields = line.split(" ", 3)
            try:
                count = int(fields[2])
            except (IndexError, ValueError):
                continue
            where = fields[3] if len(fields) > 3 and fields[3] else path
            return Refusal(where, count, tuple(lines[index + 1 : index + 1 + _SHOWN]), fields[1])
    return None


def raise_if_refused(host: Host, path: str, exit_code: int, stdout: str) -> None:
    if exit_code != REFUSED:
        return
    refusal = parse_refusal(path, stdout)
    if refusal is None:
        raise ArmjitError(f"{host.name}:{path}: the path guard refused it, and said nothing more")
    raise UsageError(refusal.message(host.name))


def preflight(host: Host, *, workdirs: Sequence[str], venvs: Sequence[str], adopt: bool) -> None:
    """Before a run writes anything: every work dir is new, empty or armjit's (or ``adopt`` is
    given), and every venv armjit may recreate is new, empty or a venv. Reads only."""
    checks = [venv_removable_shell(d) for d in venvs]
    if not adopt:
        checks = [claim_shell(d, known_id(host, d), create=False) for d in workdirs] + checks
    if not checks:
        return
    # One round trip for all of them; the first refusal ends the script and names its path.
    result = host.run("; ".join(checks), timeout=60)
    paths = ", ".join([*workdirs, *venvs])
    raise_if_refused(host, paths, result.exit_code, result.stdout)
    if not result.ok:
        raise ArmjitError(f"cannot inspect {host.name}:{paths}: {result.tail(1) or f'exit {result.exit_code}'}")


# Files (anything not a directory), directories (empty ones too) and the bytes of the files.
_COUNT_AWK = '{ if ($1 == "d") d++; else { f++; b += $2 } } END { printf "armjit-adopted %d %d %.0f\\n", f, d, b }'


@dataclass(frozen=True)
class Adopted:
    """What --adopt-workdir moved out of a directory armjit did not own."""

    dest: str
    aside: str
    files: int
    dirs: int
    size: int
    names: tuple[str, ...]

    def lines(self, host: str) -> list[str]:
        if not self.names:
            return [f"adopting {host}:{self.dest}: it was empty, nothing moved"]
        shown = ", ".join(self.names[:_SHOWN]) + (", ..." if len(self.names) > _SHOWN else "")
        return [
            f"adopting {host}:{self.dest}: moved {self.files} files, {self.dirs} dirs and {self.size} bytes "
            f"({shown}) to {self.aside}; nothing was deleted"
        ]


def parse_adopted(dest: str, aside: str, stdout: str) -> Adopted:
    """The counts the adopt script printed: ``armjit-adopted FILES DIRS BYTES`` then one name per line."""
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("armjit-adopted "):
            files, dirs, size = (int(v) for v in line.split()[1:4])
            return Adopted(dest, aside, files, dirs, size, tuple(sorted(n for n in lines[index + 1 :] if n)))
    raise ValueError("the adopt script printed no counts")


def adopt(host: Host, dest: str, *, now: dt.datetime | None = None) -> Adopted | None:
    """--adopt-workdir: claim ``dest`` (resolved, guarded) for armjit. Nothing is deleted: what it
    holds moves into the sibling ``<dest>.armjit-adopted-<time>/``, counted (files, dirs with the
    empty ones, bytes). None when ``dest`` is armjit's already."""
    ident = owner_id(host, dest)
    d = shlex.quote(dest)
    if host.run(_owned_test(d, dest, ident), timeout=60).ok:
        return None
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    aside = f"{dest.rstrip('/')}{ADOPTED}{stamp}"
    a = shlex.quote(aside)
    owner = shlex.quote(f"{dest.rstrip('/')}/{OWNER_NAME}")
    script = (
        f"if [ -e {d} ] && [ ! -d {d} ]; then echo {shlex.quote('armjit-refused workdir -1')} {d}; exit {REFUSED}; fi; "
        f"mkdir -p {d} && "
        f'if [ -n "$(ls -A {d})" ]; then mkdir {a} && find {d} -mindepth 1 -maxdepth 1 -exec mv -t {a} -- {{}} + && '
        f"find {a} -mindepth 1 -printf '%y %s\\n' | awk {shlex.quote(_COUNT_AWK)} && ls -A {a}; "
        "else echo 'armjit-adopted 0 0 0'; fi && "
        f"printf %s {shlex.quote(_owner_text(dest, ident))} > {owner}"
    )
    result = host.run(script, timeout=1800)
    raise_if_refused(host, dest, result.exit_code, result.stdout)
    if not result.ok:
        raise ArmjitError(f"cannot adopt {host.name}:{dest}: {result.tail(1) or f'exit {result.exit_code}'}")
    try:
        found = parse_adopted(dest, aside, result.stdout)
    except ValueError as exc:
        raise ArmjitError(f"cannot adopt {host.name}:{dest}: {exc}") from None
    return found if found.names else Adopted(dest, "", 0, 0, 0, ())


def is_owned(host: Host, dest: str) -> bool:
    return host.run(_owned_test(shlex.quote(dest), dest, known_id(host, dest)), timeout=60).ok


def resolve_guarded(host: Host, wanted: Sequence[tuple[str, str, int]]) -> list[str]:
    """Each ``(path, what, min_depth)`` as it really is on ``host``, judged there before anything
    is written: ``~`` and ``~user`` expanded (an unknown user is a UsageError), the guard run on
    the path as spelled, then on what it resolves to (symlinks followed, another user's home, the
    owner uid), all paths in one round trip. Returns the resolved paths: every later command
    uses them, so an alias of a directory is that directory (its lease, its marker)."""
    home = host.expand("~")
    accounts: tuple[Account, ...] | None = None
    spelled = []
    for given, what, depth in wanted:
        path = given
        if path.startswith("~") and not (path == "~" or path.startswith("~/")):
            accounts = host.accounts() if accounts is None else accounts
            path = expand_user(path, accounts, what=what)
        spelled.append(check_host_dir(host.expand(path), what=what, home=home, min_depth=depth))
    facts = host.resolve(spelled)
    return [
        judge_resolved(fact, what=what, given=given, min_depth=depth)
        for fact, given, (_, what, depth) in zip(facts, spelled, wanted, strict=True)
    ]
