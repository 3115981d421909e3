"""Shared fixtures: a real sshd on 127.0.0.1 and a target repository standing in for CinderX."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sshd import SshdHost, SshdUnavailable, start_sshd

FIXTURE_TARGET = Path(__file__).parent / "fixture_target"
# The fixture target's own test gate imports the fixture wheel: it is data for armjit, not a test of armjit.
collect_ignore = ["fixture_target"]

# Tests that use one of these fixtures get the `ssh` marker, so `-m "not ssh"` leaves them out.
SSH_FIXTURES = frozenset({"sshd_factory", "sshd_host", "shared_sshd", "_shared_sshd_server"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SSH_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ssh)


@pytest.fixture(autouse=True, scope="session")
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """armjit's record of the work dirs it owns goes to a test directory (child processes too)."""
    before = os.environ.get("ARMJIT_STATE_DIR")
    os.environ["ARMJIT_STATE_DIR"] = str(tmp_path_factory.mktemp("armjit-state"))
    yield
    if before is None:
        os.environ.pop("ARMJIT_STATE_DIR", None)
    else:
        os.environ["ARMJIT_STATE_DIR"] = before


def _start_or_skip(workdir: Path) -> SshdHost:
    try:
        return start_sshd(workdir)
    except SshdUnavailable as exc:
        # On CI a missing sshd is a broken setup (.ci/run installs it), not a reason to skip.
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def sshd_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[], SshdHost]]:
    """Start as many fresh servers as a test needs; all are stopped afterwards."""
    # Also when requested through request.getfixturevalue(), which collection cannot see.
    request.node.add_marker(pytest.mark.ssh)
    started: list[SshdHost] = []
    counter = itertools.count(1)

    def make() -> SshdHost:
        host = _start_or_skip(tmp_path / f"sshd-{next(counter)}")
        started.append(host)
        return host

    yield make
    for host in started:
        host.stop()


@pytest.fixture
def sshd_host(sshd_factory: Callable[[], SshdHost]) -> SshdHost:
    """A fresh server for this test alone: stop(), start() and regenerate_host_key() are fine."""
    return sshd_factory()


@pytest.fixture(scope="session")
def _shared_sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdHost]:
    host = _start_or_skip(tmp_path_factory.mktemp("shared-sshd"))
    yield host
    host.stop()


@pytest.fixture
def shared_sshd(_shared_sshd_server: SshdHost, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SshdHost]:
    """One server for the whole session (cheaper), seen with this test's own empty known_hosts.

    Do not stop it or change its key (use ``sshd_host`` for that); if a test does, it is restarted.
    """
    request.node.add_marker(pytest.mark.ssh)
    yield _shared_sshd_server.with_known_hosts(tmp_path / "known_hosts")
    if not _shared_sshd_server.running:
        _shared_sshd_server.start()


# --- the target repository (a stand-in for a CinderX checkout) ---------------------------------

WORK_COMMIT_FILES = {
    "cinderx/Jit/codegen_arm64.cpp": "\n// arm-jit: stubs within BL range.\nint stubRange() { return 1 << 27; }\n",
    "cinderx/StaticPython/classloader.c": "\n/* arm-jit: static field offsets are 8-byte aligned. */\n",
}


@dataclass(frozen=True)
class TargetRepo:
    """A git checkout of the fixture target on ``work_branch``, one commit ahead of ``upstream_branch``,
    with a bare ``origin`` on disk holding the upstream branch (fetch, ff-only and rebase work offline)."""

    path: Path
    origin: Path
    upstream_branch: str = "main"
    work_branch: str = "arm-jit"
    remote: str = "origin"

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return _git(cwd or self.path, *args)

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref)

    def commit_file(self, rel: str, text: str, message: str) -> str:
        """Write ``rel`` in the checkout and commit it on the current branch; returns the new sha."""
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        self.git("add", "--", rel)
        self.git("commit", "-q", "-m", message)
        return self.head()

    def push_upstream(self, rel: str, text: str, message: str) -> str:
        """Upstream moves on: commit ``rel`` on ``upstream_branch`` in another clone and push it to origin."""
        clone = self.origin.parent / f"{self.origin.stem}-other-clone"
        if not clone.exists():
            _git(self.origin.parent, "clone", "-q", "-b", self.upstream_branch, str(self.origin), str(clone))
            _set_identity(clone)
        _git(clone, "pull", "-q", "--ff-only")
        (clone / rel).parent.mkdir(parents=True, exist_ok=True)
        (clone / rel).write_text(text)
        _git(clone, "add", "--", rel)
        _git(clone, "commit", "-q", "-m", message)
        _git(clone, "push", "-q", "origin", self.upstream_branch)
        return _git(clone, "rev-parse", "HEAD")


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout.strip()


def _set_identity(repo: Path) -> None:
    # Local settings only: the suite must not depend on (or change) the machine's git config.
    for key, value in (
        ("user.name", "Fixture Engineer"),
        ("user.email", "fixture@example.invalid"),
        ("commit.gpgsign", "false"),
        ("core.autocrlf", "false"),
    ):
        _git(repo, "config", key, value)


def make_target_repo(root: Path) -> TargetRepo:
    """Copy the fixture target under ``root`` and make it a checkout with an on-disk upstream."""
    path = root / "cinderx"
    origin = root / "upstream.git"
    shutil.copytree(FIXTURE_TARGET, path, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "dist", "build"))
    _git(root, "init", "-q", "-b", "main", str(path))
    _set_identity(path)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "upstream: fixture CinderX")
    _git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(path, "remote", "add", "origin", str(origin))
    _git(path, "push", "-q", "-u", "origin", "main")
    _git(path, "checkout", "-q", "-b", "arm-jit")
    for rel, addition in WORK_COMMIT_FILES.items():
        with (path / rel).open("a") as handle:
            handle.write(addition)
    _git(path, "commit", "-q", "-am", "arm-jit: BL range for helper stubs, aligned static fields")
    return TargetRepo(path=path, origin=origin)


@pytest.fixture
def target_repo(tmp_path: Path) -> TargetRepo:
    """A fresh fixture CinderX checkout in ``tmp_path/cinderx`` on branch ``arm-jit``."""
    return make_target_repo(tmp_path)
