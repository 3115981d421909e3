"""The task_plan decision table's data: failures and crashes, and the CinderX source area to look at."""

from __future__ import annotations

from dataclasses import dataclass

from armjit.analysis.mine.report import MineReport

__all__ = ["Candidate", "candidates", "source_area"]

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
    "unmatched": "Jit/compiler.cpp (started, no reason logged)",
    "crash": "Jit/ (the process died while compiling: see the crash signature)",
    "logged": "Jit/",
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
    rows = [
        Candidate(
            f.function,
            f.message or f.reason,
            f.processes,
            f"{f.source} (writes this line)" if f.source else source_area(f.kind),
        )
        for f in report.overall.failures
    ]
    rows += [
        Candidate(f"crash: {sig}", "crash signature", procs, _crash_area(sig))
        for sig, procs, _events in report.overall.crashes
    ]
    return sorted(rows, key=lambda c: (-c.occurrences, c.reason, c.target))
