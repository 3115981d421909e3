"""Progress of long steps: step name, time so far and the latest output line.

A wheel build on a small ARM box runs for many minutes; silence looks like a hang. On a terminal
the status line is redrawn every second; otherwise a line is printed every ``interval`` seconds.
``verbose`` streams every output line instead.

A build's latest line is often a compiler warning that stays on screen for minutes while ninja
works on: once a step printed a counter line (ninja's ``[12/226] Building CXX object ...``,
make's ``[ 45%] ...``), the status shows the newest counter line, not whatever came after it.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress", "is_counter_line"]

_COUNTER = re.compile(r"^\s*\[\s*(?:\d+/\d+|\d+%)\]\s+\S")


def is_counter_line(text: str) -> bool:
    """A build tool's progress line: ``[n/N] ...`` (ninja) or ``[ nn%] ...`` (make)."""
    return bool(_COUNTER.match(text))


class Progress:
    def __init__(self, stream: TextIO | None = None, *, verbose: bool = False, interval: float = 15.0) -> None:
        self._stream = stream or sys.stderr
        self._verbose = verbose
        self._tty = self._stream.isatty()
        self._interval = 1.0 if self._tty else interval
        self._step: str | None = None
        self._started = 0.0
        self._latest = ""
        self._counting = False  # this step printed a counter line: only counter lines update the status
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def message(self, text: str) -> None:
        with self._lock:
            self._clear()
            self._stream.write(text + "\n")
            self._stream.flush()

    def start(self, step: str) -> None:
        with self._lock:
            self._step, self._started, self._latest = step, time.monotonic(), ""
            self._counting = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick, name="armjit-progress", daemon=True)
        self._thread.start()

    def line(self, text: str) -> None:
        text = text.rstrip()
        if not text:
            return
        with self._lock:
            if is_counter_line(text):
                self._counting = True
                self._latest = text.strip()
            elif not self._counting:
                self._latest = text
            if self._verbose:
                self._clear()
                self._stream.write(f"[{self._step}] {text}\n")
                self._stream.flush()

    def finish(self, status: str, seconds: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._clear()
            self._stream.write(f"  {self._step:<22} {status:<12} {seconds:8.1f}s\n")
            self._stream.flush()
            self._step = None

    def _status(self) -> str:
        elapsed = time.monotonic() - self._started
        latest = _shorten(self._latest, 80)
        return f"  {self._step:<22} running {elapsed:6.0f}s  {latest}"

    def _clear(self) -> None:
        if self._tty:
            self._stream.write("\r\033[K")

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._step is None or self._verbose:
                    continue
                if self._tty:
                    self._stream.write("\r\033[K" + self._status())
                else:
                    self._stream.write(self._status() + "\n")
                self._stream.flush()


def _shorten(text: str, width: int) -> str:
    """The end of ``text`` (where a path names the file being built), keeping a counter's ``[n/N]``."""
    if len(text) <= width:
        return text
    counter = _COUNTER.match(text)
    head = text[: text.index("]") + 1] + " ..." if counter else "..."
    return head + text[-(width - len(head)) :]
