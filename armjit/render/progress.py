"""Progress of long steps: step name, time so far and the latest output line.

A wheel build on a small ARM box runs for many minutes; silence looks like a hang. On a terminal
the status line is redrawn every second; otherwise a line is printed every ``interval`` seconds.
``verbose`` streams every output line instead.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(self, stream: TextIO | None = None, *, verbose: bool = False, interval: float = 15.0) -> None:
        self._stream = stream or sys.stderr
        self._verbose = verbose
        self._tty = self._stream.isatty()
        self._interval = 1.0 if self._tty else interval
        self._step: str | None = None
        self._started = 0.0
        self._latest = ""
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
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick, name="armjit-progress", daemon=True)
        self._thread.start()

    def line(self, text: str) -> None:
        text = text.rstrip()
        if not text:
            return
        with self._lock:
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
        latest = self._latest[-80:]
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
