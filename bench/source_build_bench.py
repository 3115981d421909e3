"""Rebuild time of CinderX after a one-line change to ``cinderx/Jit/codegen/gen_asm.cpp``, on the e2e host.

In one run on the e2e host (the Debian sid chroot with sshd on 127.0.0.1, tests/e2e/sandbox.py; needs
root), on the real cinderx sdist committed into git (tests/e2e/cinderx_tree.py), or on any CinderX
checkout given with ``--repo`` (upstream main, say; cloned, its HEAD built), offline with the vendored
FetchContent sources, after a priming build:

- ``armjit``: commit the change, ``invoke baseline --skip-pyperf``; the figure is its ``deploy`` plus
  ``build-wheel`` steps from the run record (sync, deps check, build venv check, the build);
- ``seed``: the seed workflow's ``python -m build --wheel`` in the work dir (an isolated build
  environment each time);
- ``hand``: a hand-run ``pip wheel --no-build-isolation`` in the work dir, the same environment as
  armjit's build (its toolchain file: ccache as the compiler launcher, the generated-files keeper);
- ``ninja``: ninja alone in the kept CMake tree (no configure, no wheel): the floor.

Every measured build follows a fresh change (a new constant on the line, so ccache never has the
object), all in the same tree. Goals: armjit within 1.5x of ninja alone, and within 60 s.

Run (root): python bench/source_build_bench.py [--repeat 2] [--repo CHECKOUT] [--methods armjit,ninja,hand]
[--build-env K=V ...]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from e2e import cinderx_tree  # noqa: E402
from e2e.sandbox import SandboxHost, cache_base, sandbox_host  # noqa: E402
from invoke_cli import run_invoke  # noqa: E402

from armjit.cinderx import sourcebuild  # noqa: E402
from armjit.render import table  # noqa: E402

WORKDIR = "/root/work/cinderx"
INCOMING = "/root/work/incoming"
GEN_ASM = "cinderx/Jit/codegen/gen_asm.cpp"
LINE = "  return env_.stack_frame_size;\n"


def changed_line() -> str:
    # A new value every time: the object is never in ccache, as after a real edit.
    return f"  return env_.stack_frame_size + 0 * {uuid.uuid4().int % 1_000_000_007};\n"


def ssh(host: SandboxHost, command: str, timeout: int = 3600) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(host.ssh_argv(command), capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"on the host: {command[:120]} failed: {(done.stdout + done.stderr).strip()[-1500:]}")
    return seconds, done.stdout + done.stderr


CONSOLE: list[str] = []  # armjit's console output of every build, for --console


Measured = tuple[float, int | None, int | None]  # seconds, ninja steps, objects compiled


BUILD_ENV: list[str] = []  # --build-env for armjit's builds (and so for the others, which copy its environment)


def armjit_build(host: SandboxHost, repo: Path, deps: Path, reports: Path) -> Measured:
    args = [
        "baseline", "--host", host.target, "--key", str(host.key_path), "--known-hosts", str(host.known_hosts_path),
        "--repo", str(repo), "--branch", cinderx_tree.BRANCH, "--no-sync-upstream", "--build", "source",
        "--deps-dir", str(deps), "--parallel", "2", "--remote-python", "/usr/bin/python3.14",
        "--remote-workdir", WORKDIR, "--remote-incoming", INCOMING, "--skip-pyperf", "--bench-runner", "pyperf",
        "--reports", str(reports), "--notes-dir", str(reports / "notes"),
    ]  # fmt: skip
    for item in BUILD_ENV:
        args += ["--build-env", item]
    before = set((reports / "runs").glob("*")) if (reports / "runs").exists() else set()
    done = run_invoke(*args, timeout=7200)
    CONSOLE.append(f"$ invoke {' '.join(args)}\n{done.stderr}{done.stdout}")
    (run,) = set((reports / "runs").glob("*")) - before
    record: dict[str, Any] = json.loads((run / "run.json").read_text())
    steps = {s["name"]: s for s in record["steps"]}
    if steps.get("build-wheel", {}).get("status") != "ok":
        raise SystemExit(f"armjit's build failed: {done.stderr.strip()[-1500:]}")
    build = record["build"]
    seconds = steps["deploy"]["seconds"] + steps["build-wheel"]["seconds"]
    return seconds, build["ninja_steps"], build.get("objects_compiled")


def host_build(host: SandboxHost, command: str, env: dict[str, str]) -> Measured:
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    out = f"{WORKDIR}/dist/bench-{uuid.uuid4().hex[:8]}"
    seconds, output = ssh(host, f"cd {WORKDIR} && rm -rf {out} && env {exports} {command} {out} . && rm -rf {out}")
    return seconds, sourcebuild.ninja_steps(output), len(sourcebuild.compiled_objects(output))


def ninja_build(host: SandboxHost, env: dict[str, str]) -> Measured:
    """ninja alone in the kept CMake tree that armjit's builds configured (setup.py's scratch/*/)."""
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    seconds, output = ssh(host, f"cd {WORKDIR} && set -- scratch/*/build.ninja && env {exports} ninja -C $(dirname $1)")
    return seconds, sourcebuild.ninja_steps(output), len(sourcebuild.compiled_objects(output))


def edit_on_host(host: SandboxHost) -> None:
    """The one-line change made in the host's work dir (the seed workflow edits what it builds)."""
    path = f"{WORKDIR}/{GEN_ASM}"
    code = (
        "import re, sys; p = sys.argv[1]; t = open(p).read(); "
        "t = re.sub(r'  return env_\\.stack_frame_size[^;]*;\\n', sys.argv[2], t, count=1); open(p, 'w').write(t)"
    )
    ssh(host, f"python3.14 -c {shlex.quote(code)} {shlex.quote(path)} {shlex.quote(changed_line())}")


def checkout(repo: Path | None, sdist_cache: Path, tmp: Path) -> Path:
    """The tree to build: a clone of ``repo`` on the work branch at its HEAD, or the sdist checkout."""
    if repo is None:
        return cinderx_tree.make_checkout(cinderx_tree.fetch_sdist(sdist_cache), tmp)
    clone = tmp / "cinderx"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    cinderx_tree.git(clone, "checkout", "-q", "-B", cinderx_tree.BRANCH)
    return clone


def change_in_checkout(repo: Path, round_: int) -> None:
    source = repo / GEN_ASM
    text = source.read_text()
    current = next(line + "\n" for line in text.splitlines() if "return env_.stack_frame_size" in line)
    source.write_text(text.replace(current, changed_line(), 1))
    cinderx_tree.git(repo, "commit", "-q", "-am", f"bench: one-line change {round_}")


COMMANDS = {
    "armjit": "invoke baseline --build source --deps-dir ... --skip-pyperf (deploy + build-wheel steps)",
    "hand": "pip wheel --no-build-isolation (armjit's environment and toolchain file)",
    "seed": "python -m build --wheel (isolated)",
    "ninja": "ninja -C scratch/<tree> (ninja alone: no configure, no wheel)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--repo", type=Path, help="a CinderX checkout to build (default: the PyPI sdist)")
    parser.add_argument("--methods", default="armjit,ninja,hand", help=f"of {','.join(COMMANDS)}")
    parser.add_argument("--console", type=Path, help="write armjit's console output of each build here")
    parser.add_argument("--build-env", action="append", default=[], help="passed to armjit's builds (K=V)")
    opts = parser.parse_args()
    BUILD_ENV.extend(opts.build_env)
    methods = [m for m in opts.methods.split(",") if m]
    if not methods or any(m not in COMMANDS for m in methods) or "armjit" not in methods:
        raise SystemExit(f"--methods: armjit and any of {', '.join(COMMANDS)}")
    deps = cinderx_tree.deps_dir(ROOT)
    if deps is None:
        raise SystemExit("no FetchContent sources: ../shared/vendor/cinderx-fetchcontent is absent")
    results: dict[str, list[Measured]] = {name: [] for name in methods}

    def measure(name: str, build: Callable[[], Measured]) -> None:
        results[name].append(build())
        seconds, steps, objects = results[name][-1]
        print(f"  {name}: {seconds:.1f}s, {steps} ninja steps, {objects} objects", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp, sandbox_host() as host:
        repo = checkout(opts.repo, cache_base() / "sdist", Path(tmp))
        reports = Path(tmp) / "reports"
        print("priming: deploy and build once (cold unless ccache has it) ...", file=sys.stderr, flush=True)
        prime = armjit_build(host, repo, deps, reports)
        print(f"priming build: {prime[0]:.0f}s, {prime[2]} objects", file=sys.stderr, flush=True)
        venv_python = f"{INCOMING}/armjit-build-venv/bin/python"
        if "seed" in methods:
            ssh(host, f"{venv_python} -m pip install -q build")  # the seed's command needs pypa build
        record = json.loads(sorted((reports / "runs").glob("*/run.json"))[-1].read_text())
        env = dict(record["build"]["env"])  # armjit's own build environment, toolchain file included
        hand = f"{venv_python} -m pip wheel --no-build-isolation --no-deps -v {sourcebuild.STORED} -w"
        seed = f"{venv_python} -m build --wheel --outdir"
        for round_ in range(opts.repeat):
            change_in_checkout(repo, round_)
            measure("armjit", lambda: armjit_build(host, repo, deps, reports))
            for name in (m for m in methods if m != "armjit"):
                edit_on_host(host)
                command = hand if name == "hand" else seed
                measure(
                    name,
                    partial(ninja_build, host, env) if name == "ninja" else partial(host_build, host, command, env),
                )
            if "seed" in methods and round_ + 1 < opts.repeat:
                host_build(host, hand, env)  # settle: CMake's cache may hold the isolated build's temporary Python
    if opts.console:
        opts.console.write_text("\n".join(CONSOLE), encoding="utf-8")
    floor_name = "ninja" if "ninja" in results else methods[-1]
    floor = statistics.median(s for s, _, _ in results[floor_name])
    rows = []
    for name, runs in results.items():
        seconds = [s for s, _, _ in runs]
        median = statistics.median(seconds)
        steps = "/".join(str(n) for _, n, _ in runs)
        objects = "/".join(str(o) for _, _, o in runs)
        spread = ", ".join(f"{s:.1f}" for s in seconds)
        rows.append([name, COMMANDS[name], f"{median:.1f}", spread, steps, objects, f"{median / floor:.2f}x"])
    headers = ["build", "command", "median s", "each s", "ninja steps", "objects", f"vs {floor_name}"]
    print(table(rows, headers, "github"))
    armjit = statistics.median(s for s, _, _ in results["armjit"])
    ratio = armjit / floor
    print(f"\narmjit / {floor_name} = {ratio:.2f} (goal <= 1.5): {'met' if ratio <= 1.5 else 'NOT met'}")
    print(f"armjit median {armjit:.1f}s (goal <= 60 s): {'met' if armjit <= 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
