"""Host-side half of the path guard: armjit deletes only inside directories it owns.

A work dir is armjit's when it carries the owner file (written when armjit first creates or
adopts it) or, for work dirs deployed by earlier versions, the deploy marker or the python
transport's manifest. The owner file is separate from the deploy marker on purpose: the deploy
marker is removed at the start of every sync (so a failed sync claims nothing), and a work dir
must not turn into a stranger's directory because one sync failed half-way.

A venv is recreated (``rm -rf``) only when it is absent, empty or has a ``pyvenv.cfg``.
The checks are shell fragments so they run in the same round trip as the command they guard.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from armjit.errors import ArmjitError, UsageError
from armjit.seams.hosts import Host
from armjit.seams.safepaths import Account, check_host_dir, expand_user, judge_resolved

__all__ = [
    "OWNED_BY",
    "OWNER_NAME",
    "REFUSED",
    "Refusal",
    "adopt_plan",
    "claim_shell",
    "create_shell",
    "is_owned",
    "parse_refusal",
    "preflight",
    "raise_if_refused",
    "resolve_guarded",
    "venv_removable_shell",
    "write_owner",
]

OWNER_NAME = ".armjit-workdir"
# Any of these in a directory means armjit put it there (the last two: earlier armjit versions).
OWNED_BY = (OWNER_NAME, ".armjit-deploy.json", ".armjit-manifest.json")
REFUSED = 65  # exit status of a guard fragment that refused a directory
_SHOWN = 5
_OWNER_TEXT = "armjit work dir: each deploy deletes the files here that the synced tree does not hold\n"


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
            f"{where} holds {self.count} entries armjit did not put there ({shown}), and deploy deletes what the "
            "synced tree does not hold: give --remote-workdir a new or empty directory, or pass --adopt-workdir "
            "once to take this one over (it lists what would be deleted first)"
        )


def _owned_test(d: str) -> str:
    return " || ".join(f"[ -e {d}/{name} ]" for name in OWNED_BY)


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


def claim_shell(dest: str, *, create: bool = True) -> str:
    """Refuse a non-empty ``dest`` armjit does not own; with ``create``, make it and mark it owned."""
    d = shlex.quote(dest)
    check = _refuse_unless(d, _owned_test(d), "workdir")
    if not create:
        return check
    owner = shlex.quote(f"{dest.rstrip('/')}/{OWNER_NAME}")
    return f"{check}; mkdir -p {d} && {{ [ -e {owner} ] || printf %s {shlex.quote(_OWNER_TEXT)} > {owner}; }}"


def create_shell(dest: str) -> str:
    """Make ``dest``; mark it armjit's when it was new or empty. A directory with content is
    left unmarked: only a deploy's check or --adopt-workdir may claim that, and nothing but
    armjit's own fixed-name subdirectories (venvs, per-run wheel dirs) is removed there."""
    d = shlex.quote(dest)
    owner = shlex.quote(f"{dest.rstrip('/')}/{OWNER_NAME}")
    text = shlex.quote(_OWNER_TEXT)
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
        checks = [claim_shell(d, create=False) for d in workdirs] + checks
    if not checks:
        return
    # One round trip for all of them; the first refusal ends the script and names its path.
    result = host.run("; ".join(checks), timeout=60)
    paths = ", ".join([*workdirs, *venvs])
    raise_if_refused(host, paths, result.exit_code, result.stdout)
    if not result.ok:
        raise ArmjitError(f"cannot inspect {host.name}:{paths}: {result.tail(1) or f'exit {result.exit_code}'}")


def adopt_plan(listing: Iterable[str], shipped: Mapping[str, object], keep: Sequence[str]) -> tuple[int, list[str]]:
    """(files deploy would delete, one line per top-level entry) for an adopted work dir."""
    doomed = sorted(p for p in listing if p and p not in shipped and p.split("/")[0] not in keep)
    groups: dict[str, int] = {}
    for path in doomed:
        top = path.split("/")[0] + ("/" if "/" in path else "")
        groups[top] = groups.get(top, 0) + 1
    return len(doomed), [f"{top} ({n} files)" if top.endswith("/") else top for top, n in groups.items()]


def is_owned(host: Host, dest: str) -> bool:
    return host.run(_owned_test(shlex.quote(dest)), timeout=60).ok


def write_owner(host: Host, dest: str) -> None:
    """Mark ``dest`` as armjit's (used by --adopt-workdir, after the listing was shown)."""
    owner = shlex.quote(f"{dest.rstrip('/')}/{OWNER_NAME}")
    result = host.run(f"mkdir -p {shlex.quote(dest)} && printf %s {shlex.quote(_OWNER_TEXT)} > {owner}", timeout=60)
    if not result.ok:
        raise ArmjitError(f"cannot mark {host.name}:{dest} as armjit's: {result.tail(1) or f'exit {result.exit_code}'}")


def resolve_guarded(host: Host, wanted: Sequence[tuple[str, str, int]]) -> list[str]:
    """Each ``(path, what, min_depth)`` as it really is on ``host``, judged there before anything
    is written: ``~`` and ``~user`` expanded (an unknown user is a UsageError), the guard run on
    the path as spelled, then on what it resolves to (symlinks followed, another user's home, the
    owner uid), all paths in one round trip. Returns the resolved paths: every later command
    uses them, so an alias of a directory is that directory (its lease, its marker)."""
    home = host.expand("~")
    accounts: tuple[Account, ...] | None = None
    spelled = []
    for path, what, depth in wanted:
        if path.startswith("~") and not (path == "~" or path.startswith("~/")):
            accounts = host.accounts() if accounts is None else accounts
            path = expand_user(path, accounts, what=what)
        spelled.append(check_host_dir(host.expand(path), what=what, home=home, min_depth=depth))
    facts = host.resolve(spelled)
    return [
        judge_resolved(fact, what=what, given=given, min_depth=depth)
        for fact, given, (_, what, depth) in zip(facts, spelled, wanted, strict=True)
    ]
