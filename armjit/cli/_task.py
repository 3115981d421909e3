"""How an armjit task is declared: the settings it reads become its flags, resolved once per call.

``@armjit_task(settings=STATUS, help=...)`` makes an ``ArmjitTask``, an invoke ``Task`` extended
through invoke's public methods only:

- ``argspec``: the body is ``body(c, settings, sources, *own_flags)``; ``settings`` and ``sources``
  are filled in here, so they are not flags.
- ``get_arguments``: one ``Argument`` per setting the task names. A task shows only the flags it
  uses (``invoke --help status`` is short); the other settings still come from pyproject,
  invoke.yaml and ``ARMJIT_*``.
- ``__call__``: refuses flag-looking values (``invoke decide --help --why x`` swallows ``--help``
  as the decision text), resolves the settings from every source and turns armjit's errors into
  one line and an exit status.

Automatic short flags are off: invoke would give ``-h`` to ``--host`` (``-h`` is help) and a flag
named ``--`` to ``--ssh-config``. The few short flags (``-k``, ``-m``) are one-letter names.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import FrameType
from typing import Any

from invoke import Argument, Context, Task, task
from invoke.exceptions import Exit

from armjit.cli.crash import debug_requested
from armjit.config import Settings, SettingSpec, setting_specs
from armjit.errors import ArmjitError, Terminated, UsageError
from armjit.resolve import resolve_settings

__all__ = [
    "ALL",
    "BENCH",
    "BUILD",
    "GATES",
    "OUTPUT",
    "REMOTE",
    "SSH",
    "TARGET",
    "ArmjitTask",
    "armjit_task",
    "cli_values",
    "setting_argument",
]

# The settings in groups, so that each task can say which it reads. tests/test_cli.py checks that
# every setting is in exactly one group: a new setting has to be placed, or no task would take it.
TARGET = ("repo", "upstream_remote", "upstream_branch", "branch", "sync_upstream", "rebase", "worktree", "sync_method")
SSH = (
    "host",
    "user",
    "port",
    "key",
    "known_hosts",
    "strict_host_keys",
    "ssh_config",
    "connect_timeout",
    "keepalive_interval",
    "keepalive_count",
    "reconnect_for",
    "hosts",
    "reference",
)
REMOTE = ("remote_workdir", "remote_incoming", "remote_python", "driver_venv", "adopt_workdir", "wait", "wait_timeout")
BUILD = ("build", "parallel", "build_env", "deps_dir", "min_free_build", "min_free_venv")
GATES = ("runtime_test", "runtime_skip_tests", "smoke_autojit")
BENCH = (
    "bench",
    "modes",
    "jitlist",
    "autojit",
    "autojit_jitlist_filter",
    "autojit_extra_jitlist",
    "bench_only",
    "skip_pyperf",
    "recreate_pyperf_venv",
    "jit_hook",
    "bench_runner",
    "bench_script",
    "processes",
    "values",
    "warmups",
    "loops",
    "step_timeout",
    "code_size_limit",
    "clock",
    "metric",
    "cpu_share_gap",
    "quiet_wait",
)
OUTPUT = ("notes_dir", "reports")
GROUPS = (TARGET, SSH, REMOTE, BUILD, GATES, BENCH, OUTPUT)
ALL = tuple(spec.name for spec in setting_specs())


def _help(spec: SettingSpec) -> str:
    if isinstance(spec.default, tuple):
        default = ",".join(spec.default) or "unset"
        # invoke shows list flags without =VALUE; say that they take one (or several).
        return f"{spec.help} (takes a value; repeat the flag or use commas; default {default}; env {spec.env})"
    default = "unset" if spec.default in ("", None) else str(spec.default)
    return f"{spec.help} (default {default}; env {spec.env})"


def setting_argument(spec: SettingSpec) -> Argument:
    """The flag of one setting. Values stay raw here; config.py coerces and validates them."""
    names = (spec.name.replace("_", "-"),)
    # invoke aliases attr_name to the name: give it only when they differ (an alias to itself loops).
    attr = spec.name if "_" in spec.name else None
    if isinstance(spec.default, bool):
        # The default is kept so that invoke offers --no-NAME for settings that are on by default.
        return Argument(names=names, attr_name=attr, kind=bool, default=spec.default, help=_help(spec))
    if isinstance(spec.default, tuple):
        return Argument(names=names, attr_name=attr, kind=list, default=[], help=_help(spec))
    # None, not the default, means "not given": a flag must not hide pyproject or ARMJIT_* values.
    return Argument(names=names, attr_name=attr, kind=str, default=None, help=_help(spec))


def cli_values(given: Mapping[str, Any]) -> dict[str, Any]:
    """The setting flags that were given, from the values invoke parsed (defaults dropped)."""
    specs = {spec.name: spec for spec in setting_specs()}
    cli: dict[str, Any] = {}
    for name, value in given.items():
        spec = specs[name]
        if isinstance(spec.default, bool):
            if value != spec.default:
                cli[name] = value
        elif isinstance(spec.default, tuple):
            if value:
                # `--bench a,b` and `--bench a --bench b` mean the same.
                cli[name] = [item for text in value for item in str(text).split(",")]
        elif value is not None:
            cli[name] = value
    return cli


def _refuse_flag_like(task_name: str, positional: Iterable[str], values: Mapping[str, Any]) -> None:
    # invoke hands a required positional whatever token comes next, flags included; taking
    # `--help` as text would run the task instead of showing its help.
    for name in positional:
        value = values.get(name)
        if isinstance(value, str) and value.startswith("-"):
            raise UsageError(
                f"{task_name}: {value!r} looks like a flag, not the {name}; help: invoke --help {task_name}"
            )
    for name, value in values.items():
        if value in ("-h", "--help"):
            raise UsageError(f"{task_name}: --{name} {value}: for help run invoke --help {task_name}")


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signal.Signals(signum).name, signum)


@contextlib.contextmanager
def _terminations_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP end armjit as Ctrl-C does, while a task runs (the main thread only can
    take signals; a task called from another thread keeps the process's handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _friendly(call: Callable[[], Any]) -> Any:
    """Run ``call``; armjit's errors become one line on stderr and their exit status, never a traceback."""
    try:
        with _terminations_interrupt():
            return call()
    except ArmjitError as exc:
        if debug_requested():
            traceback.print_exc()
        raise Exit(f"armjit: {exc}", code=exc.exit_code) from None
    except Terminated as exc:
        raise Exit(f"armjit: {exc}", code=exc.exit_code) from None
    except KeyboardInterrupt:
        raise Exit("armjit: interrupted", code=130) from None
    except BrokenPipeError:
        # `invoke mine | head`: the reader left; stop quietly (and keep Python from
        # complaining again when it flushes stdout at exit).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise Exit(code=0) from None


class ArmjitTask(Task):  # type: ignore[misc]
    """An invoke task whose body is ``body(c, settings, sources, **flags)``; see the module doc."""

    def __init__(self, body: Callable[..., Any], *, settings: Iterable[str] = (), **kwargs: Any) -> None:
        self.setting_names = tuple(settings)
        unknown = sorted(set(self.setting_names) - set(ALL))
        if unknown:
            raise ValueError(f"{body.__name__}: no such setting(s): {', '.join(unknown)}")
        kwargs["auto_shortflags"] = False
        super().__init__(body, **kwargs)

    def argspec(self, body: Callable[..., Any]) -> Any:
        signature = super().argspec(body)  # without the Context
        return signature.replace(parameters=list(signature.parameters.values())[2:])

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        own: list[Argument] = super().get_arguments(ignore_unknown_help=ignore_unknown_help)
        taken = {name for arg in own for name in arg.names}
        specs = {spec.name: spec for spec in setting_specs()}
        settings = [setting_argument(specs[name]) for name in self.setting_names]
        clash = taken & {name for arg in settings for name in arg.names}
        if clash:
            raise ValueError(f"{self.name}: flag(s) {', '.join(sorted(clash))} are both a setting and its own")
        return own + settings

    def __call__(self, c: Context, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            _refuse_flag_like(self.name, self.positional, kwargs)
            given = {name: kwargs.pop(name) for name in self.setting_names if name in kwargs}
            settings, sources = _resolve(c, cli_values(given))
            return super(ArmjitTask, self).__call__(c, settings, sources, *args, **kwargs)

        return _friendly(run)


def _resolve(c: Context, cli: Mapping[str, Any]) -> tuple[Settings, dict[str, str]]:
    config = c.config
    section = config.get("armjit") or {}
    if not isinstance(section, Mapping):
        raise UsageError(f"invoke config: 'armjit' must be a mapping of setting: value, got {type(section).__name__}")
    console = config.get("armjit_cli") or {}
    return resolve_settings(
        invoke_config=dict(section),
        cli=cli,
        repo_from_cwd=bool(console.get("repo_from_cwd", False)),
    )


def armjit_task(*, settings: Iterable[str] = (), **kwargs: Any) -> Callable[[Callable[..., Any]], ArmjitTask]:
    """``@task`` for armjit: ``settings`` names the settings the body reads (their flags)."""

    def decorate(body: Callable[..., Any]) -> ArmjitTask:
        made: ArmjitTask = task(klass=ArmjitTask, settings=tuple(settings), **kwargs)(body)
        return made

    return decorate
