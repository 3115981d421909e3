"""Regenerate tests/data/jitlogs-main on the e2e sandbox host (root, as the e2e tier needs).

    python tests/data/jitlogs-main/make/make_fixture.py WHEEL OUT

Starts the sandbox host (tests/e2e/sandbox.py), copies in the CinderX wheel, these workloads and
armjit's JIT hook, runs onhost.sh there (a venv with the wheel and pyperf, two benchmarks in two
modes, one process killed while compiling) and copies logs/ and out/ to OUT. The fixture keeps
every jitlist and crash log, and the first two autojit processes of each benchmark.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
sys.path.insert(0, str(REPO / "tests"))

from e2e.sandbox import sandbox_host  # noqa: E402


def main(wheel: Path, out: Path) -> None:
    hook = REPO / "armjit" / "cinderx" / "resources"
    with sandbox_host() as host:
        work = host.root / "root" / "minework"
        (work / "wheels").mkdir(parents=True)
        shutil.copy(wheel, work / "wheels")
        for name in ("bench_nbody.py", "bench_richards.py", "crash_compile.py", "onhost.sh"):
            shutil.copy(HERE / name, work)
        for name in ("armjit_jit_hook.py", "armjit_jit_hook.pth"):
            shutil.copy(hook / name, work)
        done = subprocess.run(host.ssh_argv("sh /root/minework/onhost.sh"), capture_output=True, text=True, check=False)
        print(done.stdout[-2000:], done.stderr[-2000:])
        shutil.copytree(work / "logs", out / "logs")
        shutil.copytree(work / "out", out / "out")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
