"""What one log says, as frozen records: one ProcessLog per file, with its functions, failures, crashes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["UNFINISHED", "Crash", "Deopt", "Failure", "FunctionStats", "ProcessLog", "Thresholds", "failure_reason"]

# Failure kinds of a compile that started and never finished.
UNFINISHED = ("unmatched", "crash")


@dataclass(frozen=True)
class Thresholds:
    """Effective auto-compile thresholds, as the JIT logged them (None = not logged)."""

    calls: int | None = None
    bytecodes: int | None = None


@dataclass(frozen=True)
class FunctionStats:
    """One function's successful compiles in one process."""

    name: str
    compiles: int
    code_size: int  # bytes of the largest compile (a recompile can differ)
    compile_us: int  # summed over the compiles
    total_size: int = 0  # bytes summed over the compiles

    @property
    def main(self) -> bool:
        return self.name.startswith("__main__:")


@dataclass(frozen=True)
class Failure:
    """Why one function did not compile in one process (the most specific reason seen)."""

    function: str
    kind: str  # unsupported-opcode, banned-global, code-flags, prohibited-flags, hir, refused,
    # native-codegen, exception, unhandled-opcode, background, logged (any other line naming
    # the function), unmatched (no line names it), crash (no line names it and the process died)
    detail: str = ""
    opcode: int | None = None
    opcode_name: str | None = None
    events: int = 1
    result_code: int | None = None  # "Background compile failed: N"
    message: str = ""  # the JIT's line, verbatim (after "JIT: file:line -- ")
    format: str = ""  # the JIT's format string it was written with ("" when no known format fits)
    source: str = ""  # the file of that format string, relative to cinderx/

    @property
    def group(self) -> str:
        """What failures are grouped by: the format string, else the reason."""
        return self.format or self.reason

    @property
    def reason(self) -> str:
        return failure_reason(self.kind, self.detail, self.opcode, self.opcode_name)


@dataclass(frozen=True)
class Crash:
    signature: str
    events: int = 1


@dataclass(frozen=True)
class Deopt:
    function: str
    reason: str
    description: str
    count: int


@dataclass(frozen=True)
class ProcessLog:
    """Everything one log file (one process, or one console transcript) says."""

    source: str
    pid: int | None
    group: str
    role: str  # parent, calibration, worker, single, process
    bytes_read: int
    lines: int
    unrecognised: int
    compile_starts: int
    functions: tuple[FunctionStats, ...]
    failures: tuple[Failure, ...]
    crashes: tuple[Crash, ...]
    thresholds: Thresholds
    inlines: int = 0
    batches: int = 0
    batch_callees: int = 0
    total_compile_ms: float | None = None
    exits: int = 0
    deopts: tuple[Deopt, ...] = ()
    hir_instructions: tuple[tuple[str, int], ...] = ()
    inlined: tuple[tuple[str, str, int], ...] = ()  # (callee, caller, times logged)
    jit_flags: tuple[str, ...] = ()
    threads: tuple[str, ...] = ()
    jit_lines: int = 0
    blank_lines: int = 0
    dump_lines: int = 0
    invalid_utf8_lines: int = 0
    nul_bytes: int = 0
    overlong_lines: int = 0
    truncated: bool = False
    crlf: bool = False
    notes: tuple[str, ...] = ()
    benchmark: str = ""  # set by whoever knows it (the log's directory, or its __main__ functions)

    @property
    def compiled(self) -> int:
        return sum(f.compiles for f in self.functions)

    @property
    def compiled_main(self) -> int:
        return sum(f.compiles for f in self.functions if f.main)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def is_jit_log(self) -> bool:
        return self.jit_lines > 0

    def with_role(self, role: str) -> ProcessLog:
        return dataclasses.replace(self, role=role)


def failure_reason(kind: str, detail: str, opcode: int | None, opcode_name: str | None) -> str:
    """A short, groupable reason text."""
    if kind in ("unsupported-opcode", "unhandled-opcode"):
        verb = "unsupported" if kind == "unsupported-opcode" else "unhandled (abort)"
        return f"{verb} opcode {opcode} ({opcode_name})"
    texts = {
        "banned-global": f"banned global '{detail}'",
        "code-flags": f"code flags {detail}",
        "prohibited-flags": f"prohibited code flags {detail}",
        "hir": f"HIR: {detail}",
        "cannot": f"cannot compile: {detail}",
        "refused": f"refused: {detail}",
        "native-codegen": "native code generation failed",
        "exception": f"exception: {detail}",
        "background": f"background compile failed ({detail})",
        "unmatched": "started, never finished: no reason logged",
        "crash": f"started, never finished: the process died ({detail})",
        "logged": detail,
    }
    return texts.get(kind, f"{kind}: {detail}" if detail else kind)
