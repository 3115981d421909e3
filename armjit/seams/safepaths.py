"""The one guard for directories armjit writes into, deletes from or recreates.

A deploy runs ``rsync --delete`` (or deletes by manifest) into the work dir and recreates venvs
with ``rm -rf``: a path that names ``/``, a system directory or a home makes that a wipe. These
checks need no I/O (the caller supplies the home directory), so they run when settings are
read, before any host is contacted, and again once ``~`` has been expanded on the host.

``..`` is refused rather than normalised away: ``/srv/x/..`` is almost certainly a typo, and
quietly turning it into ``/srv`` would hide the mistake that the guard exists to catch.

A path is judged by what it is, not only by how it is spelled (:func:`judge_resolved`): the
host (or this machine) resolves the deepest existing ancestor and appends the rest, and the
guard runs again on that path, on the passwd database (another user's home) and on the owner
uid of what exists. ``/srv/x/etclink`` with ``etclink -> /etc`` is refused as ``/etc``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from armjit.errors import UsageError

__all__ = [
    "OS_TREES",
    "RESOLVE_SCRIPT",
    "SYSTEM_DIRS",
    "Account",
    "PathFacts",
    "check_host_dir",
    "check_local_dir",
    "expand_user",
    "is_os_tree",
    "is_system_dir",
    "judge_resolved",
    "local_accounts",
    "local_facts",
    "parse_passwd",
    "parse_resolved",
]

# Top-level directories of a Linux host that hold the system or other people's data.
SYSTEM_DIRS = frozenset(
    {"bin", "boot", "dev", "etc", "home", "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var"}
)


# Top-level directories that hold the operating system itself: nothing of armjit's belongs
# anywhere below them (``/etc/armjit-deps`` would be created and later synced with deletions).
# /srv, /opt, /home, /root, /tmp and /var keep their subdirectories for work dirs and venvs.
OS_TREES = frozenset({"bin", "boot", "dev", "etc", "proc", "run", "sbin", "sys", "usr"})


# Below /var, the system keeps its databases, caches, logs and spools (/var/lib/dpkg, /var/log):
# all of it is the system's except the temporary dir. A home under /var (www-data's /var/www) is
# another user's home, refused as such.
VAR_OWN = frozenset({"tmp"})


def is_os_tree(name: str) -> bool:
    """A top-level directory whose whole tree belongs to the system (``lib*`` included)."""
    return name in OS_TREES or name.startswith("lib")


def _system_tree(parts: Sequence[str]) -> str | None:
    """The system tree ``parts`` (a path's segments) lies in, None if it lies in none."""
    if is_os_tree(parts[0]):
        return f"/{parts[0]}"
    if parts[0] == "var" and len(parts) > 1 and parts[1] not in VAR_OWN:
        return f"/var/{parts[1]}"
    return None


def is_system_dir(name: str) -> bool:
    """A top-level directory name (``lib``, ``lib64``, ``libx32``... all count)."""
    return name in SYSTEM_DIRS or name.startswith("lib")


_USER_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,31}\$?$")
_OWN = "give a directory of its own, like /srv/cinderx-work or ~/work/cinderx"


def _refuse(what: str, given: str, why: str) -> UsageError:
    return UsageError(f"{what} {given!r} refused: {why}")


def check_host_dir(path: str, *, what: str, home: str | None = None, min_depth: int = 1) -> str:
    """The normalised form of ``path`` (a POSIX path on a host), or a one-line UsageError.

    ``home`` is the login user's home on that host; when it is not known yet (settings time),
    ``~/...`` is checked on its own and must be checked again after expansion. ``min_depth`` is
    the number of segments the path needs (2 for a work dir: ``/srv/x`` but not ``/srv``).
    """
    if not path or "\n" in path or "\0" in path:
        raise UsageError(f"{what}: an empty path or one with a newline cannot be used")
    if path.startswith("~"):
        head, _, tail = path.partition("/")
        if head != "~":
            if not _USER_OK.match(head[1:]):
                raise _refuse(what, path, "~ must be followed by / or a user name")
            _segments(tail, what, path)
            return path  # ~user is expanded from the host's passwd database, then checked again
        rest = _segments(tail, what, path)
        if not rest:
            raise _refuse(what, path, "that is the login user's home itself; use a directory below it")
        if home is None:
            return "~/" + "/".join(rest)
        path = home.rstrip("/") + "/" + "/".join(rest)
    if not path.startswith("/"):
        raise _refuse(what, path, "use an absolute path on the host (or ~/...)")
    parts = _segments(path, what, path)
    normal = "/" + "/".join(parts)
    if not parts:
        raise _refuse(what, path, f"that is the root directory; {_OWN}")
    if len(parts) == 1 and is_system_dir(parts[0]):
        raise _refuse(what, path, f"{normal} is a system directory; {_OWN}")
    tree = _system_tree(parts)
    if tree is not None:
        raise _refuse(what, path, f"{normal} is inside {tree}, which belongs to the system; {_OWN}")
    if home is not None and parts == [p for p in home.split("/") if p not in ("", ".")]:
        raise _refuse(what, path, "that is the login user's home itself; use a directory below it")
    if len(parts) < min_depth:
        raise _refuse(what, path, f"it must be at least {min_depth} levels deep, like /srv/cinderx-work")
    return normal


def _segments(path: str, what: str, given: str) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(what, given, "'..' is not allowed here; name the directory itself")
    return parts


def check_local_dir(
    path: str | os.PathLike[str], *, what: str, cwd: Path | None = None, home: Path | None = None
) -> Path:
    """The resolved absolute form of a local directory armjit writes into (reports, notes), or a
    UsageError.

    Relative paths are taken from ``cwd``; ``~user`` comes from the passwd database (an unknown
    user is refused). The same rules as on a host, on the path as given and on what it resolves
    to (symlinks followed): no ``..``, not the root, not a top-level system directory nor anything
    inside the system's own trees (POSIX), not the home itself, not another user's home, not a
    directory of another uid.
    """
    text = os.fspath(path)
    if not text or "\n" in text or "\0" in text:
        raise UsageError(f"{what}: an empty path or one with a newline cannot be used")
    home = home if home is not None else Path.home()
    if text == "~" or text.startswith(("~/", "~\\")):
        text = str(home) + text[1:]
    elif text.startswith("~") and os.name != "nt":
        text = expand_user(text, local_accounts(), what=what)
    full = _checked_local_text(text, os.fspath(path), what=what, cwd=cwd, home=home)
    if os.name == "nt":
        return full
    facts = local_facts(str(full), home)
    resolved = judge_resolved(facts, what=what, given=os.fspath(path), min_depth=1)
    return Path(resolved)


def _checked_local_text(text: str, given_text: str, *, what: str, cwd: Path | None, home: Path) -> Path:
    given = PurePath(text)
    full = Path(given if given.is_absolute() else (cwd if cwd is not None else Path.cwd()) / given)
    if ".." in full.parts:
        raise _refuse(what, given_text, "'..' is not allowed here; name the directory itself")
    segments = [p for p in full.parts[1:] if p != "."]
    if not segments:
        raise _refuse(what, given_text, "that is the root directory")
    if os.name != "nt" and len(segments) == 1 and is_system_dir(segments[0]):
        raise _refuse(what, given_text, f"/{segments[0]} is a system directory")
    tree = _system_tree(segments) if os.name != "nt" else None
    if tree is not None:
        raise _refuse(what, given_text, f"it is inside {tree}, which belongs to the system")
    if full == home:
        raise _refuse(what, given_text, "that is the home directory itself; use a directory below it")
    return full


@dataclass(frozen=True)
class Account:
    """One passwd entry: who, which uid, which home."""

    user: str
    uid: int
    home: str


@dataclass(frozen=True)
class PathFacts:
    """What a path is on its machine: ``resolved`` is its deepest existing ancestor with every
    symlink resolved, plus the rest appended; ``owner_uid`` the owner of what exists of it (the
    path itself when ``exists``, else that ancestor); the login user and the passwd database."""

    given: str
    resolved: str
    exists: bool
    owner_uid: int | None
    login_uid: int
    login_home: str
    accounts: tuple[Account, ...]

    def user_of(self, uid: int) -> str:
        return next((a.user for a in self.accounts if a.uid == uid), f"uid {uid}")


def parse_passwd(text: str) -> tuple[Account, ...]:
    """``getent passwd`` (or /etc/passwd) -> accounts; malformed lines are skipped."""
    found = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[2].isdigit() and fields[5].startswith("/"):
            found.append(Account(fields[0], int(fields[2]), fields[5]))
    return tuple(found)


def expand_user(path: str, accounts: Sequence[Account], *, what: str) -> str:
    """``~user/rest`` -> ``<user's home>/rest`` from ``accounts``; an unknown user is a UsageError."""
    head, _, tail = path.partition("/")
    name = head[1:]
    for account in accounts:
        if account.user == name:
            return account.home.rstrip("/") + "/" + tail if tail else account.home
    raise UsageError(f"{what} {path!r} refused: there is no user {name!r} on that machine")


def _inside(path: str, folder: str) -> bool:
    folder = folder.rstrip("/")
    return bool(folder) and (path == folder or path.startswith(folder + "/"))


def judge_resolved(facts: PathFacts, *, what: str, given: str, min_depth: int) -> str:
    """``facts.resolved`` if the path, judged by what it is, may be written into and deleted
    from, else a one-line UsageError naming the given path and what it resolves to."""
    resolved = facts.resolved
    label = f"{what} {given!r}" + (f" (resolves to {resolved})" if given != resolved else "")

    def refuse(why: str) -> UsageError:
        return UsageError(f"{label} refused: {why}")

    try:
        check_host_dir(resolved, what=what, home=facts.login_home, min_depth=min_depth)
    except UsageError as exc:
        raise refuse(_why(exc)) from None
    own_home = facts.login_home.rstrip("/") or "/"
    for account in facts.accounts:
        home = account.home.rstrip("/")
        # "/" as a home (system accounts) would make everything someone's; a home that holds the
        # login user's own home (a shared parent) is not another user's private tree.
        if account.uid == facts.login_uid or not home or _inside(own_home, home):
            continue
        if _inside(resolved, home):
            raise refuse(f"it is inside {account.user}'s home {account.home}; {_OWN}")
    uid = facts.owner_uid
    if uid is not None and uid != facts.login_uid and (facts.exists or uid != 0):
        where = "it is" if facts.exists else "its nearest existing parent is"
        raise refuse(f"{where} owned by {facts.user_of(uid)}, not by the login user; {_OWN}")
    return resolved


def _why(exc: UsageError) -> str:
    return str(exc).split(" refused: ", 1)[-1]


def local_accounts() -> tuple[Account, ...]:
    import pwd

    return tuple(Account(e.pw_name, e.pw_uid, e.pw_dir) for e in pwd.getpwall() if e.pw_dir.startswith("/"))


def local_facts(path: str, home: Path | None = None) -> PathFacts:
    """What ``path`` (absolute) is on this machine (POSIX)."""
    resolved = Path(os.path.realpath(path))
    existing = resolved
    while not (existing.exists() or existing.is_symlink()) and existing != existing.parent:
        existing = existing.parent
    try:
        owner: int | None = existing.stat().st_uid
    except OSError:
        owner = None
    return PathFacts(
        given=path,
        resolved=str(resolved),
        exists=resolved.exists(),
        owner_uid=owner,
        login_uid=os.getuid(),
        login_home=str(home if home is not None else Path.home()),
        accounts=local_accounts(),
    )


# One round trip resolves every path: the deepest existing ancestor with its symlinks resolved and
# the rest appended (GNU ``realpath -m``, else Python's os.path.realpath, which does the same),
# whether it exists, the uid owning what exists of it, then the login uid and the passwd database.
RESOLVE_SCRIPT = r"""
for p in "$@"; do
  r=$(realpath -m -- "$p" 2>/dev/null) ||
    r=$(python3 -c 'import os,sys; print(os.path.realpath(sys.argv[1]))' "$p") || exit 66
  d=$r; while [ ! -e "$d" ] && [ ! -L "$d" ] && [ "$d" != / ]; do d=$(dirname -- "$d"); done
  if [ -e "$r" ]; then e=1; else e=0; fi
  printf 'armjit-path\t%s\t%s\t%s\n' "$e" "$(stat -c %u -- "$d" 2>/dev/null || echo -)" "$r"
done
printf 'armjit-uid\t%s\n' "$(id -u)"
getent passwd 2>/dev/null || cat /etc/passwd
"""


def parse_resolved(given: Sequence[str], text: str, login_home: str) -> list[PathFacts]:
    """The facts the resolve script printed for ``given`` (in order); a ValueError when it
    printed fewer paths than asked (a path with a newline is refused before it gets here)."""
    paths: list[tuple[bool, int | None, str]] = []
    uid = -1
    rest = []
    for line in text.splitlines():
        if line.startswith("armjit-path\t"):
            _, exists, owner, resolved = line.split("\t", 3)
            paths.append((exists == "1", int(owner) if owner.isdigit() else None, resolved))
        elif line.startswith("armjit-uid\t"):
            uid = int(line.split("\t", 1)[1])
        else:
            rest.append(line)
    if len(paths) != len(given) or uid < 0:
        raise ValueError(f"expected {len(given)} resolved paths and the login uid")
    accounts = parse_passwd("\n".join(rest))
    return [PathFacts(g, r, e, o, uid, login_home, accounts) for g, (e, o, r) in zip(given, paths, strict=True)]
