"""This machine as a Host, through an invoke Context (the embedded default, ``--host local``)."""

from __future__ import annotations

import errno
import getpass
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from armjit.errors import ArmjitError
from armjit.seams.hosts.base import BashHost, HostTrust
from armjit.seams.hosts.command import CommandResult, local_command

__all__ = ["LocalHost"]


class LocalHost(BashHost):
    """This machine: commands through invoke, files by copying, rsync without a transport."""

    is_local = True

    def __init__(self) -> None:
        super().__init__()
        from invoke import Config, Context

        self.name = "local"
        self.user = getpass.getuser()
        self._ctx = Context(Config(overrides={"run": {"in_stream": False}}))

    def open(self) -> None:
        """Nothing to connect to: this machine."""

    def _context(self) -> Any:
        return self._ctx

    def _control(self, command: str) -> None:
        subprocess.run(["bash", "-c", command], check=False, capture_output=True, timeout=30)

    def put(self, local: Path, remote: str) -> None:
        target = Path(self.expand(remote))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, target)
        except OSError as exc:
            raise _copy_error(f"upload of {local.name} to local:{remote}", exc, target.parent) from None

    def get(self, remote: str, local: Path) -> None:
        try:
            local.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.expand(remote), local)
        except OSError as exc:
            raise _copy_error(f"download of local:{remote}", exc, local.parent) from None

    def close(self) -> None:
        self._cleanup_pidfiles()

    @property
    def rsync_capable(self) -> bool:
        return shutil.which("rsync") is not None

    @property
    def trust(self) -> HostTrust | None:
        return None

    def rsync_push(self, options: Sequence[str], source: Path, dest: str, *, timeout: int) -> CommandResult:
        target = f"{Path(self.expand(dest)).absolute()}/"
        return local_command(["rsync", *options, f"{source}/", target], timeout=timeout)


def _copy_error(what: str, exc: OSError, folder: Path) -> ArmjitError:
    if exc.errno == errno.ENOSPC:
        return ArmjitError(f"{what} failed: no space left on device on local:{folder}")
    return ArmjitError(f"{what} failed: {exc.strerror or exc}")
