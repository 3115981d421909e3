"""The CinderX profile: the steps of ``remote_update_build_test.sh`` v5 as command builders.

Everything here is pure: it returns shell text for a Host to run, or parses what came back.
Every host path is ``shlex.quote``d because work dirs may contain spaces or quotes.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from armjit.cinderx.modes import JitMode, inherit_environ
from armjit.seams.workdir import venv_removable_shell

__all__ = [
    "HOOK_MODULE",
    "HOOK_PTH",
    "BenchCommand",
    "TestOutcome",
    "bench_command",
    "build_wheel_command",
    "ensure_venv_command",
    "host_facts_command",
    "install_command",
    "parse_host_facts",
    "parse_test_gate",
    "parse_wheel_path",
    "pyperformance_venv_command",
    "startup_smoke_command",
    "venv_python",
]

HOOK_MODULE = "armjit_jit_hook.py"
HOOK_PTH = "armjit_jit_hook.pth"
WHEEL_MARKER = "armjit-wheel="
PYPERF_VENV_RE = re.compile(r"Virtual environment path:\s*(\S+)")
q = shlex.quote


def venv_python(venv: str) -> str:
    return f"{venv.rstrip('/')}/bin/python"


def host_facts_command() -> str:
    """One round trip for the host facts a run record keeps."""
    return (
        'echo "uname=$(uname -a)"; echo "arch=$(uname -m)"; echo "nproc=$(nproc 2>/dev/null)"; '
        "echo \"cpu=$(grep -m1 -E 'model name|CPU part|Hardware' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | xargs)\"; "
        'echo "loadavg=$(cut -d" " -f1-3 /proc/loadavg 2>/dev/null)"; '
        'echo "hostname=$(hostname 2>/dev/null || cat /etc/hostname)"; '
        'echo "rsync=$(command -v rsync || true)"; echo "cmake=$(command -v cmake || true)"'
    )


def parse_host_facts(stdout: str) -> dict[str, str]:
    facts: dict[str, str] = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isidentifier():
            facts[key] = value.strip()
    return facts


def build_wheel_command(python: str, outdir: str) -> str:
    """Build into a fresh per-run outdir and print the wheel this build produced.

    v5 took ``ls -t dist/*.whl | head -1``, which picks a stale wheel when the build writes none.
    """
    py = q(python)
    out = q(outdir)
    return (
        f"rm -rf {out} && mkdir -p {out} && "
        f"if {py} -c 'import build' 2>/dev/null; then {py} -m build --wheel --outdir {out} .; "
        f"else {py} -m pip wheel --no-deps -w {out} .; fi && "
        f'set -- {out}/*.whl && [ -f "$1" ] && [ $# -eq 1 ] && echo "{WHEEL_MARKER}$1"'
    )


def parse_wheel_path(stdout: str) -> str | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(WHEEL_MARKER):
            return line[len(WHEEL_MARKER) :].strip()
    return None


def ensure_venv_command(python: str, venv: str, *, recreate: bool = False) -> str:
    """Create ``venv`` if it has no working python (v5: create if missing)."""
    vpy = q(venv_python(venv))
    # rm -rf only what is a venv (or nothing yet): a mistyped --driver-venv must not erase a directory.
    create = f"{{ {venv_removable_shell(venv)}; }} && rm -rf {q(venv)} && {q(python)} -m venv {q(venv)}"
    if recreate:
        return create
    return f"if [ -x {vpy} ] && {vpy} -c '' 2>/dev/null; then echo 'venv exists'; else {create}; fi"


def install_command(
    venv: str, *, wheel: str | None, pypi_spec: str | None, tools: tuple[str, ...], report: str | None = None
) -> str:
    """Install the JIT build and the benchmark tools into ``venv``.

    The build is force-reinstalled: a rebuilt wheel keeps its version number, and ``--build pypi``
    must replace whatever cinderx the venv holds (a source build's, even of a higher version)
    with the release's own wheel (``--only-binary``: never a build from its sdist). pip writes
    what it installed, with the wheel's sha256, to ``report`` (``pip install --report``), which
    the pins step checks. Tools are only installed when they are missing, so a warm host does not
    need the network.
    """
    vpy = q(venv_python(venv))
    parts = []
    if wheel:
        parts.append(
            f"PYTHONJITDISABLE=1 CINDERX_DISABLE=1 {vpy} -m pip install -q --force-reinstall --no-deps {q(wheel)}"
        )
    if pypi_spec:
        keep = ""
        if report:
            parts.append(f"mkdir -p {q(report.rsplit('/', 1)[0] or '/')} && rm -f {q(report)}")
            keep = f" --report {q(report)}"
        parts.append(
            f"CINDERX_DISABLE=1 {vpy} -m pip install -q --force-reinstall --no-deps --only-binary :all:{keep} "
            f"{q(pypi_spec)}"
        )
    if tools:
        modules = ", ".join(t.split("[")[0].split("=")[0].split(">")[0] for t in tools)
        parts.append(
            f"CINDERX_DISABLE=1 {vpy} -c {q('import ' + modules)} 2>/dev/null || "
            f"CINDERX_DISABLE=1 {vpy} -m pip install -q {' '.join(q(t) for t in tools)}"
        )
    return " && ".join(parts) if parts else "true"


def pyperformance_venv_command(driver_venv: str, *, recreate: bool, benches: tuple[str, ...] = ()) -> str:
    """Resolve (create or recreate) pyperformance's venv; prints its path.

    Runs in the pinned work dir: pyperformance puts its venv under the cwd, and the two-venv bug
    of the old workflow came from running it elsewhere. A failed create is retried once after
    removing ``venv/`` (v5).
    """
    dpy = q(venv_python(driver_venv))
    only = f" -b {q(','.join(benches))}" if benches else ""  # else every benchmark's requirements
    action = ("recreate" if recreate else "create") + only
    # "Virtual environment path: PATH (not created yet)": keep only the path
    show = f"{dpy} -m pyperformance venv show | sed -n 's/^Virtual environment path: *\\([^ ]*\\).*/\\1/p'"
    return (
        f"path=$({show}); "
        f'if [ {"1" if recreate else "0"} = 1 ] || [ ! -x "$path/bin/python" ]; then '
        f"CINDERX_DISABLE=1 {dpy} -m pyperformance venv {action} || "
        f"{{ rm -rf venv && CINDERX_DISABLE=1 {dpy} -m pyperformance venv create{only}; }} || exit 1; fi; "
        f"path=$({show}); "
        f'[ -x "$path/bin/python" ] && echo "pyperf_venv=$path"'
    )


def hook_install_command(venv: str, staged_dir: str, kind: str = "pth") -> str:
    """Install the JIT hook (uploaded to ``staged_dir``) into the venv's site-packages.

    ``pth``: a ``.pth`` line importing the hook module, run by every interpreter of the venv.
    ``sitecustomize``: the old workflow's way, which a distribution's own sitecustomize can shadow.
    ``none``: remove both (the build must enable its JIT by itself).
    """
    vpy = q(venv_python(venv))
    staged = q(staged_dir)
    site = f"site=$(CINDERX_DISABLE=1 {vpy} -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])')"
    clean = f'rm -f "$site/{HOOK_PTH}" "$site/{HOOK_MODULE}" "$site/sitecustomize.py"'
    if kind == "none":
        return f"{site} && {clean} && echo hook=none"
    if kind == "sitecustomize":
        copy = f'cp {staged}/{HOOK_MODULE} "$site/sitecustomize.py"'
        return f'{site} && {clean} && {copy} && echo "hook=$site/sitecustomize.py"'
    return (
        f'{site} && {clean} && cp {staged}/{HOOK_MODULE} {staged}/{HOOK_PTH} "$site"/ && echo "hook=$site/{HOOK_PTH}"'
    )


def hook_probe_command(python: str) -> str:
    """Which hook a fresh interpreter of the venv actually ran, and which sitecustomize it found."""
    code = (
        "import sys, importlib.util; "
        "spec = importlib.util.find_spec('sitecustomize'); "
        "print('hook_module=' + str('armjit_jit_hook' in sys.modules)); "
        "print('sitecustomize=' + (spec.origin if spec and spec.origin else ''))"
    )
    return f"PYTHONJITDISABLE=1 {q(python)} -c {q(code)}"


def startup_smoke_command(python: str, smoke_autojit: int) -> str:
    code = 'g=(i for i in [1]); next(g, None); import re; re.compile("a+"); print("smoke-ok")'
    return f"PYTHONJITAUTO={int(smoke_autojit)} {q(python)} -c {q(code)}"


@dataclass(frozen=True)
class BenchCommand:
    command: str
    output: str
    runner: str


def bench_command(
    *,
    runner: str,
    python: str,
    bench: str,
    mode: JitMode,
    output: str,
    bench_file: str | None,
    processes: int,
    values: int,
    warmups: int,
    loops: int,
    preset: str = "--fast",
) -> BenchCommand:
    """The benchmark command of one mode; ``--inherit-environ`` lists every variable the mode sets.
    ``preset``: pyperformance's option for processes and values (see armjit.cinderx.runners)."""
    inherit = inherit_environ(mode)
    env = " ".join(f"{k}={q(v)}" for k, v in mode.env.items())
    if runner == "pyperformance":
        option = f" {preset}" if preset else ""
        cmd = (
            f"env {env} {q(python)} -m pyperformance run -b {q(bench)}{option} --warmups {warmups} "
            f"--inherit-environ {q(inherit)} -o {q(output)}"
        )
    else:
        if not bench_file:
            raise ValueError("the pyperf runner needs a benchmark file")
        loop_opt = f" --loops {loops}" if loops else ""
        cmd = (
            f"env {env} {q(python)} {q(bench_file)} --processes {processes} --values {values} "
            f"--warmups {warmups}{loop_opt} --inherit-environ {q(inherit)} -o {q(output)}"
        )
    return BenchCommand(cmd, output, runner)


def pyperformance_bench_file_command(python: str, bench: str) -> str:
    """Print the path of pyperformance's own ``bm_<bench>/run_benchmark.py`` for ``python``."""
    code = (
        "import os, pyperformance; "
        f"print(os.path.join(os.path.dirname(pyperformance.__file__), 'data-files', 'benchmarks', "
        f"'bm_' + {bench!r}, 'run_benchmark.py'))"
    )
    return f"CINDERX_DISABLE=1 {q(python)} -c {q(code)}"


@dataclass(frozen=True)
class TestOutcome:
    test_id: str
    status: str  # pass | fail | error | skip
    detail: str = ""


def parse_test_gate(stdout: str) -> list[TestOutcome]:
    """Per-test results from ``unittest_gate.py`` (``armjit-test {json}`` lines)."""
    outcomes = []
    for line in stdout.splitlines():
        if not line.startswith("armjit-test "):
            continue
        try:
            record: dict[str, Any] = json.loads(line[len("armjit-test ") :])
        except json.JSONDecodeError:
            continue
        outcomes.append(TestOutcome(str(record.get("id")), str(record.get("status")), str(record.get("detail", ""))))
    return outcomes
