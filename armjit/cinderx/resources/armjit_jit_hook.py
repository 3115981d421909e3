"""Enable the CinderX JIT in every process of this venv.

Installed by armjit as ``armjit_jit_hook.pth`` + this module: a ``.pth`` line runs at startup in
every interpreter of the venv, and unlike a venv ``sitecustomize.py`` it cannot be shadowed by a
distribution's own sitecustomize (Debian ships one). ``CINDERX_DISABLE`` keeps cinderx out
entirely; ``PYTHONJITDISABLE`` loads cinderx without enabling the JIT. Package installers are
left alone.
"""

import os
import sys

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


_enable()
