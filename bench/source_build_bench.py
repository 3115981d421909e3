"""Rebuild time of CinderX after a one-line change to ``cinderx/Jit/codegen/gen_asm.cpp``, on the e2e host.

In one run on the e2e host (the Debian sid chroot with sshd on 127.0.0.1, tests/e2e/sandbox.py; needs
root), on the real cinderx sdist committed into git (tests/e2e/cinderx_tree.py), offline with the
vendored FetchContent sources, after a priming build:

- ``armjit``: commit the change, ``invoke baseline --skip-pyperf``; the figure is its ``deploy`` plus
  ``build-wheel`` steps from the run record (sync, deps check, build venv check, the build);
- ``seed``: the seed workflow's ``python -m build --wheel`` in the work dir (an isolated build
  environment each time);
- ``hand``: a hand-run ``pip wheel --no-build-isolation`` with ccache in the work dir, the same
  environment as armjit's build.

Every measured build follows a fresh change (a new constant on the line, so ccache never has the
object), and each method runs on a CMake tree that its own kind of build configured last. Goal:
armjit within 1.5x of the hand-run figure.

Run (root): .venv/bin/python bench/source_build_bench.py [--repeat 2]
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


def armjit_build(host: SandboxHost, repo: Path, deps: Path, reports: Path) -> tuple[float, int | None]:
    args = [
        "baseline", "--host", host.target, "--key", str(host.key_path), "--known-hosts", str(host.known_hosts_path),
        "--repo", str(repo), "--branch", cinderx_tree.BRANCH, "--no-sync-upstream", "--build", "source",
        "--deps-dir", str(deps), "--parallel", "2", "--remote-python", "/usr/bin/python3.14",
        "--remote-workdir", WORKDIR, "--remote-incoming", INCOMING, "--skip-pyperf", "--bench-runner", "pyperf",
        "--reports", str(reports), "--notes-dir", str(reports / "notes"),
    ]  # fmt: skip
    before = set((reports / "runs").glob("*")) if (reports / "runs").exists() else set()
    done = run_invoke(*args, timeout=7200)
    CONSOLE.append(f"$ invoke {' '.join(args)}\n{done.stderr}{done.stdout}")
    (run,) = set((reports / "runs").glob("*")) - before
    record: dict[str, Any] = json.loads((run / "run.json").read_text())
    steps = {s["name"]: s for s in record["steps"]}
    if steps.get("build-wheel", {}).get("status") != "ok":
        raise SystemExit(f"armjit's build failed: {done.stderr.strip()[-1500:]}")
    return steps["deploy"]["seconds"] + steps["build-wheel"]["seconds"], record["build"]["ninja_steps"]


def host_build(host: SandboxHost, command: str, env: dict[str, str]) -> tuple[float, int | None]:
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    out = f"{WORKDIR}/dist/bench-{uuid.uuid4().hex[:8]}"
    seconds, output = ssh(host, f"cd {WORKDIR} && rm -rf {out} && env {exports} {command} {out} . && rm -rf {out}")
    return seconds, sourcebuild.ninja_steps(output)


def edit_on_host(host: SandboxHost) -> None:
    """The one-line change made in the host's work dir (the seed workflow edits what it builds)."""
    path = f"{WORKDIR}/{GEN_ASM}"
    code = (
        "import re, sys; p = sys.argv[1]; t = open(p).read(); "
        "t = re.sub(r'  return env_\\.stack_frame_size[^;]*;\\n', sys.argv[2], t, count=1); open(p, 'w').write(t)"
    )
    ssh(host, f"python3.14 -c {shlex.quote(code)} {shlex.quote(path)} {shlex.quote(changed_line())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--console", type=Path, help="write armjit's console output of each build here")
    opts = parser.parse_args()
    deps = cinderx_tree.deps_dir(ROOT)
    if deps is None:
        raise SystemExit("no FetchContent sources: ../shared/vendor/cinderx-fetchcontent is absent")
    sdist = cinderx_tree.fetch_sdist(cache_base() / "sdist")
    results: dict[str, list[tuple[float, int | None]]] = {"armjit": [], "hand": [], "seed": []}

    def measure(name: str, build: Callable[[], tuple[float, int | None]]) -> None:
        results[name].append(build())
        seconds, steps = results[name][-1]
        print(f"  {name}: {seconds:.1f}s, {steps} ninja steps", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp, sandbox_host() as host:
        repo = cinderx_tree.make_checkout(sdist, Path(tmp))
        reports = Path(tmp) / "reports"
        print("priming: deploy and build once (cold unless ccache has it) ...", file=sys.stderr, flush=True)
        prime, _ = armjit_build(host, repo, deps, reports)
        print(f"priming build: {prime:.0f}s", file=sys.stderr, flush=True)
        venv_python = f"{INCOMING}/armjit-build-venv/bin/python"
        ssh(host, f"{venv_python} -m pip install -q build")  # the seed's command needs pypa build
        env = {
            "CMAKE_BUILD_PARALLEL_LEVEL": "2",
            "ENABLE_CCACHE": "1",
            "ENABLE_DISASSEMBLER": "0",
            "CMAKE_TOOLCHAIN_FILE": f"{INCOMING}/armjit-deps/{sourcebuild.TOOLCHAIN_NAME}",
        }
        hand = f"{venv_python} -m pip wheel --no-build-isolation --no-deps -v -w"
        seed = f"{venv_python} -m build --wheel --outdir"
        for round_ in range(opts.repeat):
            source = repo / GEN_ASM
            text = source.read_text()
            current = next(line + "\n" for line in text.splitlines() if "return env_.stack_frame_size" in line)
            source.write_text(text.replace(current, changed_line(), 1))
            cinderx_tree.git(repo, "commit", "-q", "-am", f"bench: one-line change {round_}")
            measure("armjit", lambda: armjit_build(host, repo, deps, reports))
            edit_on_host(host)
            measure("hand", lambda: host_build(host, hand, env))
            edit_on_host(host)
            measure("seed", lambda: host_build(host, seed, env))
            if round_ + 1 < opts.repeat:
                host_build(host, hand, env)  # settle: CMake's cache may hold the isolated build's temporary Python
    if opts.console:
        opts.console.write_text("\n".join(CONSOLE), encoding="utf-8")
    hand_median = statistics.median(s for s, _ in results["hand"])
    commands = {
        "armjit": "invoke baseline --build source --deps-dir ... (deploy + build-wheel steps)",
        "hand": "pip wheel --no-build-isolation (ccache, same env)",
        "seed": "python -m build --wheel (isolated)",
    }
    rows = []
    for name, runs in results.items():
        seconds = [s for s, _ in runs]
        median = statistics.median(seconds)
        steps = "/".join(str(n) for _, n in runs)
        spread = ", ".join(f"{s:.1f}" for s in seconds)
        rows.append([name, commands[name], f"{median:.1f}", spread, steps, f"{median / hand_median:.2f}x"])
    print(table(rows, ["build", "command", "median s", "each s", "ninja steps", "vs hand"], "github"))
    ratio = statistics.median(s for s, _ in results["armjit"]) / hand_median
    print(f"\narmjit / hand-run = {ratio:.2f} (goal <= 1.5): {'met' if ratio <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
