"""A stand-in for ``cinderx.jit``: it generates no code.

It follows the environment of the real JIT (``PYTHONJIT*`` / ``CINDERX_JIT_*``), counts calls with
``sys.setprofile``, "compiles" a function when the real JIT would (a jitlist entry, a call
threshold, or ``force_compile``), and writes CinderX's own log lines to ``PYTHONJITLOGFILE``
(``{pid}`` expanded). So a pipeline driving it shows for real whether its environment reached
the benchmark worker processes and whether their logs came back; the numbers in the log are
this process's own call counts, not a simulation of any result.
"""

from __future__ import annotations

import atexit
import fnmatch
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, TextIO

__all__ = [
    "compile_after_n_calls",
    "count_interpreted_calls",
    "disable",
    "enable",
    "force_compile",
    "force_uncompile",
    "get_compiled_size",
    "is_enabled",
    "is_jit_compiled",
]


class _Jit:
    def __init__(self) -> None:
        self.enabled = False
        self.threshold: int | None = None
        self.jitlist: list[str] = []
        self.wildcards = False
        self.log: TextIO | None = None
        self.compiled: dict[CodeType, int] = {}
        self.calls: dict[CodeType, int] = {}
        self.interpreted: dict[CodeType, int] = {}
        self.total_ns = 0
        self.lock = threading.Lock()


_jit = _Jit()


def _env(name: str) -> str:
    """``PYTHONJIT<NAME>`` or its ``CINDERX_JIT_<NAME>`` alias (underscored)."""
    aliases = {
        "LOGFILE": "LOG_FILE",
        "LISTFILE": "LIST_FILE",
        "ENABLEJITLISTWILDCARDS": "ENABLE_JIT_LIST_WILDCARDS",
        "COMPILENCALLS": "COMPILE_N_CALLS",
    }
    return os.environ.get(f"PYTHONJIT{name}") or os.environ.get(f"CINDERX_JIT_{aliases.get(name, name)}") or ""


def _write(where: str, message: str) -> None:
    if _jit.log is not None:
        _jit.log.write(f"JIT: cinderx/Jit/{where} -- {message}\n")
        _jit.log.flush()


def _name(code: CodeType, module: str) -> str:
    return f"{module}:{getattr(code, 'co_qualname', code.co_name)}"


def _listed(name: str) -> bool:
    if _jit.wildcards:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in _jit.jitlist)
    return name in _jit.jitlist


def _compile(code: CodeType, name: str) -> int:
    start = time.perf_counter_ns()
    _write("compiler.cpp:259", f"Compiling {name}")
    size = 64 + 16 * len(code.co_code)
    _jit.compiled[code] = size
    elapsed = time.perf_counter_ns() - start
    _jit.total_ns += elapsed
    _write("compiler.cpp:329", f"Finished compiling {name} in {max(1, elapsed // 1000)}µs, code size: {size} bytes")
    return size


def _profile(frame: FrameType, event: str, arg: Any) -> None:
    if event != "call":
        return
    code = frame.f_code
    if code in _jit.compiled:
        return
    with _jit.lock:
        _jit.interpreted[code] = _jit.interpreted.get(code, 0) + 1
        calls = _jit.calls[code] = _jit.calls.get(code, 0) + 1
        if not _jit.jitlist and _jit.threshold is None:
            return
        name = _name(code, str(frame.f_globals.get("__name__", "?")))
        if _jit.jitlist and not _listed(name):
            return
        if _jit.threshold is None or calls >= _jit.threshold:
            _compile(code, name)


def _shutdown() -> None:
    if _jit.log is not None:
        _write("pyjit.cpp:4919", f"CinderX JIT Total Compilation Time: {_jit.total_ns // 1_000_000}ms")
        _jit.log.close()
        _jit.log = None


def enable() -> None:
    """Start the JIT with the configuration in the environment (idempotent)."""
    if _jit.enabled:
        return
    _jit.enabled = True
    log_file = _env("LOGFILE")
    if log_file:
        _jit.log = Path(log_file.replace("{pid}", str(os.getpid()))).open("w", encoding="utf-8")  # noqa: SIM115
        atexit.register(_shutdown)
    list_file = _env("LISTFILE")
    if list_file:
        _write(
            "jit_flag_processor.cpp:183",
            f"CINDERX_JIT_LIST_FILE has been specified - Load list of functions to compile from {list_file}",
        )
        lines = Path(list_file).read_text(encoding="utf-8").splitlines()
        _jit.jitlist = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        _jit.wildcards = _env("ENABLEJITLISTWILDCARDS") not in ("", "0")
    threshold = _env("COMPILENCALLS") or _env("AUTO")
    if threshold and int(threshold) > 0:
        compile_after_n_calls(int(threshold))
    sys.setprofile(_profile)
    threading.setprofile(_profile)


def disable() -> None:
    sys.setprofile(None)
    threading.setprofile(None)  # type: ignore[arg-type]
    _jit.enabled = False


def is_enabled() -> bool:
    return _jit.enabled


def compile_after_n_calls(calls: int) -> None:
    _jit.threshold = calls
    _write("pyjit.cpp:2180", f"Configuring JIT to compile functions after {calls} calls")


def force_compile(func: Callable[..., Any]) -> bool:
    code = func.__code__
    if code not in _jit.compiled:
        _compile(code, _name(code, func.__module__))
    return True


def force_uncompile(func: Callable[..., Any]) -> bool:
    return _jit.compiled.pop(func.__code__, None) is not None


def is_jit_compiled(func: Callable[..., Any]) -> bool:
    return func.__code__ in _jit.compiled


def get_compiled_size(func: Callable[..., Any]) -> int:
    return _jit.compiled.get(func.__code__, 0)


def count_interpreted_calls(func: Callable[..., Any]) -> int:
    return _jit.interpreted.get(func.__code__, 0)
