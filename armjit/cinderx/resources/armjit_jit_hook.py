"""Enable the CinderX JIT in every process of this venv.

Installed by armjit as ``armjit_jit_hook.pth`` + this module: a ``.pth`` line runs at startup in
every interpreter of the venv, and unlike a venv ``sitecustomize.py`` it cannot be shadowed by a
distribution's own sitecustomize (Debian ships one). ``CINDERX_DISABLE`` keeps cinderx out
entirely; ``PYTHONJITDISABLE`` loads cinderx without enabling the JIT. Package installers are
left alone.

Two measurement aids, each off unless its variable is set (they must be in pyperf's
``--inherit-environ`` to reach the workers):

- ``ARMJIT_CPU_SHARE=1``: at exit, one ``armjit-cpu-share {json}`` line on stderr with the CPU
  time and wall time of this process, so a worker starved by other jobs can be told apart;
- ``ARMJIT_CLOCK=cpu``: in a pyperf worker, ``time.perf_counter`` (pyperf's timer, looked up at
  each call, and the name ``pyperf.perf_counter`` binds at import) becomes the process CPU clock.
"""

import os
import sys
import time

_INSTALLERS = ("pip", "ensurepip", "get-pip.py", "pip3")


def _is_installer(argv):
    for i, arg in enumerate(argv):
        if arg == "-m" and i + 1 < len(argv) and argv[i + 1].split(".")[0] in _INSTALLERS:
            return True
        if os.path.basename(arg) in _INSTALLERS:
            return True
    return False


def _enable():
    if os.environ.get("CINDERX_DISABLE"):
        return
    if _is_installer(list(getattr(sys, "orig_argv", None) or sys.argv or [])):
        return
    try:
        import cinderx

        if os.environ.get("PYTHONJITDISABLE", "0") not in ("", "0"):
            return
        import cinderx.jit as jit

        jit.enable()
        if hasattr(cinderx, "is_initialized") and not cinderx.is_initialized():
            sys.stderr.write("armjit-hook: cinderx imported but not initialized\n")
    except Exception as exc:  # a broken hook must say so, not silently run without the JIT
        sys.stderr.write(f"armjit-hook: JIT not enabled: {type(exc).__name__}: {exc}\n")


def _is_worker(argv):
    return "--worker" in argv


def _measure():
    argv = list(getattr(sys, "orig_argv", None) or sys.argv or [])
    if os.environ.get("ARMJIT_CLOCK") == "cpu" and _is_worker(argv):
        time.perf_counter = time.process_time
    if os.environ.get("ARMJIT_CPU_SHARE", "0") in ("", "0"):
        return
    import atexit
    import json

    wall0, cpu0 = time.monotonic(), time.process_time()

    def report():
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        line = json.dumps({"pid": os.getpid(), "cpu": cpu, "wall": wall, "worker": _is_worker(argv)})
        try:
            sys.stderr.write("armjit-cpu-share " + line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # stderr already closed: nothing to report to

    atexit.register(report)


_measure()
_enable()
