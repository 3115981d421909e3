"""JIT modes: name -> environment, the ``--inherit-environ`` list, and per-process log paths.

pyperf strips the environment of its worker processes, so every variable a mode sets must be
listed in ``--inherit-environ`` or the workers silently run without the JIT
(cinderx-2026.11-logs.md, "How the JIT actually starts").
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "JIT_LOG_NAME",
    "JitMode",
    "inherit_environ",
    "jit_mode",
    "jitlist_text",
    "missing_inherited",
]

# {pid} is expanded by CinderX: every process (parent, calibration, workers) gets its own log,
# so none truncates another's (the JIT opens its log with mode "w").
JIT_LOG_NAME = "jit_{pid}.log"


@dataclass(frozen=True)
class JitMode:
    """One benchmark mode. ``env`` holds every variable the mode sets, including the log file."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    jitlist: tuple[str, ...] = ()
    expects_compiles: bool = True
    description: str = ""


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
) -> JitMode:
    """The environment of mode ``name``; paths are host paths.

    ``PYTHONJITAUTO`` means "threshold N" in the fork but "auto mode on, fixed thresholds" in the
    2026.11 release, where ``PYTHONJITCOMPILENCALLS`` carries the call threshold. Setting both
    gives the same intent on either build; the effective threshold is read back from the log.
    """
    log = {"PYTHONJITDEBUG": "1", "PYTHONJITLOGFILE": f"{log_dir.rstrip('/')}/{JIT_LOG_NAME}"}
    main_list = ("__main__:*", *extra_jitlist)
    if name == "nojit":
        # CinderX is loaded but the JIT is not initialised (the v5 "nojit" baseline).
        return JitMode(
            name, {"PYTHONJITDISABLE": "1", **log}, expects_compiles=False, description="cinderx loaded, JIT off"
        )
    if name == "jitlist":
        env = {"PYTHONJITLISTFILE": jitlist_path, "PYTHONJITENABLEJITLISTWILDCARDS": "1", **log}
        return JitMode(name, env, jitlist=("__main__:*",), description="compile __main__:* at first call")
    if name == "autojit":
        env = {"PYTHONJITAUTO": str(autojit), "PYTHONJITCOMPILENCALLS": str(autojit), **log}
        jitlist: tuple[str, ...] = ()
        if jitlist_filter:
            env |= {"PYTHONJITLISTFILE": jitlist_path, "PYTHONJITENABLEJITLISTWILDCARDS": "1"}
            jitlist = main_list
        described = f"compile after {autojit} calls" + (" (jitlist-filtered)" if jitlist_filter else "")
        return JitMode(name, env, jitlist=jitlist, description=described)
    raise ValueError(f"unknown JIT mode {name!r}")


def inherit_environ(mode: JitMode, extra: tuple[str, ...] = ()) -> str:
    """The comma-separated ``--inherit-environ`` value: every variable the mode sets."""
    names = [*mode.env, *extra]
    return ",".join(dict.fromkeys(names))


def missing_inherited(mode: JitMode, inherited: str) -> list[str]:
    """Variables the mode sets that a given ``--inherit-environ`` value would drop."""
    passed = {name.strip() for name in inherited.split(",") if name.strip()}
    return [name for name in mode.env if name not in passed]
