"""Roles of per-pid logs: which process of a pyperf run was the parent, the calibration, a worker."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from armjit.jitlog.records import ProcessLog

__all__ = ["assign_roles"]


def assign_roles(logs: Sequence[ProcessLog]) -> list[ProcessLog]:
    """Tell pyperf's parent and calibration processes from workers, per group of pid logs.

    pyperf's parent starts first (lowest pid) and runs no benchmark loop, so it compiles little;
    its first child calibrates the loop count. A lowest-pid log with fewer than half the median
    compiles of the others is the parent; the next pid is then the calibration run. Logs without
    a pid (or groups too small to judge) keep the role "single"/"process".
    """
    out: list[ProcessLog] = []
    groups: dict[str, list[ProcessLog]] = {}
    for log in logs:
        groups.setdefault(log.group, []).append(log)
    roles: dict[int, str] = {}
    for members in groups.values():
        with_pid = sorted((m for m in members if m.pid is not None), key=lambda m: m.pid or 0)
        if len(with_pid) < 3:
            for m in with_pid:
                roles[id(m)] = "process"
            continue
        first, rest = with_pid[0], with_pid[1:]
        use_main = any(m.compiled_main for m in rest)

        def key(m: ProcessLog, use_main: bool = use_main) -> int:
            return m.compiled_main if use_main else m.compiled

        median = statistics.median(key(m) for m in rest)
        if median > 0 and key(first) < median / 2:
            roles[id(first)] = "parent"
            roles[id(rest[0])] = "calibration"
            for m in rest[1:]:
                roles[id(m)] = "worker"
        else:
            for m in with_pid:
                roles[id(m)] = "worker"
    for log in logs:
        role = roles.get(id(log), "single" if log.pid is None else "process")
        out.append(log.with_role(role))
    return out
