"""``invoke verify --fleet FLEET``: verify every host's baseline of a fleet at once, one verdict per
host, and one line saying where the change helped and where it hurt."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from armjit.analysis.crosshost import helped_and_hurt
from armjit.cli.verify import verify_one
from armjit.config import Settings
from armjit.errors import GateFailed, UsageError
from armjit.flows.fleet import map_hosts
from armjit.render.progress import Progress
from armjit.render.tables import table
from armjit.seams import notes
from armjit.seams.fleets import load_fleet

__all__ = ["verify_fleet"]


def _fleet_dir(reports: Path, ref: str) -> Path:
    root = reports / "fleets"
    if ref == "latest":
        found = sorted(p for p in root.glob("*") if (p / "fleet.json").is_file()) if root.is_dir() else []
        if not found:
            raise UsageError(f"no fleet under {root}; run `invoke baseline --hosts ...` first")
        return found[-1]
    for candidate in (Path(ref), root / ref):
        if (candidate / "fleet.json").is_file():
            return candidate
    raise UsageError(f"no fleet {ref!r}: not a fleet id under {root} nor a fleet directory")


def verify_fleet(settings: Settings, ref: str, *, paired: str, blocks: int, worktree: bool, json_: bool) -> None:
    reports = settings.reports_path
    path = _fleet_dir(reports, ref)
    data = load_fleet(path)
    if data.get("kind") != "baseline":
        raise UsageError(f"fleet {path.name} ran {data.get('kind')}, not baseline: verify needs baselines")
    runs = {h: e["run_id"] for h, e in data["hosts"].items() if e.get("status") == "ok" and e.get("run_id")}
    if not runs:
        raise UsageError(f"fleet {path.name} has no host whose baseline succeeded")

    def one(s: Settings, progress: Progress) -> tuple[str, str, list[tuple[str, str, str]]]:
        _, record, found, _, _ = verify_one(
            settings, runs[s.host], paired=paired, blocks=blocks, worktree=worktree, progress=progress
        )
        comparisons = found.details["report"]["comparisons"]
        items = [(str(c["benchmark"]), str(c["mode"]), str(c["verdict"])) for c in comparisons]
        return record.run_id, str(found.details["verdict"]), items

    answers = map_hosts(dataclasses.replace(settings, hosts=tuple(runs)), one, stream=sys.stderr)
    rows, verdicts, failed = [], {}, []
    for host, answer, cause in answers:
        if answer is None:
            failed.append(f"{host}: {cause}")
            rows.append((host, runs[host], "-", "failed", cause))
            continue
        run_id, overall, items = answer
        verdicts[host] = items
        detail = ", ".join(f"{b}/{m} {v}" for b, m, v in items)
        rows.append((host, runs[host], run_id, overall, detail))
    headers = ["host", "baseline", "verify record", "verdict", "per benchmark and mode"]
    summary = helped_and_hurt(verdicts) if verdicts else "no host could be verified"
    block = "\n".join(
        [f"## Verify of fleet {path.name}", "", table(rows, headers, "github"), "", f"- {summary}"]
        + [f"- failed: {f}" for f in failed]
    )
    notes.upsert_block(settings.notes_path / notes.FINDINGS, f"verify-fleet-{path.name}", block + "\n")
    if json_:
        print(json.dumps({"fleet": path.name, "hosts": [dict(zip(headers, r, strict=True)) for r in rows]}, indent=2))
    else:
        print(table(rows, headers))
        print(summary)
    if failed:
        raise GateFailed(f"{len(failed)} of {len(runs)} hosts could not be verified: " + "; ".join(failed))
