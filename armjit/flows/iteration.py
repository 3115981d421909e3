"""Where the iteration stands, and the task_plan.md tables: phases, decisions, errors.

Every step leaves a run record (``reports/runs/<id>/run.json`` with ``kind`` red, green or
handoff) and its evidence in the notes: progress.md's Test Results table, task_plan.md's phases,
Decisions Made and Errors Encountered tables, each inside an armjit marked block. task_plan.md's
tables are rendered from the iteration state beside the notes (armjit.flows.task_plan).

Where the iteration stands is read from the run records only, never from the notes: the current
iteration is every record after the last pushed handoff.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from armjit.errors import UsageError
from armjit.flows import task_plan
from armjit.flows.task_plan import add_decision, record_error, resolve_errors
from armjit.render.tables import markdown_header
from armjit.seams import notes
from armjit.seams.store import RunStore, run_status

__all__ = [
    "PHASES",
    "STEPS",
    "IterationState",
    "StepState",
    "add_decision",
    "fleets_as_one",
    "iteration_state",
    "iteration_window",
    "latest_record",
    "load_manifests",
    "mined_source",
    "phases_block",
    "record_error",
    "resolve_errors",
    "status_rows",
    "update_plan",
]

STEPS = ("baseline", "mine", "red", "green", "verify", "handoff")
PHASES = {
    "baseline": ("Baseline", "`invoke baseline`: build, gates, every JIT mode benchmarked"),
    "mine": ("Mine the JIT logs", "`invoke mine`: compile counts, failures, unsupported opcodes"),
    "red": ("RED: a targeted test fails", "`invoke red -k NAME`: the new test fails on the current build"),
    "green": ("GREEN: the same test passes", "`invoke green -k NAME --deploy`: it passes after the change"),
    "verify": ("Verify from -> to", "`invoke verify`: the baseline's parameters on the head, with a verdict"),
    "handoff": ("Handoff", "`invoke handoff --commit -m MSG --push REMOTE`"),
}
TEST_HEADER = (
    "## Test Results",
    "",
    *markdown_header(["Test", "Input", "Expected", "Actual", "Status", "Output excerpt", "Run"]),
)
MINE_BLOCK = "mine-findings"  # the block ``invoke mine`` writes into notes.md


# -- where the iteration stands ------------------------------------------------------------------


@dataclass(frozen=True)
class StepState:
    name: str
    done: bool
    run_id: str | None
    detail: str


@dataclass(frozen=True)
class IterationState:
    steps: tuple[StepState, ...]
    verdict: str | None
    next_step: str | None
    since: str | None  # the pushed handoff the iteration started after
    abandoned: tuple[str, ...] = ()  # runs of this iteration whose process is gone; never evidence

    def step(self, name: str) -> StepState:
        return next(s for s in self.steps if s.name == name)


def load_manifests(reports: Path) -> list[dict[str, Any]]:
    """Every run record under ``reports/runs``, oldest first (an unreadable one is skipped)."""
    found = []
    for run in RunStore(reports / "runs").runs():
        try:
            manifest = run.manifest()
        except UsageError:
            continue
        # The status as a reader must see it: a run whose process is gone shows as "abandoned".
        found.append({**manifest, "run_id": manifest.get("run_id") or run.run_id, "status": run_status(manifest)})
    return sorted(found, key=_order_key)


def _order_key(manifest: dict[str, Any]) -> tuple[dt.datetime, str]:
    """When a run started (run ids only have seconds: a red and a green can share one)."""
    run_id = str(manifest.get("run_id"))
    for text, fmt in ((manifest.get("started"), None), (run_id[:16], "%Y%m%dT%H%M%SZ")):
        try:
            when = dt.datetime.fromisoformat(str(text)) if fmt is None else dt.datetime.strptime(str(text), fmt)
        except ValueError:
            continue
        return (when if when.tzinfo else when.replace(tzinfo=dt.UTC), run_id)
    return (dt.datetime.min.replace(tzinfo=dt.UTC), run_id)


def _is_benchmark_baseline(m: dict[str, Any], verify_targets: set[str]) -> bool:
    # Deploy-only runs (red/green --deploy) skip the benchmarks; verify's fresh re-run is its "to".
    settings = m.get("settings") or {}
    return m.get("kind") == "baseline" and not settings.get("skip_pyperf") and m.get("run_id") not in verify_targets


def iteration_window(manifests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """The records of the current iteration; a pushed handoff that is the newest record closes
    the iteration it belongs to, which is still shown until something new starts."""
    pushed = [i for i, m in enumerate(manifests) if m.get("kind") == "handoff" and m.get("pushed")]
    if not pushed:
        return manifests, None
    last = pushed[-1]
    if last == len(manifests) - 1:
        start = pushed[-2] + 1 if len(pushed) > 1 else 0
        since = manifests[pushed[-2]]["run_id"] if len(pushed) > 1 else None
        return manifests[start:], since
    return manifests[last + 1 :], str(manifests[last]["run_id"])


def latest_record(records: list[dict[str, Any]], kind: str, ok: bool = True) -> dict[str, Any] | None:
    for m in reversed(records):
        if m.get("kind") == kind and (not ok or m.get("status") == "ok"):
            found: dict[str, Any] = m
            return found
    return None


def fleets_as_one(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with each red/green fleet as one record, where its last host's record was:
    its id is the fleet's, and it is ok only when every host of the fleet met the step (a host
    with no record, one that never connected, did not). Records of no fleet pass unchanged."""
    members: dict[str, dict[str, dict[str, Any]]] = {}
    last: dict[str, int] = {}
    for index, m in enumerate(records):
        fleet = _targeted_fleet(m)
        if fleet is not None:
            name = str(fleet.get("host") or m.get("run_id"))  # the host as --hosts named it
            members.setdefault(str(fleet["id"]), {})[name] = m
            last[str(fleet["id"])] = index
    if not members:
        return records
    out = []
    for index, m in enumerate(records):
        fleet = _targeted_fleet(m)
        if fleet is None:
            out.append(m)
        elif last[str(fleet["id"])] == index:
            out.append(_fleet_record(m, fleet, members[str(fleet["id"])]))
    return out


def _targeted_fleet(m: dict[str, Any]) -> dict[str, Any] | None:
    """The fleet a red/green record is one host of, or None."""
    fleet = m.get("fleet") if m.get("kind") in ("red", "green") else None
    return fleet if isinstance(fleet, dict) and fleet.get("id") else None


def _fleet_record(latest: dict[str, Any], fleet: dict[str, Any], by_host: dict[str, dict[str, Any]]) -> dict[str, Any]:
    hosts = [str(h) for h in fleet.get("hosts") or by_host]
    missed = []
    for host in hosts:
        t = (by_host.get(host) or {}).get("targeted") or {}
        if host not in by_host:
            missed.append(f"{host}: no result")
        elif by_host[host].get("status") != "ok":
            missed.append(f"{host}: {t.get('reason') or by_host[host].get('status')}")
    verdicts = sorted({str((m.get("targeted") or {}).get("verdict")) for m in by_host.values()})
    targeted = {
        "keyword": (latest.get("targeted") or {}).get("keyword"),
        "ok": not missed,
        "verdict": f"{'/'.join(verdicts)} on {len(hosts)} hosts",
        "reason": "; ".join(missed),
    }
    return {
        **{k: latest.get(k) for k in ("kind", "started", "commits")},
        "run_id": str(fleet["id"]),
        "status": "ok" if not missed else "failed",
        "targeted": targeted,
        "fleet": fleet,
        "runs": {h: m.get("run_id") for h, m in by_host.items()},
    }


def _detail(m: dict[str, Any]) -> str:
    kind = m.get("kind")
    if kind in ("red", "green"):
        t = m.get("targeted") or {}
        if not t:
            return str(m.get("status", ""))
        return f"-k {t.get('keyword')}: " + (str(t.get("verdict")) if t.get("ok") else f"not met, {t.get('reason')}")
    if kind == "verify":
        return f"verdict: {m.get('verdict')}"
    if kind == "mine" and m.get("source"):
        return f"notes.md: {m['source']}"
    if kind == "handoff":
        parts = [f"commit {str(m.get('committed'))[:10]}" if m.get("committed") else "", f"pushed to {m['pushed']}"]
        return ", ".join(p for p in parts if p and not p.endswith("None"))
    if kind == "baseline":
        commit = str((m.get("commits") or {}).get("commit") or "")[:10]
        flagged = [
            f"{mode}/{bench} ({r['gate']['flag']})"
            for mode, record in (m.get("modes") or {}).items()
            for bench, r in ((record or {}).get("results") or {}).items()
            if isinstance(r, dict) and isinstance(r.get("gate"), dict) and r["gate"].get("flag")
        ]
        flags = f"; compiled nothing: {', '.join(flagged)}" if flagged else ""
        return f"{m.get('status')}" + (f" at {commit}" if commit else "") + flags
    return str(m.get("status", ""))


def iteration_state(manifests: list[dict[str, Any]], mined: str | None = None) -> IterationState:
    """Which steps the current iteration has done, from run records (oldest first). Pure.

    ``invoke mine`` keeps no run record: ``mined`` is the source line of its notes.md block, and
    mining counts when that line names a run of the current iteration.
    """
    records, since = iteration_window(manifests)
    verify_targets = {str(m.get("to_run")) for m in manifests if m.get("kind") == "verify"}
    abandoned = tuple(str(m["run_id"]) for m in records if m.get("status") == "abandoned")
    records = fleets_as_one(records)  # a red/green on several hosts is one step, met on all or not met
    found: dict[str, dict[str, Any] | None] = {
        "baseline": next((m for m in reversed(records) if _is_benchmark_baseline(m, verify_targets)), None),
        "mine": latest_record(records, "mine"),
        "red": latest_record(records, "red"),
        "green": latest_record(records, "green"),
        "verify": next((m for m in reversed(records) if m.get("kind") == "verify" and m.get("verdict")), None),
        "handoff": next((m for m in reversed(records) if m.get("kind") == "handoff" and m.get("pushed")), None),
    }
    if found["mine"] is None and mined:
        named = [m for m in records if str(m.get("run_id")) in mined]
        if named:
            found["mine"] = {"run_id": named[-1]["run_id"], "kind": "mine", "status": "ok", "source": mined}
    if found["baseline"] is not None and found["baseline"].get("status") != "ok":
        found["baseline"] = next(
            (m for m in reversed(records) if _is_benchmark_baseline(m, verify_targets) and m.get("status") == "ok"),
            found["baseline"],
        )
    steps = []
    for name in STEPS:
        m = found[name]
        done = m is not None and (m.get("status") == "ok" or name in ("verify", "handoff"))
        if not done:
            # Say what the last attempt did, when there was one.
            m = m or latest_record(records, name, ok=False)
            detail = f"last attempt: {_detail(m)}" if m is not None else ""
        else:
            detail = _detail(m) if m is not None else ""
        steps.append(StepState(name, done, m.get("run_id") if m is not None else None, detail))
    verdict = found["verify"].get("verdict") if found["verify"] is not None else None
    next_step = next((s.name for s in steps if not s.done), None)
    return IterationState(tuple(steps), str(verdict) if verdict else None, next_step, since, abandoned)


def status_rows(state: IterationState) -> list[tuple[str, str, str, str]]:
    return [(s.name, "done" if s.done else "-", s.run_id or "", s.detail) for s in state.steps]


def phases_block(state: IterationState) -> str:
    """task_plan.md's Current Phase and Phases (checkboxes and status), from the run records."""
    current = STEPS.index(state.next_step) + 1 if state.next_step else len(STEPS)
    title = PHASES[STEPS[current - 1]][0]
    lines = ["## Current Phase", "", f"Phase {current}: {title}" + ("" if state.next_step else " (complete)"), ""]
    lines += ["## Phases", ""]
    for number, step in enumerate(state.steps, 1):
        name, what = PHASES[step.name]
        status = "complete" if step.done else "in_progress" if step.name == state.next_step else "pending"
        lines.append(f"### Phase {number}: {name}")
        evidence = f" (run `{step.run_id}`: {step.detail})" if step.done and step.run_id else ""
        lines.append(f"- [{'x' if step.done else ' '}] {what}{evidence}")
        if not step.done and step.detail:
            lines.append(f"- {step.detail} (run `{step.run_id}`)")
        lines.append(f"- **Status:** {status}")
        lines.append("")
    if state.verdict:
        lines.append(f"Latest verdict: **{state.verdict}**")
    return "\n".join(lines).rstrip() + "\n"


def mined_source(*dirs: Path) -> str | None:
    """The "Source:" of ``invoke mine``'s notes.md block, from the first of ``dirs`` that has one."""
    for folder in dict.fromkeys(dirs):
        body = notes.read_block(folder / notes.NOTES, MINE_BLOCK)
        for line in (body or "").splitlines():
            if line.startswith("- Source: "):
                return line.removeprefix("- Source: ").split(";", 1)[0].strip()
    return None


def update_plan(notes_dir: Path, reports: Path) -> IterationState:
    """Bring task_plan.md's phases block in step with the run records; returns the state."""
    state = iteration_state(load_manifests(reports), mined_source(notes_dir, reports))
    plan = task_plan.load(notes_dir)
    task_plan.save(notes_dir, replace(plan, phases=asdict(state)))
    notes.upsert_block(notes_dir / notes.TASK_PLAN, "phases", phases_block(state))
    return state
