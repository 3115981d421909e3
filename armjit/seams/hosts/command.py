"""Commands as data: what a host runs (pure bash text) and what came back.

Every command runs as the same bash script on every kind of host, so behaviour does not depend
on where it runs:

- environment values are embedded with ``shlex.quote`` (fabric would inline them unquoted);
- ``timeout -k 5 N`` on the host kills the command tree when a step overruns (without a pty an
  SSH channel closing does not kill the remote process);
- the process group id is written to a pid file so Ctrl-C can kill the remote tree too.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from armjit.errors import UsageError

__all__ = ["KILL_GRACE", "CommandResult", "LineSink", "LineTap", "local_command", "quote_env", "wrap_command"]

LineSink = Callable[[str], None]
KILL_GRACE = 5


@dataclass(frozen=True)
class CommandResult:
    """What a command did. ``exit_code`` 124 with ``timed_out`` means the step timeout killed it."""

    command: str
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def tail(self, lines: int = 20) -> str:
        text = (self.stdout + ("\n" + self.stderr if self.stderr else "")).rstrip("\n")
        return "\n".join(text.splitlines()[-lines:])


def quote_env(env: Mapping[str, str]) -> str:
    """``export K='v' ...;`` with every value quoted: spaces and quotes arrive intact."""
    parts = []
    for key, value in env.items():
        if not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise UsageError(f"environment variable name {key!r} is not valid")
        parts.append(f"export {key}={shlex.quote(str(value))};")
    return " ".join(parts)


def wrap_command(
    command: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: int | None = None,
    pidfile: str | None = None,
) -> str:
    """The bash text a host runs for ``command`` (pure, so the exact command can be tested)."""
    script = ""
    if cwd:
        script += f"cd {shlex.quote(cwd)} && "
    if env:
        script += quote_env(env) + " "
    script += command
    inner = f"bash -c {shlex.quote(script)}"
    if timeout:
        # timeout(1) puts itself and its children in their own process group and kills it.
        inner = f"timeout -k {KILL_GRACE} {int(timeout)} {inner}"
    if pidfile:
        return f"echo $$ > {shlex.quote(pidfile)}; exec {inner}"
    return inner


class LineTap(io.TextIOBase):
    """A write-only stream that cuts output into lines for a callback (progress, logs)."""

    def __init__(self, sink: LineSink | None, log: io.TextIOBase | None) -> None:
        self._sink = sink
        self._log = log
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._log is not None:
            self._log.write(text)
        if self._sink is not None:
            buffer = self._partial + text
            *lines, self._partial = buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for line in lines:
                self._sink(line)
        return len(text)

    def flush(self) -> None:
        if self._log is not None:
            self._log.flush()

    def close_tap(self) -> None:
        if self._partial and self._sink is not None:
            self._sink(self._partial)
        self._partial = ""


def local_command(
    argv: list[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> CommandResult:
    """Run an argv on this machine without a shell (git, rsync and friends on the engineer's
    side). A ``timeout`` that expires gives exit 124 with ``timed_out``, like a host command."""
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(f"{argv[0]} is not installed on this machine") from None
    except subprocess.TimeoutExpired as exc:
        out, err = (_text(exc.stdout), _text(exc.stderr))
        return CommandResult(shlex.join(argv), 124, out, err, time.monotonic() - started, timed_out=True)
    return CommandResult(shlex.join(argv), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""
