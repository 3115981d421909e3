"""The one guard for directories armjit writes into, deletes from or recreates.

A deploy runs ``rsync --delete`` (or deletes by manifest) into the work dir and recreates venvs
with ``rm -rf``: a path that names ``/``, a system directory or a home makes that a wipe. These
checks need no I/O (the caller supplies the home directory), so they run when settings are
read, before any host is contacted, and again once ``~`` has been expanded on the host.

``..`` is refused rather than normalised away: ``/srv/x/..`` is almost certainly a typo, and
quietly turning it into ``/srv`` would hide the mistake that the guard exists to catch.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from armjit.errors import UsageError

__all__ = ["OS_TREES", "SYSTEM_DIRS", "check_host_dir", "check_local_dir", "is_os_tree", "is_system_dir"]

# Top-level directories of a Linux host that hold the system or other people's data.
SYSTEM_DIRS = frozenset(
    {"bin", "boot", "dev", "etc", "home", "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var"}
)


# Top-level directories that hold the operating system itself: nothing of armjit's belongs
# anywhere below them (``/etc/armjit-deps`` would be created and later synced with deletions).
# /srv, /opt, /home, /root, /tmp and /var keep their subdirectories for work dirs and venvs.
OS_TREES = frozenset({"bin", "boot", "dev", "etc", "proc", "run", "sbin", "sys", "usr"})


def is_os_tree(name: str) -> bool:
    """A top-level directory whose whole tree belongs to the system (``lib*`` included)."""
    return name in OS_TREES or name.startswith("lib")


def is_system_dir(name: str) -> bool:
    """A top-level directory name (``lib``, ``lib64``, ``libx32``... all count)."""
    return name in SYSTEM_DIRS or name.startswith("lib")


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
            raise _refuse(what, path, "only ~/... is expanded (not ~user); give an absolute path")
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
    if is_os_tree(parts[0]):
        raise _refuse(what, path, f"{normal} is inside /{parts[0]}, which belongs to the system; {_OWN}")
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
    """The absolute form of a local directory armjit writes into (reports, notes), or a UsageError.

    Relative paths are taken from ``cwd``. The same rules as on a host: no ``..``, not the root,
    not a top-level system directory nor anything inside the system's own trees (POSIX), not the
    home itself.
    """
    text = os.fspath(path)
    if not text or "\n" in text or "\0" in text:
        raise UsageError(f"{what}: an empty path or one with a newline cannot be used")
    home = home if home is not None else Path.home()
    if text == "~" or text.startswith(("~/", "~\\")):
        text = str(home) + text[1:]
    given = PurePath(text)
    full = Path(given if given.is_absolute() else (cwd if cwd is not None else Path.cwd()) / given)
    if ".." in full.parts:
        raise _refuse(what, os.fspath(path), "'..' is not allowed here; name the directory itself")
    segments = [p for p in full.parts[1:] if p != "."]
    if not segments:
        raise _refuse(what, os.fspath(path), "that is the root directory")
    if os.name != "nt" and len(segments) == 1 and is_system_dir(segments[0]):
        raise _refuse(what, os.fspath(path), f"/{segments[0]} is a system directory")
    if os.name != "nt" and is_os_tree(segments[0]):
        raise _refuse(what, os.fspath(path), f"it is inside /{segments[0]}, which belongs to the system")
    if full == home:
        raise _refuse(what, os.fspath(path), "that is the home directory itself; use a directory below it")
    return full
