"""Which logs to mine: a run's per-mode JIT logs and console transcripts, or any files and directories.

The only part of mining that looks at the disk (through armjit.seams.store); what it returns is
a plain list of paths and their groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from armjit.errors import UsageError
from armjit.jitlog import log_identity
from armjit.seams.store import RunDir, RunStore

__all__ = ["LOG_SUFFIXES", "LogInput", "collect"]

LOG_SUFFIXES = (".log",)


@dataclass(frozen=True)
class LogInput:
    path: Path
    group: str  # the mode of a run, else the per-process log stem
    console: bool = False  # a step's console transcript: crash signatures only
    bench: str = ""  # the benchmark, when the log's directory says (jitlogs/<mode>/<bench>/)
    benchmarks: tuple[str, ...] = ()  # the benchmarks the mode ran (the run's record)


def collect(refs: Sequence[str], store: RunStore) -> tuple[str, list[LogInput]]:
    """(label, inputs) for run ids, run directories, log files and log directories.

    No ref means the latest run. Bad input is a one-line UsageError.
    """
    if not refs:
        run = store.resolve("latest")
        return run.label(), _run_inputs(run)
    inputs: list[LogInput] = []
    labels: list[str] = []
    for ref in refs:
        path = Path(ref)
        if path.is_file():
            inputs.append(LogInput(path, log_identity(path)[0]))
            labels.append(path.name)
        elif path.is_dir() and (path / "run.json").is_file():
            run = store.resolve(path)
            inputs.extend(_run_inputs(run))
            labels.append(run.label())
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(LOG_SUFFIXES))
            if not files:
                raise UsageError(f"{ref}: no *.log files in this directory")
            inputs.extend(LogInput(p, log_identity(p)[0]) for p in files)
            labels.append(path.name or str(path))
        elif path.exists():
            raise UsageError(f"{ref} is neither a file nor a directory")
        else:
            try:
                run = store.resolve(ref)
            except UsageError:
                raise UsageError(f"no such log file, log directory or run: {ref}") from None
            inputs.extend(_run_inputs(run))
            labels.append(run.label())
    return " + ".join(labels), inputs


def _run_inputs(run: RunDir) -> list[LogInput]:
    manifest = run.manifest()
    modes = manifest.get("modes") or {}
    inputs: list[LogInput] = []
    if isinstance(modes, dict):
        for mode, record in modes.items():
            logs = record.get("jit_logs") if isinstance(record, dict) else None
            benches = record.get("benchmarks") if isinstance(record, dict) else None
            names = tuple(str(b) for b in benches) if isinstance(benches, list) else ()
            for rel in logs if isinstance(logs, list) else []:
                path = run.path / str(rel)
                if not path.is_file():
                    raise UsageError(f"run {run.run_id} lists JIT log {rel} but the file is missing")
                folder = path.parent.name
                inputs.append(LogInput(path, str(mode), bench=folder if folder in names else "", benchmarks=names))
    mode_names = [str(m) for m in modes] if isinstance(modes, dict) else []
    for step in manifest.get("steps") or []:
        rel = step.get("log") if isinstance(step, dict) else None
        if rel and (run.path / str(rel)).is_file():
            name = str(step.get("name", ""))
            group = next((m for m in mode_names if m in name), "console")
            inputs.append(LogInput(run.path / str(rel), group, console=True))
    if not any(not i.console for i in inputs):
        raise UsageError(f"run {run.run_id} has no JIT logs (modes{{}}.jit_logs is empty)")
    return inputs
