"""A baseline run as tables: the console summary and the findings/progress note blocks.

Rendering is pure (manifest -> text); ``write_baseline_notes`` is the one call that writes,
through armjit.seams.notes, into armjit's own marked blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from armjit.render import TableFormat, fmt_seconds, table
from armjit.seams.store import RunDir

__all__ = ["baseline_findings_block", "progress_block", "summary_text", "tidy_paths", "write_baseline_notes"]


def steps_table(manifest: dict[str, Any], fmt: TableFormat = "simple") -> str:
    rows = [
        (
            s["name"],
            s["status"],
            "" if s["exit_code"] is None else s["exit_code"],
            f"{s['seconds']:.1f}",
            s["detail"][:70],
        )
        for s in manifest.get("steps", [])
    ]
    return table(rows, ["step", "status", "exit", "seconds", "detail"], fmt)


def mode_rows(manifest: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(mode, benchmark, its result) for every benchmark of every mode: one row each, never a
    number pooled over benchmarks. A record from before per-benchmark results gives its mode's
    numbers only when the mode ran one benchmark."""
    rows = []
    for name, m in manifest.get("modes", {}).items():
        results = m.get("results")
        if isinstance(results, dict) and results:
            rows += [(name, bench, r) for bench, r in results.items()]
            continue
        benches = m.get("benchmarks") or []
        if len(benches) == 1:
            rows.append((name, benches[0], m))
        else:
            rows.append((name, ",".join(benches), {"gate": m.get("gate")}))
    return rows


def gate_cell(result: dict[str, Any]) -> str:
    """The JIT gate's word on one benchmark of one mode; a flag names why nothing compiled."""
    found = result.get("gate") or {}
    if found.get("flag"):
        return f"FLAG {found['flag']}: compiled nothing"
    if "ok" not in found:
        return ""
    return "ok" if found["ok"] else "FAILED"


def modes_table(manifest: dict[str, Any], fmt: TableFormat = "simple") -> str:
    rows = []
    for name, bench, r in mode_rows(manifest):
        compiles = r.get("compiles") or {}
        rows.append(
            (
                name,
                bench,
                fmt_seconds(r.get("value")),
                r.get("processes", ""),
                compiles.get("main", ""),
                compiles.get("other", ""),
                compiles.get("total", ""),
                "" if r.get("threshold") is None else r["threshold"],
                gate_cell(r),
            )
        )
    headers = [
        "mode",
        "bench",
        "median s (lower is better)",
        "processes",
        "__main__ compiles",
        "other",
        "total",
        "threshold (logged)",
        "JIT gate",
    ]
    return table(rows, headers, fmt)


def flag_lines(manifest: dict[str, Any]) -> list[str]:
    """One line per benchmark that compiled nothing in a JIT mode: which, why, and the JIT's words."""
    lines = []
    for name, bench, r in mode_rows(manifest):
        found = r.get("gate") or {}
        if not found.get("flag"):
            continue
        lines.append(f"{name}/{bench}: compiled nothing ({found['flag']}): {found.get('reason', '')}")
        lines += [f"  {e}" for e in (found.get("evidence") or [])[:5]]
    return lines


def artifacts_table(run: RunDir, manifest: dict[str, Any], fmt: TableFormat = "simple") -> str:
    rows = [("run record", f"{run.path.as_posix()}/run.json")]
    for name, m in manifest.get("modes", {}).items():
        if m.get("pyperf_json"):
            rows.append((f"{name} pyperf JSON", f"{run.path.as_posix()}/{m['pyperf_json']}"))
        if m.get("jit_logs"):
            rows.append((f"{name} JIT logs", f"{run.path.as_posix()}/jitlogs/{name}/ ({len(m['jit_logs'])} files)"))
    rows.append(("step logs", f"{run.path.as_posix()}/logs/"))
    return table(rows, ["artifact", "path"], fmt)


def summary_text(run: RunDir, manifest: dict[str, Any]) -> str:
    parts = [
        f"run {manifest['run_id']}: {manifest.get('status')}",
        "",
        steps_table(manifest),
    ]
    if _cinderx_ran(manifest):
        parts += ["", _cinderx_ran(manifest)]
    if manifest.get("modes"):
        parts += ["", modes_table(manifest)]
        flags = flag_lines(manifest)
        parts += ["", "compiled nothing (the JIT gate's flags):", *flags] if flags else []
    if manifest.get("skipped_modes"):
        parts += ["", manifest["skipped_modes"]]
    parts += ["", *_warning_lines(manifest)] if manifest.get("warnings") else []
    parts += ["", artifacts_table(run, manifest)]
    return "\n".join(parts)


def _cinderx_ran(manifest: dict[str, Any]) -> str:
    """Which cinderx the run measured, from its pins: version, where it came from, the wheel's sha256."""
    pins = manifest.get("pins") or {}
    ran = pins.get("cinderx") or {}
    if not ran.get("version"):
        return ""
    sha = f", wheel sha256 {ran['sha256']}" if ran.get("sha256") else ""
    changed = pins.get("changed_by_the_benchmarks") or []
    after = f"; the benchmarks changed: {', '.join(changed)}" if changed else ""
    return f"cinderx ran: {ran['version']} ({ran.get('source') or 'installed'}{sha}){after}"


def _warning_lines(manifest: dict[str, Any]) -> list[str]:
    """The run's warnings (a build nothing gated, a cinderx shadowed by the source tree), one a line."""
    return [w if w.startswith("warning") else f"warning: {w}" for w in manifest.get("warnings") or []]


def _display_path(run: RunDir) -> str:
    """The run path as the notes show it: relative to the cwd when possible (no machine paths)."""
    try:
        return run.path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return f"reports/runs/{run.run_id}"


def baseline_findings_block(run: RunDir, manifest: dict[str, Any]) -> str:
    """An iteration block shaped like findings.md's "### Iteration" entries (workflow §6)."""
    commits = manifest.get("commits") or {}
    host = manifest.get("host") or {}
    date = str(manifest.get("started", ""))[:10]
    branch = commits.get("branch") or manifest["settings"].get("branch")
    commit = (commits.get("commit") or "")[:10] or "n/a"
    dirty = " (uncommitted changes shipped)" if commits.get("dirty") else ""
    lines = [
        f"### Iteration: baseline `{manifest['run_id']}`",
        f"- Date: {date}",
        f"- Branch/commit: `{branch}` @ `{commit}`{dirty}",
        f"- Host: `{host.get('name', '?')}` ({host.get('arch', '?')}, Python {host.get('python', '?')}, "
        f"load {host.get('loadavg', '?')})",
        f"- Build: `{manifest['settings'].get('build')}`; status: **{manifest.get('status')}**"
        + (f"; runtime test gate: `{str(manifest['gate']).rsplit('/', 1)[-1]}`" if manifest.get("gate") else ""),
        *([f"- {_cinderx_ran(manifest)}"] if _cinderx_ran(manifest) else []),
        "- Change: baseline (no from -> to yet; `invoke verify` compares against this run)",
        "",
        "Results per mode and benchmark (median of that benchmark's per-process medians, seconds per "
        "iteration, lower is better):",
        "",
        modes_table(manifest, "github"),
        "",
    ]
    main_hits = {f"{name}/{bench}": (r.get("compiles") or {}).get("main") for name, bench, r in mode_rows(manifest)}
    if main_hits:
        lines.append(
            "JIT log `Finished compiling __main__:` occurrences: "
            + ", ".join(f"{k} `{v}`" for k, v in main_hits.items())
        )
    flags = flag_lines(manifest)
    if flags:
        lines += ["", "Benchmarks that compiled nothing in a JIT mode (their timings are the interpreter's):", ""]
        lines += [f"- {line.strip()}" if not line.startswith("  ") else f"  - `{line.strip()}`" for line in flags]
    if manifest.get("skipped_modes"):
        lines.append(f"Not run: {manifest['skipped_modes']}")
    lines += [f"- **Warning**: {line.removeprefix('warning: ')}" for line in _warning_lines(manifest)]
    lines += [
        "",
        "Steps:",
        "",
        steps_table(manifest, "github"),
        "",
        f"Artifacts: `{_display_path(run)}/` (run.json, pyperf/, jitlogs/, logs/)",
    ]
    return "\n".join(lines)


def progress_block(manifest: dict[str, Any]) -> str:
    """A session entry with the test table (progress.md shape, workflow §6)."""
    date = str(manifest.get("started", ""))[:10]
    failed = [s for s in manifest.get("steps", []) if s["status"] == "failed"]
    lines = [
        f"## Session: {date}",
        f"- Baseline run `{manifest['run_id']}`: **{manifest.get('status')}**"
        + (f" (stopped at {failed[0]['name']}: {failed[0]['detail']})" if failed else ""),
        "",
        "### Test Results",
        "",
    ]
    rows = [
        (t["id"], "runtime test gate", "pass", t["status"], "ok" if t["status"] in ("pass", "skip") else "FAIL")
        for t in manifest.get("tests", [])
    ]
    per_bench = [r for r in mode_rows(manifest) if (r[2].get("gate") or {}).get("message")]
    for step in manifest.get("steps", []):
        if step["name"] == "jit-gate" and per_bench:
            # one row per benchmark and mode: a flag or a failure is never hidden in a long line
            for name, bench, r in per_bench:
                found, compiles = r["gate"], (r.get("compiles") or {}).get("main")
                actual = f"FLAG {found['flag']}" if found.get("flag") else f"{compiles} __main__ compiles"
                status = "ok" if found.get("ok") and not found.get("flag") else "FLAG" if found.get("ok") else "FAIL"
                rows.append((f"jit-gate {name}/{bench}", manifest["run_id"], "ok", actual, status))
        elif step["name"] in ("jit-smoke", "startup-smoke", "jit-gate"):
            rows.append((step["name"], manifest["run_id"], "ok", step["detail"][:60], step["status"]))
    lines.append(table(rows, ["Test", "Input", "Expected", "Actual", "Status"], "github"))
    return "\n".join(lines)


def tidy_paths(text: str) -> str:
    """Notes are shared: show this machine's home directory as ``~``."""
    home = str(Path.home())
    return text.replace(home + "/", "~/") if home not in ("/", "") else text


def write_baseline_notes(run: RunDir, manifest: dict[str, Any], notes_dir: Path) -> None:
    from armjit.seams import notes

    block = f"baseline-{manifest['run_id']}"
    notes.upsert_block(notes_dir / "findings.md", block, tidy_paths(baseline_findings_block(run, manifest)))
    notes.upsert_block(notes_dir / "progress.md", block, tidy_paths(progress_block(manifest)))
