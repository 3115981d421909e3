"""What a cross-run (unpaired) comparison may claim: comparable settings, stable sides, a known δ, different code.

Two separate runs differ by load and time, which no interval computed inside each run can see:
two baselines of one released wheel, one at load 4 and one at load 1, came out 44% apart. So an
unpaired "real improvement" or "regression" needs, besides an interval that clears δ,

- the same measurement settings on both sides (runner, warmups, loops, values, inner loops,
  python, host), else the difference may be the settings;
- both sides stable (CV of process medians within ``CV_LIMIT``), else the medians are not what
  the run would give again;
- δ from the between-run noise of that host and benchmark (the spread of repeated baselines of
  the same code), not the 1% floor and not the paired A/A δ, which never sees a change of load;
- different code: runs of the same code are "no clear improvement" whatever the numbers.

Pure: plain data in, reasons and decisions out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from armjit.analysis import stats
from armjit.analysis.pyperf_data import BenchmarkData

__all__ = [
    "CV_LIMIT",
    "CodeIdentity",
    "Measurement",
    "Reason",
    "between_run_delta",
    "code_identity",
    "comparability",
    "decide_cross_run",
    "delta_unknown",
    "measurement",
    "same_code",
    "stability",
]

# pyperf's own instability warning starts at a standard deviation of 10% of the mean.
CV_LIMIT = stats.CV_WARN
# Reasons that make a claim impossible (the others explain, or override the verdict).
_BLOCKING = frozenset({"gate", "not_comparable", "unstable"})


@dataclass(frozen=True)
class Reason:
    """One reason a verdict is what it is, as text and as fields for ``--json``."""

    kind: str  # gate | not_comparable | unstable | delta_unknown | same_code
    text: str
    data: tuple[tuple[str, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **dict(self.data), "text": self.text}


# ---------------------------------------------------------------------------------------------
# measurement settings


@dataclass(frozen=True)
class Measurement:
    """How one side was measured, as far as its pyperf file and run record say (None: unknown)."""

    runner: str | None = None
    warmups: str | None = None
    loops: int | None = None
    values: str | None = None
    inner_loops: int | None = None
    python: str | None = None
    host: str | None = None


_LABELS = {"inner_loops": "inner loops"}


def _counts(numbers: Sequence[int]) -> str | None:
    """Per-process counts as one label: "5", or "3-5" when the processes differ."""
    if not numbers:
        return None
    lo, hi = min(numbers), max(numbers)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _runner_of(metadata: Mapping[str, Any]) -> str:
    # pyperformance stamps its version into every result it writes; a bare pyperf Runner does not.
    return "pyperformance" if "performance_version" in metadata else "pyperf"


def measurement(
    bench: BenchmarkData, *, runner: str | None = None, host: str | None = None, python: str | None = None
) -> Measurement:
    """The settings of one benchmark's measurement; the run record's ``runner``/``host``/``python``
    win over what the pyperf metadata implies."""
    meta = bench.metadata
    py = meta.get("python_version")
    impl = meta.get("python_implementation")
    if isinstance(py, str) and py:
        python = f"{impl} {py}" if isinstance(impl, str) and impl else py
    hostname = meta.get("hostname")
    return Measurement(
        runner=runner or _runner_of(meta),
        warmups=_counts(bench.warmups),
        loops=bench.loops,
        values=_counts([len(p) for p in bench.processes]),
        inner_loops=bench.inner_loops or 1,
        python=python,
        host=host or (hostname if isinstance(hostname, str) and hostname else None),
    )


def comparability(a: Measurement, b: Measurement) -> tuple[Reason, ...]:
    """One "not comparable" reason per setting known on both sides that differs."""
    reasons = []
    for f in fields(Measurement):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if va is None or vb is None or va == vb:
            continue
        label = _LABELS.get(f.name, f.name)
        reasons.append(
            Reason(
                "not_comparable",
                f"not comparable: {label} {va} vs {vb}",
                (("setting", f.name), ("from", va), ("to", vb)),
            )
        )
    return tuple(reasons)


def stability(estimate: stats.Estimate, limit: float = CV_LIMIT) -> tuple[Reason, ...]:
    """An "unstable" reason for each side whose process medians vary more than ``limit``."""
    return tuple(
        Reason("unstable", f"unstable: CV {cv:.1%} ({side}) > {limit:.0%}", (("side", side), ("cv", cv)))
        for side, cv in (("from", estimate.cv_from), ("to", estimate.cv_to))
        if cv > limit
    )


# ---------------------------------------------------------------------------------------------
# which code ran


@dataclass(frozen=True)
class CodeIdentity:
    """What a run measured, when its record says so precisely enough to call two runs the same."""

    kind: str  # wheel | release | source
    key: tuple[str, ...]
    label: str


def code_identity(manifest: Mapping[str, Any]) -> CodeIdentity | None:
    """The code a run record measured, or None when the record cannot pin it down.

    A wheel's sha256 is the strongest evidence; then a pinned release (``--build pypi==V``); then a
    source build of one commit (with the same uncommitted-changes hash and build env). An
    unpinned ``--build pypi`` or ``none`` does not say which cinderx ran.
    """
    settings = manifest.get("settings")
    settings = settings if isinstance(settings, Mapping) else {}
    remote = manifest.get("remote")
    remote = remote if isinstance(remote, Mapping) else {}
    sha = remote.get("wheel_sha256")
    if isinstance(sha, str) and sha:
        return CodeIdentity("wheel", ("wheel", sha), f"wheel sha256 {sha[:12]}")
    build = settings.get("build")
    if isinstance(build, str) and build.startswith("pypi=="):
        version = build.split("==", 1)[1]
        return CodeIdentity("release", ("release", version), f"released cinderx=={version}")
    if build != "source":
        return None
    commits = manifest.get("commits")
    commits = commits if isinstance(commits, Mapping) else {}
    commit = commits.get("commit")
    if not isinstance(commit, str) or not commit:
        return None
    deployed = commits.get("deployed")
    dirty = deployed.get("dirty_hash") if isinstance(deployed, Mapping) else None
    env = settings.get("build_env") or []
    key = ("source", commit, str(dirty or ""), *sorted(map(str, env)))
    label = f"commit {commit[:10]}" + (f" + changes {str(dirty)[:12]}" if dirty else "")
    return CodeIdentity("source", key, label)


def same_code(a: CodeIdentity | None, b: CodeIdentity | None) -> Reason | None:
    """A "same code" reason when both records pin the code and it is the same."""
    if a is None or b is None or a.key != b.key:
        return None
    return Reason(
        "same_code",
        f"same code on both sides ({a.label}): a difference between them is the machine, not the code",
        (("identity", a.kind), ("code", a.label)),
    )


# ---------------------------------------------------------------------------------------------
# δ and the verdict


def between_run_delta(run_medians: Sequence[float], *, minimum: float = stats.MIN_DELTA) -> float:
    """δ for two separate runs, from the medians of repeated runs of the same code on one host.

    The log median of a run varies with σ between runs, so the log ratio of two runs has a
    standard deviation of σ·√2 and 95% of such ratios lie within 1.96·σ·√2. With two runs that
    is about twice their observed difference: a deliberately wide δ until more baselines exist.
    """
    if len(run_medians) < 2:
        raise ValueError("the between-run noise needs at least two runs")
    logs = [math.log(m) for m in run_medians]
    widest = max(logs) - min(logs)
    return max(minimum, math.expm1(max(widest, 1.96 * statistics.stdev(logs) * math.sqrt(2))))


def delta_unknown(host: str | None, benchmark: str) -> Reason:
    where = f"{host or 'unknown host'}/{benchmark}"
    return Reason(
        "delta_unknown",
        f"δ unknown for {where} (no between-run noise stored): `invoke ab` gives a paired verdict "
        "(`invoke ab --aa` stores its δ); `invoke compare --record-noise` on two baselines of the same "
        "code stores the unpaired δ",
        (("host", host), ("benchmark", benchmark)),
    )


def decide_cross_run(
    estimate: stats.Estimate,
    *,
    delta: float | None,
    gates: Sequence[str] = (),
    reasons: Sequence[Reason] = (),
    unknown: Reason | None = None,
    same: Reason | None = None,
) -> tuple[stats.Decision, tuple[Reason, ...]]:
    """The unpaired verdict and every reason behind it.

    ``delta`` None means no between-run noise is known (``unknown`` says for what): the interval
    is then read against the 1% floor only to say "no clear improvement", never to claim.
    """
    used = delta if delta is not None else stats.MIN_DELTA
    plain = stats.decide(estimate, used)
    all_reasons = (
        *(Reason("gate", g) for g in gates),
        *reasons,
        *((unknown,) if delta is None and unknown else ()),
        *((same,) if same else ()),
    )
    blocking = [r for r in all_reasons if r.kind in _BLOCKING]
    texts = [r.text for r in all_reasons if r.kind != "same_code"]
    if same is not None:
        # Whatever the numbers say, the same code did not improve on itself.
        return stats.Decision("no clear improvement", "; ".join([same.text, *texts]), used), all_reasons
    if blocking or (delta is None and plain.verdict in ("real improvement", "regression")):
        text = "; ".join(texts)
        return stats.Decision("inconclusive", f"inconclusive: {text}", used), all_reasons
    # δ unknown but nothing was claimed: the plain verdict stands, with the reason δ is unknown.
    reason = "; ".join([plain.reason, *texts])
    return (
        stats.Decision(plain.verdict, reason, used, blocks_needed=plain.blocks_needed, warning=plain.warning),
        all_reasons,
    )
