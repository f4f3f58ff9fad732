"""Which kept EdgeX ``--reuse`` picks, from the run labels alone: real processes stand for live and ended runs."""

from __future__ import annotations

import os
import sys

import pytest

from distros._reuse import RunningEdgeX, choose, port_advice
from harness import labels as run_labels
from harness import proc
from harness.errors import PreflightError


def _ended_pid() -> int:
    """The pid of a process that has ended (and been waited for): a run that is over."""
    return int(proc.run([sys.executable, "-c", "import os; print(os.getpid())"], timeout_s=30).stdout)


def _edgex(name: str, *, keep: bool, pid: int, host: str | None = None) -> RunningEdgeX:
    labels = run_labels.ownership_labels(f"run-{name}", keep=keep)
    labels[run_labels.OWNER_PID] = str(pid)
    if host is not None:
        labels[run_labels.OWNER_HOST] = host
    return RunningEdgeX(name, labels)


def _choose(found: list[RunningEdgeX], wanted: str | None = None) -> RunningEdgeX:
    return choose(found, wanted=wanted, subject="podman", distro="podman")


def test_the_only_kept_ended_run_is_chosen_over_a_live_kept_one() -> None:
    ended = _edgex("edgex-ended", keep=True, pid=_ended_pid())
    live = _edgex("edgex-live", keep=True, pid=os.getpid())
    assert _choose([live, ended]) is ended


def test_a_live_run_is_never_attached_even_by_name() -> None:
    live = _edgex("edgex-live", keep=True, pid=os.getpid())
    with pytest.raises(PreflightError, match=r"will not attach to edgex-live \(run run-edgex-live, still running"):
        _choose([live], "edgex-live")


def test_a_run_that_was_not_kept_is_never_attached() -> None:
    dead = _edgex("edgex-dead", keep=False, pid=_ended_pid())
    with pytest.raises(PreflightError, match="attaches only to an EdgeX kept with --keep, and edgex-dead"):
        _choose([dead])


def test_several_kept_runs_ask_for_a_name_and_the_name_chooses() -> None:
    pid = _ended_pid()
    first, second = _edgex("edgex-a", keep=True, pid=pid), _edgex("edgex-b", keep=True, pid=pid)
    with pytest.raises(PreflightError, match=r"found 2 kept EdgeX: edgex-a .*, edgex-b .*; choose one with --name"):
        _choose([first, second])
    assert _choose([first, second], "edgex-b") is second


def test_another_hosts_kept_run_is_attached_only_by_name() -> None:
    other = _edgex("edgex-far", keep=True, pid=1, host="another-host")
    with pytest.raises(PreflightError, match="whose run has not ended"):
        _choose([other])
    assert _choose([other], "edgex-far") is other


def test_another_hosts_unkept_run_is_never_called_dead() -> None:
    other = _edgex("edgex-far", keep=False, pid=1, host="another-host")
    assert other.describe() == "edgex-far (run run-edgex-far, run by host another-host, not kept)"


def test_nothing_running_and_an_unknown_name_say_how_to_deploy() -> None:
    with pytest.raises(PreflightError, match=r"found no running EdgeX labelled .*--distro=podman --keep'"):
        _choose([])
    kept = _edgex("edgex-a", keep=True, pid=_ended_pid())
    with pytest.raises(PreflightError, match=r"no running EdgeX named 'edgex-z' \(running: edgex-a"):
        _choose([kept], "edgex-z")


def test_port_advice_tells_a_live_run_from_a_kept_one() -> None:
    live = _edgex("edgex-live", keep=False, pid=os.getpid())
    assert "held by another edgex-smoke run, edgex-live" in port_advice(live, 8000, remove="x")
    kept = _edgex("edgex-kept", keep=True, pid=_ended_pid())
    advice = port_advice(kept, 8000, remove="podman pod rm -f edgex-kept")
    assert "--reuse --name edgex-kept" in advice and "'podman pod rm -f edgex-kept'" in advice
