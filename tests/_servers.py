"""Real servers for the harness's own tests: started here, stopped here."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import proc

TEST_PORTS = range(20000, 32768)
"""Below Linux's ephemeral range (32768-60999): the kernel never hands these to an outgoing connection, so a
port found free here stays free until the test binds it (a port from bind(0) could be taken meanwhile)."""


def free_port() -> int:
    """Return a TCP port on every address, below the ephemeral range, that is free right now."""
    for _ in range(100):
        port = TEST_PORTS[secrets.randbelow(len(TEST_PORTS))]
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))  # free on every address, as a published port must be
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free TCP port in {TEST_PORTS.start}-{TEST_PORTS.stop - 1} after 100 tries")


def wait_for_port(
    port: int, *, what: str, process: subprocess.Popen[bytes] | None, log: Path | None, timeout_s: float = 10
) -> None:
    """Wait until 127.0.0.1:`port` accepts connections, or fail naming `what` and its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = log.read_text()[-500:] if log else ""
            raise RuntimeError(f"{what} exited with {process.returncode}: {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # polling a port we just asked a child process to open
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s} s; see {log}")


@contextmanager
def mosquitto(workdir: Path, *, port: int | None = None) -> Iterator[int]:
    """Run a real mosquitto on 127.0.0.1; yield its port."""
    port = port or free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    log = workdir / "mosquitto.log"
    process = proc.start([proc.which("mosquitto", package="mosquitto"), "-c", str(conf)], log_path=log)
    try:
        wait_for_port(port, what="mosquitto", process=process, log=log)
        yield port
    finally:
        proc.stop(process)
