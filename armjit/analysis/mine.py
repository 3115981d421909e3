"""Mining JIT logs: collect a run's (or any) logs, add them up per mode, diff two sets, render.

``collect`` is the only part that looks at the disk (through armjit.seams.store and jitlog.read_log);
everything after it is pure: data in, frozen records or text out. The same rows feed the console
tables ("simple") and the notes blocks ("github").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armjit.errors import UsageError
from armjit.jitlog import (
    Aggregate,
    FailureSummary,
    aggregate,
    assign_roles,
    log_identity,
    read_log,
)
from armjit.render import TableFormat, table
from armjit.seams.store import RunDir, RunStore

__all__ = [
    "Candidate",
    "FunctionDiff",
    "LogInput",
    "MineReport",
    "SizeDiff",
    "candidate_table",
    "candidates",
    "collect",
    "diff",
    "diff_json",
    "mine",
    "mined_findings_block",
    "render_diff",
    "render_report",
    "report_json",
    "source_area",
]

LOG_SUFFIXES = (".log",)


# ============================================================================ inputs ===========
@dataclass(frozen=True)
class LogInput:
    path: Path
    group: str  # the mode of a run, else the per-process log stem
    console: bool = False  # a step's console transcript: crash signatures only


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
            for rel in logs if isinstance(logs, list) else []:
                path = run.path / str(rel)
                if not path.is_file():
                    raise UsageError(f"run {run.run_id} lists JIT log {rel} but the file is missing")
                inputs.append(LogInput(path, str(mode)))
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


# ============================================================================ mining ===========
@dataclass(frozen=True)
class MineReport:
    label: str
    overall: Aggregate
    groups: tuple[Aggregate, ...]  # one per mode (or per log group), in input order


def mine(label: str, inputs: Sequence[LogInput], *, jobs: int | None = None) -> MineReport:
    """Parse every input and add them up; refuse input in which nothing is a JIT or crash line."""
    parsed = [(i, read_log(i.path, jobs=jobs, group=i.group)) for i in inputs]
    jit = assign_roles([log for i, log in parsed if not i.console])
    console = [log.with_role("console") for i, log in parsed if i.console]
    logs = jit + console
    if not any(log.jit_lines or log.crashes for log in logs):
        why = "; ".join(f"{Path(log.source).name}: {', '.join(log.notes) or 'no JIT lines'}" for log in logs[:5])
        raise UsageError(f"nothing to mine: no CinderX JIT log lines in the input ({why})")
    order: list[str] = []
    for log in logs:
        if log.group not in order:
            order.append(log.group)
    groups = tuple(aggregate([log for log in logs if log.group == g], g) for g in order)
    return MineReport(label, aggregate(logs, label), groups)


# ============================================================================ candidates =======
_AREAS = {
    "unsupported-opcode": "Jit/hir/builder.cpp (bytecode -> HIR translation)",
    "unhandled-opcode": "Jit/hir/builder.cpp (bytecode -> HIR translation)",
    "hir": "Jit/hir/builder.cpp, Jit/hir/ passes",
    "banned-global": "Jit/pyjit.cpp (compile policy: banned builtins)",
    "code-flags": "Jit/pyjit.cpp (compile policy: code flags)",
    "prohibited-flags": "Jit/pyjit.cpp (compile policy: code flags)",
    "cannot": "Jit/pyjit.cpp (compile policy)",
    "refused": "Jit/compiler.cpp (globals/builtins checks)",
    "native-codegen": "Jit/codegen/ (gen_asm.cpp, autogen.cpp)",
    "exception": "Jit/codegen/gen_asm.cpp (asmjit runtime)",
    "background": "Jit/pyjit.cpp (background compile)",
    "unmatched": "Jit/compiler.cpp (crash or silent failure while compiling)",
}


def source_area(kind: str) -> str:
    """The CinderX source area a failure kind most likely points at."""
    return _AREAS.get(kind, "Jit/")


def _crash_area(signature: str) -> str:
    lowered = signature.lower()
    if "opcode" in lowered:
        return _AREAS["unhandled-opcode"]
    if "operand type" in lowered or "emit code" in lowered:
        return "Jit/codegen/autogen.cpp (lowering)"
    if " at jit/" in lowered:
        return signature.split(" at ", 1)[1].split(":", 1)[0]
    if "sigsegv" in lowered or "sigbus" in lowered:
        return "Jit/codegen/, Jit/deopt (generated code or runtime)"
    return "Jit/ (see the abort text)"


@dataclass(frozen=True)
class Candidate:
    """One row of the task_plan decision table."""

    target: str  # a function, or "crash: <signature>"
    reason: str
    occurrences: int  # processes in which it happened
    area: str


def candidates(report: MineReport) -> list[Candidate]:
    """Failures and crashes worth a look, most frequent first."""
    rows = [Candidate(f.function, f.reason, f.processes, source_area(f.kind)) for f in report.overall.failures]
    rows += [
        Candidate(f"crash: {sig}", "crash signature", procs, _crash_area(sig))
        for sig, procs, _events in report.overall.crashes
    ]
    return sorted(rows, key=lambda c: (-c.occurrences, c.reason, c.target))


# ============================================================================ JSON =============
def report_json(report: MineReport, top: int | None = None) -> dict[str, Any]:
    """The documented ``invoke mine --json`` shape (plus per-mode and per-input details)."""
    agg = report.overall
    funcs = _by_size(agg)
    if top is not None:
        funcs = funcs[:top]
    return {
        "label": report.label,
        "processes": len(agg.processes),
        "compiled": _compiled(agg),
        "failed": agg.failed,
        "failures": [
            {
                "function": f.function,
                "reason": f.reason,
                "kind": f.kind,
                "detail": f.detail,
                "opcode": f.opcode,
                "opcode_name": f.opcode_name,
                "count": f.processes,
                "events": f.events,
            }
            for f in agg.failures
        ],
        "functions": [
            {
                "name": f.name,
                "code_size": f.code_size,
                "compile_us": f.compile_us,
                "count": f.processes,
                "compiles": f.compiles,
            }
            for f in funcs
        ],
        "thresholds": {"calls": agg.thresholds.calls, "bytecodes": agg.thresholds.bytecodes},
        "crashes": [{"signature": s, "count": p, "events": e} for s, p, e in agg.crashes],
        "unrecognised_lines": agg.unrecognised,
        "unsupported_opcodes": [
            {"opcode": op, "opcode_name": name, "count": n, "functions": fs} for op, name, n, fs in _opcodes(agg)
        ],
        "deopts": [
            {"function": d.function, "reason": d.reason, "description": d.description, "count": d.count}
            for d in agg.deopts
        ],
        "modes": {
            g.label: {
                "processes": len(g.processes),
                "compiled": _compiled(g),
                "failed": g.failed,
                "thresholds": {"calls": g.thresholds.calls, "bytecodes": g.thresholds.bytecodes},
            }
            for g in report.groups
        },
        "inputs": [
            {
                "path": log.source,
                "group": log.group,
                "role": log.role,
                "pid": log.pid,
                "lines": log.lines,
                "compiled": log.compiled,
                "failed": log.failed,
                "unrecognised_lines": log.unrecognised,
                "notes": list(log.notes),
            }
            for log in agg.logs
        ],
    }


def _compiled(agg: Aggregate) -> dict[str, int]:
    return {"total": agg.compiled, "main": agg.compiled_main, "other": agg.compiled - agg.compiled_main}


def _by_size(agg: Aggregate) -> list[Any]:
    return sorted(agg.functions, key=lambda f: (-f.code_size, f.name))


def _opcodes(agg: Aggregate) -> list[tuple[int | None, str | None, int, list[str]]]:
    """(opcode, name, processes, functions) for unsupported/unhandled opcodes, most frequent first."""
    table_: dict[tuple[int | None, str | None], list[Any]] = {}
    for f in agg.failures:
        if f.kind in ("unsupported-opcode", "unhandled-opcode"):
            rec = table_.setdefault((f.opcode, f.opcode_name), [0, []])
            rec[0] += f.processes
            if f.function not in rec[1]:
                rec[1].append(f.function)
    return sorted(
        ((op, name, n, sorted(fs)) for (op, name), (n, fs) in table_.items()),
        key=lambda r: (-r[2], r[0] or 0),
    )


# ============================================================================ tables ===========
def _names(items: Iterable[str], limit: int = 6) -> str:
    items = list(items)
    more = f" (+{len(items) - limit})" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _compiles_rows(report: MineReport) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for g in report.groups:
        if not g.processes:
            continue
        rows.append([g.label, len(g.processes), g.compiled_main, g.compiled - g.compiled_main, g.compiled, g.failed])
    agg = report.overall
    rows.append(
        ["total", len(agg.processes), agg.compiled_main, agg.compiled - agg.compiled_main, agg.compiled, agg.failed]
    )
    return rows


def _failure_groups(failures: Sequence[FailureSummary]) -> list[list[Any]]:
    groups: dict[str, list[FailureSummary]] = {}
    for f in failures:
        groups.setdefault(f.reason, []).append(f)
    rows = [
        [reason, len(fs), max(f.processes for f in fs), _names(f"{f.function} ({f.processes})" for f in fs)]
        for reason, fs in groups.items()
    ]
    return sorted(rows, key=lambda r: (-r[2], -r[1], r[0]))


def _sections(report: MineReport, top: int, fmt: TableFormat) -> list[tuple[str, str]]:
    agg = report.overall
    out: list[tuple[str, str]] = []
    out.append(
        (
            "Compiles per mode",
            table(_compiles_rows(report), ["mode", "processes", "main", "other", "total", "failed"], fmt),
        )
    )
    out.append(
        (
            "Processes",
            table(
                [
                    [
                        Path(log.source).name,
                        log.group,
                        log.role,
                        log.lines,
                        log.compiled,
                        log.failed,
                        log.unrecognised,
                        "; ".join(log.notes),
                    ]
                    for log in agg.logs
                ],
                ["log", "mode", "role", "lines", "compiled", "failed", "unrecognised", "notes"],
                fmt,
            ),
        )
    )
    by_size = _by_size(agg)[:top]
    out.append(
        (
            f"Top {top} functions by code size",
            table(
                [[f.name, f.code_size, f.processes, f.compiles] for f in by_size],
                ["function", "bytes", "processes", "compiles"],
                fmt,
            ),
        )
    )
    by_time = sorted(agg.functions, key=lambda f: (-f.compile_us, f.name))[:top]
    out.append(
        (
            f"Top {top} functions by compile time",
            table(
                [[f.name, f"{f.compile_us / 1000:.1f}", f.mean_us, f.compiles] for f in by_time],
                ["function", "total ms", "mean µs", "compiles"],
                fmt,
            ),
        )
    )
    out.append(
        (
            "Failures by reason",
            table(_failure_groups(agg.failures)[:top], ["reason", "functions", "processes", "which (processes)"], fmt)
            if agg.failures
            else "none",
        )
    )
    ops = _opcodes(agg)[:top]
    out.append(
        (
            "Unsupported opcodes",
            table([[op, name, n, _names(fs)] for op, name, n, fs in ops], ["opcode", "name", "count", "functions"], fmt)
            if ops
            else "none",
        )
    )
    out.append(
        (
            "Crash signatures",
            table([[s, p, e] for s, p, e in agg.crashes[:top]], ["signature", "processes", "events"], fmt)
            if agg.crashes
            else "none",
        )
    )
    out.append(
        (
            "Effective thresholds (from the logs)",
            table(
                [
                    [g.label, g.thresholds.calls, g.thresholds.bytecodes, _disagree(g)]
                    for g in report.groups
                    if g.processes
                ],
                ["mode", "calls", "bytecodes", "note"],
                fmt,
            ),
        )
    )
    if agg.deopts:
        out.append(
            (
                "Deopts",
                table(
                    [[d.function, d.reason, d.description, d.count] for d in agg.deopts[:top]],
                    ["function", "reason", "description", "count"],
                    fmt,
                ),
            )
        )
    return out


def _disagree(agg: Aggregate) -> str:
    notes = [f"{name} differ: {values}" for name, values in agg.threshold_values if len(values) > 1]
    if agg.thresholds.calls is None and agg.thresholds.bytecodes is None:
        notes.append("not logged (jitlist only, or PYTHONJITDEBUG off)")
    return "; ".join(notes)


def render_report(report: MineReport, top: int = 10) -> str:
    """Console tables."""
    parts = [f"JIT logs: {report.label}"]
    for title, body in _sections(report, top, "simple"):
        parts.append(f"\n{title}\n{body}")
    parts.append(f"\nunrecognised lines: {report.overall.unrecognised}")
    return "\n".join(parts) + "\n"


def mined_findings_block(report: MineReport, top: int = 10) -> str:
    """The notes.md section: a few plain findings, then the same tables in markdown."""
    agg = report.overall
    roles: dict[str, int] = {}
    for log in agg.processes:
        roles[log.role] = roles.get(log.role, 0) + 1
    bullets = [
        f"- Source: {report.label}; {len(agg.processes)} processes ("
        + ", ".join(f"{n} {r}" for r, n in sorted(roles.items()))
        + ")",
        f"- Compiled: {agg.compiled} (`__main__`: {agg.compiled_main}, other: {agg.compiled - agg.compiled_main});"
        f" failed: {agg.failed} function compiles",
    ]
    for reason_row in _failure_groups(agg.failures)[:3]:
        bullets.append(f"- Failure: {reason_row[0]}: {reason_row[3]}")
    for op, name, n, fs in _opcodes(agg)[:3]:
        bullets.append(f"- Unsupported opcode {op} ({name}) in {n} processes: {_names(fs)}")
    for sig, procs, _ in agg.crashes[:3]:
        bullets.append(f"- Crash in {procs} processes: `{sig}`")
    if agg.unrecognised:
        bullets.append(f"- {agg.unrecognised} log lines were not recognised")
    text = [f"## JIT log mining: {report.label}", "", *bullets]
    for title, body in _sections(report, top, "github"):
        if title == "Processes":
            continue
        text += ["", f"### {title}", "", body]
    return "\n".join(text) + "\n"


def candidate_table(report: MineReport, top: int = 10) -> str:
    """The task_plan.md decision table: what failed or crashed, how often, and where to look."""
    rows = [[c.target, c.reason, c.occurrences, c.area] for c in candidates(report)[:top]]
    head = f"## Candidates from the JIT logs ({report.label})\n\n"
    if not rows:
        return head + "No compile failures or crashes in the logs.\n"
    return head + table(rows, ["function", "reason", "occurrences", "likely source area"], "github") + "\n"


# ============================================================================ diff =============
def _status(agg: Aggregate) -> dict[str, str]:
    compiled = {f.name for f in agg.functions}
    failed = {f.function for f in agg.failures}
    status = {name: "compiled" for name in compiled}
    for name in failed:
        status[name] = "mixed" if name in compiled else "failed"
    return status


@dataclass(frozen=True)
class FunctionDiff:
    name: str
    size_from: int | None
    size_to: int | None
    status_from: str  # compiled, failed, mixed (compiled in some processes, failed in others), absent
    status_to: str

    @property
    def delta(self) -> int | None:
        if self.size_from is None or self.size_to is None:
            return None
        return self.size_to - self.size_from

    @property
    def pct(self) -> float | None:
        if self.delta is None or not self.size_from:
            return None
        return 100.0 * self.delta / self.size_from

    @property
    def change(self) -> str:
        was, now = self.status_from in ("compiled", "mixed"), self.status_to in ("compiled", "mixed")
        if now and not was:
            return "newly compiled"
        if was and not now:
            return "newly failing" if self.status_to in ("failed",) else "no longer compiled"
        if self.status_to == "failed" and self.status_from == "absent":
            return "newly failing"
        if self.delta:
            return "bigger" if self.delta > 0 else "smaller"
        return "same"


@dataclass(frozen=True)
class SizeDiff:
    """Compiled code from -> to, per function and in total: the data of a compiled-size guard."""

    label_from: str
    label_to: str
    rows: tuple[FunctionDiff, ...]
    total_from: int  # sum of per-function sizes (largest per function), all compiled functions
    total_to: int
    compiled_from: int  # Finished-compiling events
    compiled_to: int
    failed_from: int
    failed_to: int

    @property
    def common(self) -> tuple[FunctionDiff, ...]:
        """Functions compiled in both sets: the fair basis for a size comparison."""
        return tuple(r for r in self.rows if r.delta is not None)

    @property
    def common_from(self) -> int:
        return sum(r.size_from or 0 for r in self.common)

    @property
    def common_to(self) -> int:
        return sum(r.size_to or 0 for r in self.common)

    @staticmethod
    def _pct(a: int, b: int) -> float | None:
        return 100.0 * (b - a) / a if a else None

    @property
    def total_pct(self) -> float | None:
        return self._pct(self.total_from, self.total_to)

    @property
    def common_pct(self) -> float | None:
        return self._pct(self.common_from, self.common_to)

    def changed(self, change: str) -> tuple[FunctionDiff, ...]:
        return tuple(r for r in self.rows if r.change == change)

    def violations(self, max_growth_pct: float, *, per_function: bool = False) -> list[str]:
        """What breaks a size guard of ``max_growth_pct`` (common functions' total, or each)."""
        out = []
        pct = self.common_pct
        if pct is not None and pct > max_growth_pct:
            out.append(
                f"compiled size of common functions grew {pct:+.1f}% ({self.common_from} -> {self.common_to} bytes)"
            )
        if per_function:
            for r in self.common:
                if r.pct is not None and r.pct > max_growth_pct:
                    out.append(f"{r.name} grew {r.pct:+.1f}% ({r.size_from} -> {r.size_to} bytes)")
        out += [f"{r.name} now fails to compile" for r in self.changed("newly failing")]
        return out


def diff(a: Aggregate, b: Aggregate) -> SizeDiff:
    sa, sb = {f.name: f.code_size for f in a.functions}, {f.name: f.code_size for f in b.functions}
    ta, tb = _status(a), _status(b)
    names = sorted(set(ta) | set(tb))
    rows = tuple(FunctionDiff(n, sa.get(n), sb.get(n), ta.get(n, "absent"), tb.get(n, "absent")) for n in names)
    return SizeDiff(
        a.label, b.label, rows, a.total_code_size, b.total_code_size, a.compiled, b.compiled, a.failed, b.failed
    )


def _fmt_pct(p: float | None) -> str:
    return "" if p is None else f"{p:+.1f}%"


def diff_json(d: SizeDiff) -> dict[str, Any]:
    return {
        "from": d.label_from,
        "to": d.label_to,
        "total_code_size": {"from": d.total_from, "to": d.total_to, "pct": d.total_pct},
        "common_code_size": {"from": d.common_from, "to": d.common_to, "pct": d.common_pct},
        "compiled": {"from": d.compiled_from, "to": d.compiled_to},
        "failed": {"from": d.failed_from, "to": d.failed_to},
        "functions": [
            {
                "name": r.name,
                "size_from": r.size_from,
                "size_to": r.size_to,
                "delta": r.delta,
                "pct": r.pct,
                "status_from": r.status_from,
                "status_to": r.status_to,
                "change": r.change,
            }
            for r in d.rows
        ],
    }


def render_diff(d: SizeDiff, top: int = 10, fmt: TableFormat = "simple") -> str:
    totals = table(
        [
            ["code size, all compiled functions", d.total_from, d.total_to, _fmt_pct(d.total_pct)],
            ["code size, functions compiled in both", d.common_from, d.common_to, _fmt_pct(d.common_pct)],
            [
                "Finished compiling events",
                d.compiled_from,
                d.compiled_to,
                _fmt_pct(SizeDiff._pct(d.compiled_from, d.compiled_to)),
            ],
            [
                "failed function compiles",
                d.failed_from,
                d.failed_to,
                _fmt_pct(SizeDiff._pct(d.failed_from, d.failed_to)),
            ],
        ],
        ["", d.label_from, d.label_to, "change"],
        fmt,
    )
    key: Callable[[FunctionDiff], Any] = lambda r: (r.change == "same", -abs(r.delta or 0), r.name)  # noqa: E731
    interesting = sorted((r for r in d.rows if r.change != "same"), key=key)[:top]
    rows = table(
        [
            [r.name, r.size_from, r.size_to, r.delta, _fmt_pct(r.pct), f"{r.status_from} -> {r.status_to}", r.change]
            for r in interesting
        ],
        ["function", "bytes from", "bytes to", "delta", "%", "status", "change"],
        fmt,
    )
    counts = ", ".join(
        f"{len(d.changed(c))} {c}"
        for c in ("newly compiled", "newly failing", "no longer compiled", "bigger", "smaller")
    )
    return f"{d.label_from} -> {d.label_to}\n{totals}\n\n{counts}\n{rows if interesting else 'no function changed'}\n"
