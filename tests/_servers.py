"""Real servers for the harness's own tests: started here, stopped here."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import proc


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
