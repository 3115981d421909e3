"""Shared fixtures: a real sshd on 127.0.0.1 and a target repository standing in for CinderX."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sshd import SshdHost, SshdUnavailable, start_sshd

# Tests that use one of these fixtures get the `ssh` marker, so `-m "not ssh"` leaves them out.
SSH_FIXTURES = frozenset({"sshd_factory", "sshd_host", "shared_sshd", "_shared_sshd_server"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SSH_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ssh)


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
