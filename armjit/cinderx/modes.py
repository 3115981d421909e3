"""JIT modes: the one registry of modes, their environments, and per-process log paths.

A mode is registered once, here, with everything the rest of armjit asks about it: its
environment and jitlist (``build``), whether the JIT must compile in it (the JIT gate and the
compare report read ``expects_compiles``), whether it can run on a plain interpreter without
cinderx (``--build none``), and whether it is benchmarked by default. No other module tests a
mode's name, so adding a mode is one ``register`` call in this file.

pyperf strips the environment of its worker processes, so every variable a mode sets must be
listed in ``--inherit-environ`` or the workers silently run without the JIT
(cinderx-2026.11-logs.md, "How the JIT actually starts").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

__all__ = [
    "JIT_LOG_NAME",
    "JitMode",
    "ModeContext",
    "ModeSpec",
    "control_mode",
    "default_modes",
    "expects_compiles",
    "inherit_environ",
    "jit_mode",
    "jitlist_text",
    "known_modes",
    "missing_inherited",
    "mode_spec",
    "register",
    "runs_without_cinderx",
    "unregister",
]

# {pid} is expanded by CinderX: every process (parent, calibration, workers) gets its own log,
# so none truncates another's (the JIT opens its log with mode "w").
JIT_LOG_NAME = "jit_{pid}.log"

# Labels other tools give interpreter-only results (a pyperf file compared against a run): the JIT
# cannot have compiled there, so 0 compiles is no evidence of a broken mode.
_INTERPRETER_LABELS = frozenset({"nocinderx", "cpython", "interp"})


@dataclass(frozen=True)
class JitMode:
    """One benchmark mode. ``env`` holds every variable the mode sets, including the log file."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    jitlist: tuple[str, ...] = ()
    expects_compiles: bool = True
    description: str = ""


@dataclass(frozen=True)
class ModeContext:
    """What a mode's environment may depend on: host paths and the JIT settings of the run."""

    log_dir: str
    jitlist_path: str
    autojit: int
    jitlist_filter: bool
    extra_jitlist: tuple[str, ...] = ()
    jitlist: tuple[str, ...] = ("__main__:*",)  # the jitlist mode's lines


@dataclass(frozen=True)
class ModeSpec:
    """A registered mode. ``build`` returns the mode's own variables and jitlist; the log
    variables every mode shares are added by ``jit_mode``."""

    name: str
    build: Callable[[ModeContext], JitMode]
    expects_compiles: bool = True
    runs_without_cinderx: bool = False  # its variables mean nothing to a plain interpreter
    default: bool = False  # benchmarked when --modes is not given
    # The interpreter-only mode that measures the machine beside the JIT modes of a run: the
    # control that cancels drift between two runs (armjit.analysis.control).
    control: bool = False


_REGISTRY: dict[str, ModeSpec] = {}


def register(spec: ModeSpec) -> ModeSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"JIT mode {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Drop a mode (a test that registers one cleans up after itself)."""
    _REGISTRY.pop(name, None)


def known_modes() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def default_modes() -> tuple[str, ...]:
    return tuple(name for name, spec in _REGISTRY.items() if spec.default)


def control_mode() -> str | None:
    """The registered control mode (nojit), if any."""
    return next((name for name, spec in _REGISTRY.items() if spec.control), None)


def mode_spec(name: str) -> ModeSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown JIT mode {name!r}; known: {', '.join(_REGISTRY)}") from None


def expects_compiles(name: str | None) -> bool:
    """Whether 0 compiles in results labelled ``name`` means the JIT did not work. A name that is
    neither registered nor an interpreter label is taken as a JIT mode (the honest default)."""
    if name is None or name in _INTERPRETER_LABELS:
        return False
    spec = _REGISTRY.get(name)
    return spec.expects_compiles if spec is not None else True


def runs_without_cinderx(name: str) -> bool:
    spec = _REGISTRY.get(name)
    return spec is not None and spec.runs_without_cinderx


def jitlist_text(entries: tuple[str, ...]) -> str:
    return "".join(f"{line}\n" for line in entries)


def jit_mode(
    name: str,
    *,
    log_dir: str,
    jitlist_path: str,
    autojit: int,
    jitlist_filter: bool,
    extra_jitlist: tuple[str, ...] = (),
    jitlist: tuple[str, ...] = ("__main__:*",),
) -> JitMode:
    """The environment of mode ``name``; paths are host paths."""
    spec = mode_spec(name)
    mode = spec.build(ModeContext(log_dir, jitlist_path, autojit, jitlist_filter, extra_jitlist, jitlist))
    log = {"PYTHONJITDEBUG": "1", "PYTHONJITLOGFILE": f"{log_dir.rstrip('/')}/{JIT_LOG_NAME}"}
    return replace(mode, name=name, env={**mode.env, **log}, expects_compiles=spec.expects_compiles)


def inherit_environ(mode: JitMode, extra: tuple[str, ...] = ()) -> str:
    """The comma-separated ``--inherit-environ`` value: every variable the mode sets."""
    names = [*mode.env, *extra]
    return ",".join(dict.fromkeys(names))


def missing_inherited(mode: JitMode, inherited: str) -> list[str]:
    """Variables the mode sets that a given ``--inherit-environ`` value would drop."""
    passed = {name.strip() for name in inherited.split(",") if name.strip()}
    return [name for name in mode.env if name not in passed]


# -- the modes -----------------------------------------------------------------------------------


def _nojit(_: ModeContext) -> JitMode:
    # CinderX is loaded but the JIT is not initialised (the v5 "nojit" baseline).
    return JitMode("nojit", {"PYTHONJITDISABLE": "1"}, description="cinderx loaded, JIT off")


def _jitlist(c: ModeContext) -> JitMode:
    env = {"PYTHONJITLISTFILE": c.jitlist_path, "PYTHONJITENABLEJITLISTWILDCARDS": "1"}
    shown = ",".join(c.jitlist)
    return JitMode("jitlist", env, jitlist=c.jitlist, description=f"compile {shown} at first call")


def _autojit(c: ModeContext) -> JitMode:
    # PYTHONJITAUTO means "threshold N" in the fork but "auto mode on, fixed thresholds" in the
    # 2026.11 release, where PYTHONJITCOMPILENCALLS carries the call threshold. Setting both gives
    # the same intent on either build; the effective threshold is read back from the log.
    env = {"PYTHONJITAUTO": str(c.autojit), "PYTHONJITCOMPILENCALLS": str(c.autojit)}
    jitlist: tuple[str, ...] = ()
    if c.jitlist_filter:
        env |= {"PYTHONJITLISTFILE": c.jitlist_path, "PYTHONJITENABLEJITLISTWILDCARDS": "1"}
        jitlist = ("__main__:*", *c.extra_jitlist)
    described = f"compile after {c.autojit} calls" + (" (jitlist-filtered)" if c.jitlist_filter else "")
    return JitMode("autojit", env, jitlist=jitlist, description=described)


register(ModeSpec("nojit", _nojit, expects_compiles=False, runs_without_cinderx=True, default=True, control=True))
register(ModeSpec("jitlist", _jitlist, default=True))
register(ModeSpec("autojit", _autojit, default=True))
