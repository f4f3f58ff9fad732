"""Bounded waits for the lab cluster's components, failing fast when the awaited daemon has died."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from harness.errors import InfraError, ReadinessTimeoutError

POLL_S = 0.2
"""Between two readiness probes: every probe is a cheap local call, and components come up within 0.1-10 s."""

LOG_TAIL_CHARS = 300


def log_tail(path: Path, limit: int = LOG_TAIL_CHARS) -> str:
    """Return the last line of `path` that looks like an error (else the last line), shortened, on one line."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if line[:1] in ("E", "F") or "level=error" in line or '"level":"error"' in line]
    last = (errors or lines or [""])[-1]
    return last if len(last) <= limit else last[:limit] + "…"


def until(
    ready: Callable[[], bool],
    *,
    component: str,
    what: str,
    log_path: Path,
    deadline: float,
    alive: Callable[[], bool] | None = None,
) -> float:
    """Poll `ready` until it returns True; return the seconds waited.

    Args:
        ready: The probe; exceptions are not caught, so probes return False for "not yet".
        component: The component named in errors.
        what: What is awaited, e.g. ``/readyz``.
        log_path: The component's log, named in errors.
        deadline: A `time.monotonic()` value.
        alive: If given and it returns False, the component has exited: fail at once.

    Raises:
        InfraError: The component exited while we waited.
        ReadinessTimeoutError: The deadline passed.
    """
    started = time.monotonic()
    while True:
        if ready():
            return time.monotonic() - started
        if alive is not None and not alive():
            raise InfraError(
                f"lab-cluster {component}: exited while waiting for {what}; last log line: "
                f"{log_tail(log_path)!r}; see {log_path}"
            )
        if time.monotonic() >= deadline:
            raise ReadinessTimeoutError(
                f"lab-cluster {component}: {what} not ready after {time.monotonic() - started:.0f} s; "
                f"last log line: {log_tail(log_path)!r}; see {log_path} (raise timeout_s on slow hosts)"
            )
        time.sleep(POLL_S)  # `ready` is a probe (health URL, socket, file): no event to wait on
