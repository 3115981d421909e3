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
import re
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
    """How one side was measured, as far as its pyperf file and run record say (None: unknown).

    Only what changes what is measured blocks a claim (:func:`comparability`): not ``values``
    (how many, not what), and ``loops`` only when the user fixed them on a side (``loops_fixed``):
    pyperf's calibration gives a 2x faster benchmark other loops, each value being per loop anyway.
    """

    runner: str | None = None
    warmups: str | None = None
    loops: int | None = None
    values: str | None = None
    inner_loops: int | None = None
    python: str | None = None
    host: str | None = None
    metric: str | None = None  # time | instructions
    clock: str | None = None  # wall | cpu, or pyperf's timer
    unit: str | None = None
    loops_fixed: bool | None = None  # True: --loops N; False: calibrated by pyperf


_LABELS = {"inner_loops": "inner loops"}
# Settings that do not change what is measured (loops: see comparability).
_NOT_BLOCKING = frozenset({"values", "loops_fixed"})


def _counts(numbers: Sequence[int]) -> str | None:
    """Per-process counts as one label: "5", or "3-5" when the processes differ."""
    if not numbers:
        return None
    lo, hi = min(numbers), max(numbers)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _runner_of(metadata: Mapping[str, Any]) -> str:
    # pyperformance stamps its version into every result it writes; a bare pyperf Runner does not.
    return "pyperformance" if "performance_version" in metadata else "pyperf"


def _timer(meta: Mapping[str, Any]) -> str | None:
    # "clock_gettime(CLOCK_MONOTONIC), resolution: 1.00 ns": the clock, not the resolution it reports
    timer = meta.get("timer")
    return timer.split(",", 1)[0].strip() or None if isinstance(timer, str) else None


def measurement(
    bench: BenchmarkData,
    *,
    runner: str | None = None,
    host: str | None = None,
    python: str | None = None,
    metric: str | None = None,
    clock: str | None = None,
    loops_fixed: bool | None = None,
) -> Measurement:
    """The settings of one benchmark's measurement; the run record's ``runner``/``host``/``python``/
    ``metric``/``clock``/``loops_fixed`` win over what the pyperf metadata implies (a file without
    calibration runs had its loops fixed)."""
    meta = bench.metadata
    py = meta.get("python_version")
    impl = meta.get("python_implementation")
    if isinstance(py, str) and py:
        python = f"{impl} {py}" if isinstance(impl, str) and impl else py
    hostname = meta.get("hostname")
    if clock == "wall":
        clock = None  # the default: the file's timer says which wall clock
    return Measurement(
        runner=runner or _runner_of(meta),
        warmups=_counts(bench.warmups),
        loops=bench.loops,
        values=_counts([len(p) for p in bench.processes]),
        inner_loops=bench.inner_loops or 1,
        python=python,
        host=host or (hostname if isinstance(hostname, str) and hostname else None),
        metric=metric,
        clock=clock or _timer(meta),
        unit=bench.unit,
        loops_fixed=loops_fixed if loops_fixed is not None else not bench.calibrated,
    )


def comparability(a: Measurement, b: Measurement) -> tuple[Reason, ...]:
    """One "not comparable" reason per setting known on both sides that differs and changes what
    is measured: runner, warmups, inner loops, python, host, metric, clock, units, and loops when
    a side fixed them (``--loops N``; two calibrated sides may differ)."""
    reasons = []
    for f in fields(Measurement):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if va is None or vb is None or va == vb or f.name in _NOT_BLOCKING:
            continue
        if f.name == "loops" and not (a.loops_fixed or b.loops_fixed):
            continue
        label = _LABELS.get(f.name, f.name)
        shown = f"{va} vs {vb}"
        if f.name == "loops" and a.loops_fixed != b.loops_fixed:
            shown = " vs ".join(
                f"{n} ({'fixed' if fixed else 'calibrated'})" for n, fixed in ((va, a.loops_fixed), (vb, b.loops_fixed))
            )
        reasons.append(
            Reason(
                "not_comparable",
                f"not comparable: {label} {shown}",
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
    """What a run measured, from every field of its record that pins it (None: not recorded).

    ``wheel``: the sha256 of the cinderx wheel installed, wherever the record keeps it;
    ``release``: the released version installed from an index (``--build pypi==V``, or the version
    pins resolved for ``--build pypi``); ``source``: a source build's commit, the hash of its
    uncommitted changes and its build env. Decide "same code" with :func:`same_code`, not ``==``.
    """

    wheel: str | None = None
    release: str | None = None
    source: tuple[str, ...] | None = None

    @property
    def kind(self) -> str:
        """The strongest pin this run's own build has: source | wheel | release."""
        return "source" if self.source else "wheel" if self.wheel else "release"

    @property
    def label(self) -> str:
        if self.source:
            commit, dirty = self.source[0], self.source[1]
            return f"commit {commit[:10]}" + (f" + changes {dirty[:12]}" if dirty else "")
        if self.release:
            return f"released cinderx=={self.release}" + (f", wheel sha256 {self.wheel[:12]}" if self.wheel else "")
        return f"wheel sha256 {(self.wheel or '')[:12]}"

    def to_json(self) -> dict[str, Any]:
        return {"wheel": self.wheel, "release": self.release, "source": list(self.source) if self.source else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CodeIdentity:
        source = data.get("source")
        return cls(data.get("wheel"), data.get("release"), tuple(map(str, source)) if source else None)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _release_key(version: str) -> str:
    """A release as PEP 440 compares plain ones: ``2026.11.2.0`` and ``2026.11.2`` are one release."""
    match = re.fullmatch(r"v?(\d+(?:\.\d+)*)(.*)", version.strip().lower())
    if not match:
        return version.strip()
    release = [int(part) for part in match.group(1).split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return ".".join(map(str, release)) + match.group(2)


def code_identity(manifest: Mapping[str, Any], side: str | None = None) -> CodeIdentity | None:
    """The code a run record measured, or None when the record cannot pin it down.

    Reads every shape armjit has written: the wheel sha256 in ``pins.wheel.sha256`` or
    ``pins.cinderx.sha256`` (``pins.<side>.…`` for one side, "a" or "b", of an ``ab`` run), or in
    ``remote.wheel_sha256``; the release from ``--build pypi==V`` or, for ``--build pypi``, from
    the version the pins say pip installed; a source build's commit with its uncommitted-changes
    hash and build env. An unpinned ``--build pypi`` or ``none`` with no wheel hash does not say
    which cinderx ran.
    """
    settings = _mapping(manifest.get("settings"))
    pins = _mapping(manifest.get("pins"))
    if side is not None:
        pins = _mapping(pins.get(side))
    ran = _mapping(pins.get("cinderx"))
    build = _text(settings.get("build")) or ""
    wheel = (
        _text(_mapping(pins.get("wheel")).get("sha256"))
        or _text(ran.get("sha256"))
        or _text(_mapping(manifest.get("remote")).get("wheel_sha256"))
    )
    release = None
    if build.startswith("pypi=="):
        release = build.split("==", 1)[1]
    elif build.startswith("pypi") and ran.get("source") in ("pypi", None) and _text(ran.get("version")):
        release = str(ran["version"])
    source = None
    commits = _mapping(manifest.get("commits"))
    commit = _text(commits.get("commit"))
    if build == "source" and commit:
        # a baseline keeps the hash in the deploy marker; red/green runs beside the commit
        dirty = _mapping(commits.get("deployed")).get("dirty_hash") or _text(commits.get("dirty_hash"))
        env = settings.get("build_env") or []
        source = (commit, str(dirty or ""), *sorted(map(str, env)))
    if not (wheel or release or source):
        return None
    return CodeIdentity(wheel, release, source)


def same_code(a: CodeIdentity | None, b: CodeIdentity | None) -> Reason | None:
    """A "same code" reason when both records pin the code and it is the same, else None.

    The one rule for compare, verify, history, ab and ``--record-noise``: the identical wheel
    (by sha256) is the same code whatever each side's build setting said; two source builds are
    the same code when commit, uncommitted changes and build env agree (a rebuild of one commit
    is not byte-identical, so their wheel hashes are not asked); two installs of one released
    version are the same code.
    """
    if a is None or b is None:
        return None
    if a.wheel and a.wheel == b.wheel:
        how, label = "wheel", f"wheel sha256 {a.wheel[:12]}"
    elif a.source and b.source:
        if a.source != b.source:
            return None
        how, label = "source", a.label
    elif a.release and b.release and not a.source and not b.source:
        if _release_key(a.release) != _release_key(b.release):
            return None
        how, label = "release", f"released cinderx=={a.release}"
    else:
        return None
    return Reason(
        "same_code",
        f"same code on both sides ({label}): a difference between them is the machine, not the code",
        (("identity", how), ("code", label)),
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
