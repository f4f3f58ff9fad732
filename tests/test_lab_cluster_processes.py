"""PID bookkeeping and bounded waits of the lab cluster, with a real short-lived process."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.errors import InfraError, ReadinessTimeoutError
from lab.cluster import api, host, processes, wait
from lab.cluster.layout import Layout


@pytest.fixture
def state(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "state")


def test_start_records_pid_and_start_time(state: Layout) -> None:
    pid = processes.start(state, "sleeper", ["sleep", "60"])
    try:
        lines = state.pid("sleeper").read_text().split()
        assert int(lines[0]) == pid
        assert int(lines[1]) == processes.start_ticks(pid)
        assert processes.alive(state, "sleeper") == pid
        assert processes.rss_kib(pid) > 0
    finally:
        assert processes.stop(state, "sleeper", timeout_s=5)
    assert processes.alive(state, "sleeper") is None
    assert not state.pid("sleeper").exists()
    assert not processes.stop(state, "sleeper")  # twice is fine


def test_a_recycled_pid_is_not_ours(state: Layout) -> None:
    state.pids.mkdir(parents=True)
    ticks = processes.start_ticks(os.getpid())
    assert ticks is not None
    state.pid("impostor").write_text(f"{os.getpid()}\n{ticks + 1}\n")
    assert processes.alive(state, "impostor") is None
    assert not processes.stop(state, "impostor")  # and it is never signalled


def test_an_exited_daemon_is_not_alive(state: Layout) -> None:
    pid = processes.start(state, "quick", ["true"])
    deadline = time.monotonic() + 5
    while processes.alive(state, "quick") is not None:  # `true` exits within milliseconds
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert processes.exit_status(pid) in (0, None)
    assert not processes.stop(state, "quick")


def test_stop_escalates_to_sigkill(state: Layout) -> None:
    processes.start(state, "stubborn", ["sh", "-c", "trap '' TERM; echo armed; while :; do sleep 0.1; done"])
    deadline = time.monotonic() + 5
    while "armed" not in state.log("stubborn").read_text():  # the trap is set before the echo
        assert time.monotonic() < deadline, "sh never reported its TERM trap"
        time.sleep(0.01)
    started = time.monotonic()
    assert processes.stop(state, "stubborn", timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert processes.alive(state, "stubborn") is None


def test_the_log_collects_output(state: Layout) -> None:
    processes.start(state, "talker", ["sh", "-c", "echo hello from talker"])
    deadline = time.monotonic() + 5
    while processes.alive(state, "talker") is not None:  # exits within milliseconds
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert "hello from talker" in state.log("talker").read_text()


def test_wait_times_out_naming_component_and_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("I0101 fine\nE0101 broken thing\nI0101 later\n")
    with pytest.raises(ReadinessTimeoutError) as caught:
        wait.until(lambda: False, component="etcd", what="healthy", log_path=log, deadline=time.monotonic() + 0.3)
    message = str(caught.value)
    assert "lab-cluster etcd: healthy not ready" in message
    assert str(log) in message
    assert "E0101 broken thing" in message
    assert "\n" not in message


def test_wait_fails_fast_when_the_component_died(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(InfraError, match="kubelet: exited while waiting for healthy"):
        wait.until(
            lambda: False,
            component="kubelet",
            what="healthy",
            log_path=tmp_path / "kubelet.log",
            deadline=time.monotonic() + 30,
            alive=lambda: False,
        )
    assert time.monotonic() - started < 1


def test_status_and_down_without_a_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGEX_SMOKE_CLUSTER_STATE", str(tmp_path / "none"))
    assert api.status() is None
    api.down()
    api.down()
    with pytest.raises(InfraError, match="not running"):
        api.load_images(["localhost/x:1"])


def test_down_removes_a_dead_clusters_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    state = Layout(tmp_path / "dead")
    monkeypatch.setenv("EDGEX_SMOKE_CLUSTER_STATE", str(state.root))
    for directory in (state.logs, state.pids):
        directory.mkdir(parents=True)
    state.pid("etcd").write_text("999999999\n1\n")  # no such process
    state.meta.write_text('{"node_name": "n", "node_ip": "192.0.2.7", "version": "v1.34.4"}')
    assert api.status() is None
    lines: list[str] = []
    api.down(progress=lines.append)
    assert not state.root.exists()
    assert lines == [f"lab-cluster: down; removed {state.root}"]


def test_a_failed_up_stops_what_it_started_and_keeps_the_logs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    state = Layout(tmp_path / "failing")
    monkeypatch.setenv("EDGEX_SMOKE_CLUSTER_STATE", str(state.root))
    monkeypatch.setattr(host, "check", lambda: None)  # the real cluster may hold the ports
    monkeypatch.setattr(api, "ensure_binaries", lambda progress: tmp_path / "bin")
    started: list[int] = []

    def run(self: api._Starter) -> None:
        started.append(processes.start(self.state, "etcd", ["sleep", "60"]))
        raise InfraError(f"lab-cluster kube-apiserver: exited; see {self.state.log('kube-apiserver')}")

    monkeypatch.setattr(api._Starter, "run", run)
    lines: list[str] = []
    with pytest.raises(InfraError, match="kube-apiserver: exited"):
        api.up(timeout_s=30, progress=lines.append)
    assert processes.start_ticks(started[0]) is None  # stopped (and reaped)
    assert [p.name for p in state.root.iterdir()] == ["logs"]
    assert state.log("etcd").exists()
    assert "lab-cluster: start failed; stopping what was started (logs kept)" in lines
    api.down()
    assert not state.root.exists()
