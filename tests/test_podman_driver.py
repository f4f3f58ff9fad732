"""The podman driver against real podman: play, readiness, diagnostics, down, reaping, interrupts.

The pod runs nginx from the lab infra image (built from Debian's archive by `lab`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import lab
from distros import DistroSettings, _hostcheck, make_distro
from distros.podman import PodmanDistro
from harness import proc
from harness.errors import PreflightError
from harness.labels import ownership_labels, with_labels
from tests import _servers
from tests._pods import small_pod

pytestmark = pytest.mark.needs_podman


@pytest.fixture(scope="module")
def infra_image() -> str:
    return lab.ensure_infra_image()


def _podman_json(*args: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(proc.run(["podman", *args, "--format", "json"], timeout_s=30).stdout)
    return rows or []


def _pod_names() -> set[str]:
    return {str(p["Name"]) for p in _podman_json("pod", "ps")}


def _volume_names() -> set[str]:
    return {str(v["Name"]) for v in _podman_json("volume", "ls")}


@pytest.fixture
def driver(tmp_path: Path) -> PodmanDistro:
    settings = DistroSettings(run_id=f"t{os.getpid()}-{time.monotonic_ns()}", work_dir=tmp_path)
    distro = make_distro("podman", settings)
    assert isinstance(distro, PodmanDistro)
    return distro


@pytest.fixture
def pod_name(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"edgex-smoke-test-{os.getpid()}-{request.node.name.replace('_', '-')[:20]}".lower()
    yield name
    # Safety net only: the assertions below prove the driver already removed these.
    proc.run(["podman", "pod", "rm", "--force", name], timeout_s=60, check=False)
    proc.run(["podman", "volume", "rm", "--force", f"{name}-conf"], timeout_s=60, check=False)


def test_lifecycle_play_ready_diagnostics_down(
    driver: PodmanDistro, infra_image: str, pod_name: str, tmp_path: Path
) -> None:
    port = _servers.free_port()
    objects = small_pod(infra_image, name=pod_name, host_port=port, run_id=driver.settings.run_id)
    driver.preflight([infra_image])
    target = driver.up()
    driver.wait_ready(target, timeout_s=30)
    assert driver.fingerprint(target).facts["podman_version"]

    deployment = driver.deploy(target, objects)
    driver.wait_deployed(target, deployment, timeout_s=60)
    states = driver.containers(target, deployment)
    assert [(s.name, s.state, s.restarts) for s in states] == [("web", "running", 0)]

    endpoints = driver.endpoints(target, deployment)
    assert endpoints.published_ports == (port,)
    _servers.wait_for_port(port, what="pod nginx", process=None, log=None, timeout_s=10)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=5) as answer:
        assert answer.read() == b"hello from the configmap\n"

    host = driver.container_host(target, deployment, "web")
    assert host.file("/etc/demo/hello.txt").is_file
    assert host.process.filter(comm="nginx")

    saved = driver.collect_diagnostics(target, deployment, tmp_path / "diag")
    names = {p.name for p in saved}
    assert "pod-inspect.json" in names
    assert f"{pod_name}-web.log" in names

    driver.undeploy(target, deployment)
    assert pod_name not in _pod_names()
    assert f"{pod_name}-conf" not in _volume_names()


def test_busy_gateway_port_fails_preflight_naming_port_and_owner(tmp_path: Path) -> None:
    with _servers.mosquitto(tmp_path) as port:
        settings = DistroSettings(run_id="busy", work_dir=tmp_path, gateway_http_port=port)
        with pytest.raises(PreflightError) as caught:
            make_distro("podman", settings).preflight([])
    message = str(caught.value)
    assert f"host port {port} is already in use by mosquitto (pid " in message
    assert "\n" not in message


def test_missing_image_fails_listing_it_and_the_choices(driver: PodmanDistro) -> None:
    target = driver.up()
    ref = "localhost/edgex-smoke-test/absent:0"
    with pytest.raises(PreflightError) as caught:
        driver.load_images(target, [ref])
    assert str(caught.value).startswith(f"podman: 1 image(s) missing and not pullable: {ref}; choose --images lab")


def test_failed_play_leaves_no_pod(driver: PodmanDistro, infra_image: str, pod_name: str) -> None:
    objects = small_pod(
        "localhost/edgex-smoke-test/absent:0",
        name=pod_name,
        host_port=_servers.free_port(),
        run_id=driver.settings.run_id,
    )
    with pytest.raises(Exception, match="kube play"):
        driver.deploy(driver.up(), objects)
    assert pod_name not in _pod_names()
    assert f"{pod_name}-conf" not in _volume_names()


def test_reap_removes_leftovers_of_dead_runs_only(
    driver: PodmanDistro, infra_image: str, pod_name: str, tmp_path: Path
) -> None:
    dead = proc.run([sys.executable, "-c", "import os; print(os.getpid())"], timeout_s=30)
    dead_labels = {**ownership_labels("crashed-run", keep=False), "edgex-smoke/owner-pid": dead.stdout.strip()}
    objects = with_labels(
        small_pod(infra_image, name=pod_name, host_port=_servers.free_port(), run_id="x"), dead_labels
    )
    crashed = make_distro("podman", DistroSettings(run_id="crashed-run", work_dir=tmp_path / "crashed"))
    crashed.deploy(crashed.up(), objects)

    kept_name = f"{pod_name}-kept"
    kept = with_labels(
        small_pod(infra_image, name=kept_name, host_port=_servers.free_port(), run_id="y"),
        {**dead_labels, "edgex-smoke/keep": "true"},
    )
    crashed.deploy(crashed.up(), kept)
    try:
        reaped = driver.reap(driver.up())
        assert f"pod {pod_name} (run crashed-run)" in reaped
        assert pod_name not in _pod_names()
        assert kept_name in _pod_names(), "a pod kept on purpose (--keep) must not be reaped"
    finally:
        proc.run(["podman", "pod", "rm", "--force", kept_name], timeout_s=60, check=False)
        proc.run(["podman", "volume", "rm", "--force", f"{kept_name}-conf"], timeout_s=60, check=False)


CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from distros import DistroSettings, make_distro
    from tests._pods import small_pod

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    image, name, port, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    distro = make_distro("podman", DistroSettings(run_id="sigterm", work_dir=work))
    target = distro.up()
    deployment = None
    try:
        deployment = distro.deploy(target, small_pod(image, name=name, host_port=port, run_id="sigterm"))
        distro.wait_deployed(target, deployment, timeout_s=60)
        print("running", flush=True)
        time.sleep(120)
    finally:
        if deployment is not None:
            distro.undeploy(target, deployment)
    """
)


def test_sigterm_while_running_removes_the_pod(infra_image: str, pod_name: str, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    log = tmp_path / "child.log"
    port = _servers.free_port()
    child = proc.start(
        [sys.executable, str(script), infra_image, pod_name, str(port), str(tmp_path / "work")],
        log_path=log,
        env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    deadline = time.monotonic() + 90
    while "running" not in log.read_text():
        assert child.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the child never reported its pod running: {log.read_text()}"
        time.sleep(0.2)  # polling the child's log file for its one line
    assert pod_name in _pod_names()
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=120)
    assert pod_name not in _pod_names(), log.read_text()
    assert f"{pod_name}-conf" not in _volume_names()


def test_podman_missing_is_one_line_naming_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    _hostcheck.local_host.cache_clear()
    try:
        with pytest.raises(PreflightError) as caught:
            make_distro("podman", DistroSettings(run_id="nopodman", work_dir=tmp_path)).preflight([])
    finally:
        _hostcheck.local_host.cache_clear()
    assert str(caught.value) == "podman: not found on PATH; install it: apt-get install podman"
