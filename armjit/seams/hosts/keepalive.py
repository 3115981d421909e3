"""Finding a dead SSH connection: OpenSSH's ServerAliveInterval / ServerAliveCountMax for paramiko.

paramiko's own ``set_keepalive`` sends requests that want no answer, so it keeps NAT tables warm
but never notices that the other side stopped answering: with the host's sshd stopped, a step's
progress line kept counting for minutes. TCP keepalive does not help either (the host's kernel
still acknowledges while sshd is stopped). Here one thread asks for an answer every ``interval``
seconds and a second one watches the time since the last answer; after ``interval * count``
seconds without one the connection counts as dead and its transport is closed, which ends every
command waiting on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Keepalive"]

# OpenSSH answers any global request it does not know with a failure: an answer all the same.
_REQUEST = "keepalive@openssh.com"


class Keepalive:
    """Watches one paramiko transport; ``dead`` turns true (once) when it stopped answering."""

    def __init__(
        self, transport: Any, *, interval: float, count: int, on_dead: Callable[[], None] | None = None
    ) -> None:
        self.transport = transport
        self.interval = interval
        self.count = count
        self.dead = False
        self._on_dead = on_dead
        self._last_answer = time.monotonic()
        self._stop = threading.Event()
        self._wake = threading.Event()  # ask now instead of at the next interval
        for target, name in ((self._ping, "armjit-keepalive"), (self._watch, "armjit-keepalive-watch")):
            threading.Thread(target=target, name=name, daemon=True).start()

    @property
    def silent_seconds(self) -> float:
        return time.monotonic() - self._last_answer

    @property
    def limit_seconds(self) -> float:
        return self.interval * self.count

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def probe(self) -> float:
        """Ask the host for an answer now; pass the returned time to :meth:`answered_since`.
        (One thread sends every request: paramiko keeps one pending global request at a time.)"""
        asked = time.monotonic()
        self._wake.set()
        return asked

    def answered_since(self, asked: float) -> bool:
        return self._last_answer >= asked

    def _ping(self) -> None:
        # A request that gets no answer blocks here; the watcher notices the silence meanwhile.
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set() or not self.transport.is_active():
                return
            try:
                self.transport.global_request(_REQUEST, wait=True)
            except Exception:  # a transport closing under the request: the watcher decides
                return
            if self.transport.is_active():
                self._last_answer = time.monotonic()

    def _watch(self) -> None:
        step = min(1.0, self.interval / 2)
        while not self._stop.wait(step):
            if self.silent_seconds > self.limit_seconds:
                self.dead = True
                self._stop.set()
                if self._on_dead is not None:
                    self._on_dead()
                return
