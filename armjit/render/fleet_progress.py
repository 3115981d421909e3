"""Progress of several hosts at once: one line per host, never two hosts' output mixed in a line.

Each host's flow gets its own ``HostProgress`` (a ``Progress``, so the pipeline needs nothing
new); all of them write through one ``FleetBoard`` and its lock. On a terminal the board keeps one
live line per host (step, time so far, latest output) and prints finished steps and messages
above them; otherwise every event is one whole line starting with the host's name, and each
running host's status line is repeated every ``interval`` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from armjit.render.progress import Progress

__all__ = ["FleetBoard", "HostProgress"]


class FleetBoard:
    def __init__(self, hosts: Sequence[str], stream: TextIO | None = None, *, interval: float = 15.0) -> None:
        self._stream = stream or sys.stderr
        self._hosts = list(hosts)
        self._width = max((len(h) for h in self._hosts), default=4)
        self._tty = self._stream.isatty()
        self._interval = 1.0 if self._tty else interval
        self._lock = threading.Lock()
        self._status: dict[str, str] = dict.fromkeys(self._hosts, "waiting")
        self._running: dict[str, tuple[str, float, str]] = {}  # host -> (step, started, latest line)
        self._drawn = 0  # live lines on the terminal below the printed ones
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def progress(self, host: str) -> HostProgress:
        return HostProgress(self, host)

    def __enter__(self) -> FleetBoard:
        self._thread = threading.Thread(target=self._tick, name="armjit-fleet-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._redraw()
            self._drawn = 0

    # -- what hosts report --------------------------------------------------------------------
    def say(self, host: str, text: str) -> None:
        """A line that stays (a message, a finished step)."""
        with self._lock:
            self._print(f"{host:<{self._width}}  {text}")

    def started(self, host: str, step: str) -> None:
        with self._lock:
            self._running[host] = (step, time.monotonic(), "")
            self._status[host] = f"{step} running"
            self._redraw()

    def output(self, host: str, line: str) -> None:
        with self._lock:
            if host in self._running:
                step, since, _ = self._running[host]
                self._running[host] = (step, since, line)

    def finished(self, host: str, status: str, seconds: float) -> None:
        with self._lock:
            step = self._running.pop(host, ("?", 0.0, ""))[0]
            self._status[host] = f"{step} {status}"
            self._print(f"{host:<{self._width}}  {step:<22} {status:<12} {seconds:8.1f}s")

    def done(self, host: str, text: str) -> None:
        """The host's flow ended: its last status line says how."""
        with self._lock:
            self._running.pop(host, None)
            self._status[host] = text
            self._print(f"{host:<{self._width}}  {text}")

    # -- drawing (under the lock) ---------------------------------------------------------------
    def _line(self, host: str) -> str:
        if host in self._running:
            step, since, latest = self._running[host]
            return f"{host:<{self._width}}  {step:<22} running {time.monotonic() - since:6.0f}s  {latest[-60:]}"
        return f"{host:<{self._width}}  {self._status[host]}"

    def _clear_live(self) -> None:
        if self._tty and self._drawn:
            self._stream.write(f"\033[{self._drawn}F\033[J")
            self._drawn = 0

    def _print(self, text: str) -> None:
        self._clear_live()
        self._stream.write(text + "\n")
        self._redraw_live()
        self._stream.flush()

    def _redraw(self) -> None:
        if self._tty:
            self._clear_live()
            self._redraw_live()
            self._stream.flush()

    def _redraw_live(self) -> None:
        if self._tty:
            for host in self._hosts:
                self._stream.write("\033[K" + self._line(host)[:200] + "\n")
            self._drawn = len(self._hosts)

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._tty:
                    self._redraw()
                else:
                    for host in self._hosts:
                        if host in self._running:
                            self._stream.write(self._line(host) + "\n")
                    self._stream.flush()


class HostProgress(Progress):
    """The ``Progress`` one host's flow reports to; everything goes to the fleet's board."""

    def __init__(self, board: FleetBoard, host: str) -> None:
        super().__init__()  # its own drawing is never used: every method below goes to the board
        self._board = board
        self._host = host

    def message(self, text: str) -> None:
        self._board.say(self._host, text)

    def start(self, step: str) -> None:
        self._board.started(self._host, step)

    def line(self, text: str) -> None:
        text = text.rstrip()
        if text:
            self._board.output(self._host, text)

    def finish(self, status: str, seconds: float) -> None:
        self._board.finished(self._host, status, seconds)
