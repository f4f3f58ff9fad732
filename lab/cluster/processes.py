"""Start, find and stop the lab cluster's daemons by the PIDs recorded in ``<state>/pids/<component>.pid``.

A PID file holds the PID on its first line and the process's start time (field 22 of ``/proc/<pid>/stat``, in clock
ticks since boot) on its second, so that a recycled PID is never mistaken for our daemon and never signalled.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import proc
from lab.cluster import wait
from lab.cluster.layout import Layout

STOP_POLL_S = 0.05
"""How often `stop` looks whether a signalled process is gone: daemons exit within tens of milliseconds to seconds."""

# Daemons started by this Python process, kept so that they are reaped (no zombies) when they exit.
_children: dict[int, subprocess.Popen[bytes]] = {}


@atexit.register
def _detach() -> None:
    """Let the daemons outlive this process without Popen warning that they are "still running"."""
    for child in _children.values():
        if child.poll() is None:
            child.returncode = 0  # not finished but detached: nothing in this process waits for it any more


@dataclass(frozen=True)
class Recorded:
    """A PID file's contents."""

    pid: int
    start_ticks: int


def start_ticks(pid: int) -> int | None:
    """Return the start time of `pid` in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # fields[0] is field 3 (state) of proc(5)
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def read(layout: Layout, component: str) -> Recorded | None:
    """Return the recorded PID of `component`, or None without a well-formed PID file."""
    try:
        lines = layout.pid(component).read_text().split()
        return Recorded(int(lines[0]), int(lines[1]))
    except (OSError, ValueError, IndexError):
        return None


def alive(layout: Layout, component: str) -> int | None:
    """Return the PID of `component` if the recorded process is still running, else None."""
    recorded = read(layout, component)
    if recorded is None:
        return None
    _reap(recorded.pid)
    return recorded.pid if start_ticks(recorded.pid) == recorded.start_ticks else None


def start(layout: Layout, component: str, argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None) -> int:
    """Start `argv` in the background as `component`, log to ``<state>/logs/<component>.log``; return the PID."""
    popen = proc.start([str(a) for a in argv], log_path=layout.log(component), env=env)
    ticks = start_ticks(popen.pid)
    layout.pids.mkdir(parents=True, exist_ok=True)
    layout.pid(component).write_text(f"{popen.pid}\n{ticks if ticks is not None else -1}\n")
    _children[popen.pid] = popen
    return popen.pid


def exit_status(pid: int) -> int | None:
    """Return the exit status of a daemon this process started and that has exited, else None."""
    child = _children.get(pid)
    return None if child is None else child.poll()


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]


def stop(layout: Layout, component: str, *, timeout_s: float = 20.0) -> bool:
    """Stop `component`: SIGTERM, SIGKILL after `timeout_s`; remove its PID file.

    Returns:
        True if a running process was stopped, False if none was recorded or it had already exited.
    """
    recorded = read(layout, component)
    pid = alive(layout, component)
    stopped = False
    if recorded is not None and pid is not None:
        stopped = True
        os.kill(pid, signal.SIGTERM)
        if not _gone(recorded, timeout_s):
            os.kill(pid, signal.SIGKILL)
            _gone(recorded, timeout_s)
    layout.pid(component).unlink(missing_ok=True)
    return stopped


def _gone(recorded: Recorded, timeout_s: float) -> bool:
    """Wait up to `timeout_s` until `recorded` has exited; return whether it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(recorded.pid)
        if start_ticks(recorded.pid) != recorded.start_ticks:
            return True
        time.sleep(STOP_POLL_S)  # not our child in general, so no waitpid: poll /proc until the deadline
    return False


def rss_kib(pid: int) -> int:
    """Return the resident set size of `pid` in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes_with_argument(argument: str) -> list[int]:
    """Return the PIDs whose command line contains `argument` as one whole argument."""
    found: list[int] = []
    wanted = argument.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            args = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in args:
            found.append(int(entry.name))
    return found


def await_ready(
    layout: Layout,
    component: str,
    what: str,
    ready: Callable[[], bool],
    *,
    deadline: float,
    watched: str | None = None,
) -> float:
    """Wait until `ready` holds; return the seconds waited (`lab.cluster.wait.until`).

    Fails early, with its log, if the recorded process `watched` (default: `component`) exits.
    """
    process = watched or component
    return wait.until(
        ready,
        component=component,
        what=what,
        log_path=layout.log(process),
        deadline=deadline,
        alive=lambda: alive(layout, process) is not None,
    )
