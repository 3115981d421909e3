"""Which cinderx a test process loaded, judged against the installed wheel's RECORD (runs on the host).

``cinderx_seen()`` takes the files of the ``cinderx`` package and of the ``_cinderx`` extension as
this process loaded them (or would load them, when a test never imported them) and the files the
installed wheel put there, as its RECORD lists them. The installed wheel is the cinderx
``.dist-info`` that has a RECORD, the interpreter's site-packages first: a source build leaves
``cinderx/PythonLib/cinderx.egg-info`` in the tree, which ``importlib.metadata`` finds first when the
tests run from there, and which lists no installed files. A loaded file that is not the wheel's
file shadows the wheel.

Standard library only: ``unittest_gate.py`` imports it from its own directory, and the red/green
runner carries its text (``armjit.cinderx.targeted``).
"""

import importlib.metadata
import importlib.util
import os
import sys
import sysconfig


def _real(path):
    return os.path.realpath(path) if path else ""


def _loaded(name):
    """(file, imported): the module's file as this process has it, else where an import would find it."""
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__file__", None) or "", True
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        return "", False
    origin = (spec.origin or "") if spec is not None else ""
    return (origin if origin not in ("built-in", "frozen") else ""), False


def _installed_wheel():
    """(the wheel's distribution or None, the other cinderx metadata directories found on sys.path)."""
    site = {_real(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    wheels, others, seen = [], [], set()
    for dist in importlib.metadata.distributions(name="cinderx"):
        where = os.path.abspath(str(getattr(dist, "_path", "") or dist.locate_file("")))
        if _real(where) in seen:  # the same directory through two sys.path entries ("" and the cwd)
            continue
        seen.add(_real(where))
        if dist.read_text("RECORD") is None:
            others.append(where)
        else:
            wheels.append((_real(str(dist.locate_file(""))) not in site, where, dist))
    wheels.sort(key=lambda found: found[0])  # stable: sys.path order within site-packages and elsewhere
    if not wheels:
        return None, others
    others += [where for _, where, _ in wheels[1:]]
    return wheels[0][2], others


def _wheel_file(dist, is_it):
    for entry in dist.files or ():
        if is_it(entry.parts):
            return str(dist.locate_file(entry))
    return ""


def _is_package_init(parts):
    return tuple(parts) == ("cinderx", "__init__.py")


def _is_record(parts):
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD"


def _is_extension(parts):
    return len(parts) == 1 and parts[0].split(".", 1)[0] == "_cinderx" and not parts[0].endswith(".pyc")


def cinderx_seen():
    """The record the tests report as ``armjit-cinderx``: path/installed/imported of the package,
    the same for ``_cinderx`` under ``extension``, the wheel's version and metadata directory,
    the other metadata found, and ``shadowed``: a loaded file is not the one the wheel installed
    (``not_from_wheel`` names which)."""
    dist, others = _installed_wheel()
    package, imported = _loaded("cinderx")
    extension, ext_imported = _loaded("_cinderx")
    version = dist.version if dist is not None else ""
    installed = _wheel_file(dist, _is_package_init) if dist is not None else ""
    installed_ext = _wheel_file(dist, _is_extension) if dist is not None else ""
    shadows = []
    if dist is not None:  # with no wheel installed there is nothing to shadow
        for name, loaded, wheel_file in (("cinderx", package, installed), ("_cinderx", extension, installed_ext)):
            if loaded and _real(loaded) != _real(wheel_file):
                shadows.append(name)
    return {
        "path": package,
        "version": version,
        "installed": installed,
        "imported": imported,
        "extension": {"path": extension, "installed": installed_ext, "imported": ext_imported},
        "wheel": os.path.dirname(_wheel_file(dist, _is_record)) if dist is not None else "",
        "other_metadata": others,
        "shadowed": bool(shadows),
        "not_from_wheel": shadows,
    }
