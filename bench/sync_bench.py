"""Sync cost on a CinderX-shaped tree over a loopback sshd: armjit's transports vs re-sending the branch.

Generates a git repository shaped like CinderX (default 2,500 files, about 60 MB: text sources of
varied sizes plus a few binaries), starts an OpenSSH sshd on 127.0.0.1 (tests/sshd.py), and
measures in the same run:

- for each transport of ``armjit.seams.sync.sync_tree`` (rsync, python): the first sync, a no-op
  re-sync and a one-file change (a new commit), bytes sent and seconds;
- the tar-the-whole-branch approach of push_to_arm.ps1 + remote_update_build_test.sh:
  ``git archive | ssh tar -x`` into a fresh staging dir, then a remote ``rsync --delete`` into
  the work dir;
- 100 remote ``true`` commands over one SshHost connection.

Targets on loopback: a one-file re-sync sends < 1% of the tree's bytes in < 1 s; a no-op
re-sync takes < 0.5 s; the 100 commands take < 3 s.

Run: .venv/bin/python bench/sync_bench.py [--files 2500] [--mb 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from sshd import SshdUnavailable, start_sshd  # noqa: E402

from armjit.render import table  # noqa: E402
from armjit.seams import sync  # noqa: E402
from armjit.seams.hosts import SshHost, SshTarget  # noqa: E402

DIRS = (
    "cinderx/Jit/codegen",
    "cinderx/Jit/hir",
    "cinderx/Jit/lir",
    "cinderx/Jit/deopt",
    "cinderx/StaticPython",
    "cinderx/Interpreter",
    "cinderx/Common",
    "cinderx/PythonLib/cinderx",
    "cinderx/PythonLib/test_cinderx",
    "Tools/benchmarks",
    "Tools/scripts",
    "third-party/asmjit/src",
    "docs",
)
EXTENSIONS = (".cpp", ".h", ".c", ".py", ".md", ".txt")
_VOCABULARY = (
    "auto jit::lir::Instr* BasicBlock Register return if else for while const static inline "
    "PyObject* Py_INCREF Py_DECREF self._tp = None def class import from ; { } ( ) -> :: == != "
    "arm64 x86_64 emit deopt guard compile frame thread state value opcode 0 1 42 0xff"
)
WORDS = tuple(_VOCABULARY.split())
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def generate_tree(root: Path, files: int, megabytes: int, seed: int = 7) -> tuple[int, int]:
    """A CinderX-like checkout: 3/4 of the bytes in text files (log-normal sizes), the rest in
    ten binaries. Returns (files, bytes)."""
    rng = random.Random(seed)
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(2, 14))) + "\n" for _ in range(4000)]
    binaries = 10
    text_budget = megabytes * 1_000_000 * 3 // 4
    raw = [rng.lognormvariate(0, 1.1) for _ in range(files - binaries)]
    scale = text_budget / sum(raw)
    total = 0
    for i, weight in enumerate(raw):
        directory = root / rng.choice(DIRS)
        directory.mkdir(parents=True, exist_ok=True)
        target = max(64, int(weight * scale))
        chunks: list[str] = []
        size = 0
        while size < target:
            line = lines[rng.randrange(len(lines))]
            chunks.append(line)
            size += len(line)
        data = "".join(chunks).encode()
        (directory / f"file_{i:05d}{rng.choice(EXTENSIONS)}").write_bytes(data)
        total += len(data)
    binary_budget = megabytes * 1_000_000 - total
    (root / "Tools" / "blobs").mkdir(parents=True, exist_ok=True)
    for i in range(binaries):
        data = rng.randbytes(binary_budget // binaries)
        (root / "Tools" / "blobs" / f"blob_{i}.bin").write_bytes(data)
        total += len(data)
    (root / ".gitignore").write_text("/scratch/\n/build/\n*.o\n__pycache__/\n")
    return files, total


@dataclass(frozen=True)
class Row:
    approach: str
    step: str
    files_sent: int | None
    bytes_sent: int
    seconds: float


def median_row(approach: str, step: str, rows: list[Row]) -> Row:
    return Row(
        approach,
        step,
        rows[0].files_sent,
        int(statistics.median(r.bytes_sent for r in rows)),
        statistics.median(r.seconds for r in rows),
    )


def edit_one_file(repo: Path, counter: list[int]) -> None:
    counter[0] += 1
    path = repo / "cinderx" / "Jit" / "codegen" / "edited_by_bench.cpp"
    path.write_text(f"// edit {counter[0]}\nint x = {counter[0]};\n" * 20)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"edit {counter[0]}")


def measure_transport(host: SshHost, repo: Path, dest: str, method: str, repeat: int, counter: list[int]) -> list[Row]:
    shutil.rmtree(repo / ".git" / "armjit", ignore_errors=True)  # a cold local stage too

    def one() -> Row:
        result = sync.sync_tree(host, repo, dest, ref="main", method=method)
        assert result.method == method, result
        return Row(method, "", result.files_sent, result.bytes_sent, result.seconds)

    first = one()
    rows = [Row(method, "first sync", first.files_sent, first.bytes_sent, first.seconds)]
    rows.append(median_row(method, "no-op re-sync", [one() for _ in range(repeat)]))
    changes = []
    for _ in range(repeat):
        edit_one_file(repo, counter)
        changes.append(one())
    rows.append(median_row(method, "one-file change", changes))
    return rows


def measure_archive(host: SshHost, repo: Path, dest: str, repeat: int, counter: list[int]) -> list[Row]:
    """push_to_arm.ps1's way: the whole branch as a tar every time, unpacked into a fresh
    staging dir, then rsync --delete into the work dir on the host."""
    ssh = shlex.split(host.rsync_shell())
    label = "git archive | ssh tar + rsync"
    stage = f"{dest}.incoming"
    remote = (
        f"rm -rf {shlex.quote(stage)} && mkdir -p {shlex.quote(stage)} {shlex.quote(dest)} && "
        f"tar -xf - -C {shlex.quote(stage)} && rsync -a --delete {shlex.quote(stage)}/cinderx-src/ {shlex.quote(dest)}/"
    )

    def run_once() -> Row:
        started = time.monotonic()
        with tempfile.TemporaryFile() as tar:
            subprocess.run(
                ["git", "-C", str(repo), "archive", "--format=tar", "--prefix=cinderx-src/", "main"],
                stdout=tar,
                check=True,
            )
            size = tar.tell()
            tar.seek(0)
            push = subprocess.run([*ssh, host.target.host, remote], stdin=tar, capture_output=True, check=False)
        if push.returncode != 0:
            raise SystemExit(f"tar approach failed: {push.stderr.decode(errors='replace').strip()}")
        return Row(label, "", None, size, time.monotonic() - started)

    first = run_once()
    rows = [Row(label, "first sync", None, first.bytes_sent, first.seconds)]
    rows.append(median_row(label, "no-op re-sync", [run_once() for _ in range(repeat)]))
    changes = []
    for _ in range(repeat):
        edit_one_file(repo, counter)
        changes.append(run_once())
    rows.append(median_row(label, "one-file change", changes))
    return rows


def measure_commands(host: SshHost, count: int) -> float:
    host.run("true")  # connect first: the target is per-command latency
    started = time.monotonic()
    for _ in range(count):
        result = host.run("true")
        if not result.ok:
            raise SystemExit(f"remote true failed: {result.tail(2)}")
    return time.monotonic() - started


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=2500)
    parser.add_argument("--mb", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the no-op and one-file steps (median)")
    parser.add_argument("--commands", type=int, default=100)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="armjit-sync-bench-") as tmp:
        base = Path(tmp)
        repo = base / "cinderx"
        repo.mkdir()
        started = time.monotonic()
        git(repo, "init", "-q", "-b", "main")
        files, tree_bytes = generate_tree(repo, args.files, args.mb)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "generated CinderX-shaped tree")
        print(f"tree: {files} files, {tree_bytes / 1e6:.1f} MB (generated in {time.monotonic() - started:.1f}s)")
        try:
            server = start_sshd(base / "sshd")
        except SshdUnavailable as exc:
            print(f"cannot run: {exc}", file=sys.stderr)
            return 2
        target = SshTarget(
            host=server.host,
            user=server.user,
            port=server.port,
            key=str(server.key_path),
            known_hosts=server.known_hosts_path,
            strict=False,
            ssh_config=None,
            connect_timeout=10,
        )
        host = SshHost(target)
        counter = [0]
        try:
            remote_root = base / "remote host" / "work dir"
            rows: list[Row] = []
            for method in ("rsync", "python"):
                rows += measure_transport(host, repo, str(remote_root / method), method, args.repeat, counter)
            rows += measure_archive(host, repo, str(remote_root / "archive"), args.repeat, counter)
            command_seconds = measure_commands(host, args.commands)
        finally:
            host.close()
            server.stop()

    table_rows = []
    for row in rows:
        share = 100 * row.bytes_sent / tree_bytes
        target_text, ok = "", None
        if row.approach in ("rsync", "python") and row.step == "one-file change":
            target_text, ok = "< 1% and < 1 s", share < 1 and row.seconds < 1
        elif row.approach in ("rsync", "python") and row.step == "no-op re-sync":
            target_text, ok = "< 0.5 s", row.seconds < 0.5
        table_rows.append(
            [
                row.approach,
                row.step,
                "" if row.files_sent is None else row.files_sent,
                f"{row.bytes_sent:,}",
                f"{share:.3f}%",
                f"{row.seconds:.3f}",
                target_text,
                "" if ok is None else verdict(ok),
            ]
        )
    table_rows.append(
        [
            "SshHost.run",
            f"{args.commands} x true, one connection",
            "",
            "",
            "",
            f"{command_seconds:.3f}",
            "< 3 s",
            verdict(command_seconds < 3),
        ]
    )
    headers = ["approach", "step", "files sent", "bytes sent", "of tree", "seconds", "target", ""]
    print(table(table_rows, headers))
    print(f"(no-op and one-file rows: median of {args.repeat} runs; sshd on 127.0.0.1)")
    return 0 if all(r[-1] != "MISSED" for r in table_rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
