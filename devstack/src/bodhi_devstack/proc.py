"""Child processes of the dev stack: start, prefix their output, wait until ready, stop."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO


class StartupError(RuntimeError):
    """A child exited or did not become ready in time; the message carries its last output."""


class Child:
    """One supervised process whose merged stdout/stderr is copied, line-prefixed, to a sink."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        sink: TextIO | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else dict(os.environ)
        self.cwd = cwd
        self._sink = sink if sink is not None else sys.stdout
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The OS process id (the process must have been started)."""
        assert self._proc is not None, f"{self.name} was never started"
        return self._proc.pid

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status once the process has ended."""
        return None if self._proc is None else self._proc.poll()

    def tail(self) -> str:
        """The last lines the process printed."""
        return "".join(self._tail)

    def start(self) -> Child:
        """Spawn the process in its own process group and start copying its output."""
        self._proc = subprocess.Popen(  # noqa: S603 - argv is built by the stack, not from input
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = threading.Thread(
            target=self._copy_output, name=f"pump-{self.name}", daemon=True
        )
        self._pump.start()
        return self

    def _copy_output(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        prefix = f"{self.name:>10} | "
        for raw in iter(self._proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            self._tail.append(line)
            try:
                self._sink.write(prefix + line)
                self._sink.flush()
            except ValueError:  # the sink was closed while the child still talks
                return

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        """Poll `probe` until it is true; fail fast if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise StartupError(
                    f"{self.name} exited with status {self.returncode} before it was ready:\n"
                    + self.tail()
                )
            if probe():
                return
            time.sleep(0.05)
        raise StartupError(f"{self.name} was not ready after {timeout:.0f}s:\n{self.tail()}")

    def send_signal(self, sig: signal.Signals) -> None:
        """Send a signal to the process (not its group): SIGSTOP/SIGCONT/SIGKILL in fault tests."""
        if self.alive:
            os.kill(self.pid, sig)

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL the whole group; returns the status."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._signal_group(signal.SIGCONT)  # a paused child cannot handle SIGTERM
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._proc.wait()
        if self._pump is not None:
            self._pump.join(timeout=2)
        return self._proc.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
