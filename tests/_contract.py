"""One contract every driver keeps, as a test class to subclass.

A driver's test module subclasses `DistroContract` and overrides the ``subject``
fixture with a `Subject`: how to build the driver, which image the small test pod
runs, and how to see what a run left behind. The contract then proves, against the
real target:

- ``up()`` twice attaches: the second target is not ``created``;
- ``down()`` on a target this run did not create deletes nothing;
- ``fingerprint()`` fills the facts the subject names;
- deploy → wait → containers → endpoints reachable → diagnostics → undeploy leaves nothing;
- SIGTERM while the pod runs, and (if the subject names a hook) in the middle of
  the apply, still removes everything the run made.

The small pod (`tests._pods.small_pod`) is nginx serving a ConfigMap's file on a hostPort.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import signal
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from distros import Distro, DistroSettings
from harness import proc
from harness.errors import SmokeError
from harness.labels import ownership_labels, with_labels
from tests import _servers
from tests._pods import small_pod

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class Subject:
    """What the contract needs to know about one driver under test."""

    factory: str
    """``module:Class`` of the driver, so a child process can build it without the registry."""
    settings: Callable[[str, Path], DistroSettings]
    """Settings for a run id and work directory (kubeconfig, context, provisioning mode…)."""
    image: str
    """Image of the small pod; must already be available to the target."""
    leftovers: Callable[[str], list[str]]
    """Everything of run `run_id` still on the target (pods, namespaces, volumes…), as readable names."""
    target_intact: Callable[[], bool]
    """True if the target still works (after ``down()`` on an attached target)."""
    fingerprint_keys: Sequence[str] = ()
    """Facts ``fingerprint()`` must fill with a non-empty value."""
    diagnostic_names: Sequence[str] = ()
    """File names ``collect_diagnostics`` must save for the small pod ``{pod}``."""
    mid_apply_hook: str | None = None
    """``module:Class.method`` that applies one object; the SIGTERM-mid-apply test pauses after its first call."""
    extra: dict[str, Any] = field(default_factory=dict)


def build(subject: Subject, settings: DistroSettings) -> Distro:
    """Build the driver of `subject` from its ``module:Class`` path."""
    module_name, class_name = subject.factory.split(":")
    factory: Callable[[DistroSettings], Distro] = getattr(importlib.import_module(module_name), class_name)
    return factory(settings)


def pause_after_first_call(path: str) -> None:
    """Patch ``module:Class.method`` so that its first call, once done, prints ``mid-apply`` and sleeps.

    Used in the child process: the parent sends SIGTERM while it sleeps, that is,
    after some objects are applied and before the rest.
    """
    module_name, attribute = path.split(":")
    class_name, method_name = attribute.split(".")
    owner = getattr(importlib.import_module(module_name), class_name)
    original = getattr(owner, method_name)
    calls = 0

    def paused(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        result = original(*args, **kwargs)
        calls += 1
        if calls == 1:
            print("mid-apply", flush=True)
            time.sleep(CHILD_TIMEOUT_S)
        return result

    setattr(owner, method_name, paused)


CHILD = textwrap.dedent(
    """
    import json, signal, sys, time
    from pathlib import Path
    from distros import DistroSettings
    from harness.labels import ownership_labels, with_labels
    from tests import _contract
    from tests._pods import small_pod

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    spec = json.loads(sys.argv[1])
    settings = DistroSettings(**{**spec["settings"], "work_dir": Path(spec["settings"]["work_dir"])})
    if spec["hook"]:
        _contract.pause_after_first_call(spec["hook"])
    module_name, class_name = spec["factory"].split(":")
    distro = getattr(__import__(module_name, fromlist=[class_name]), class_name)(settings)
    objects = with_labels(
        small_pod(spec["image"], name=spec["pod"], host_port=spec["port"], run_id=settings.run_id),
        ownership_labels(settings.run_id, keep=False),
    )
    target = distro.up()
    deployment = None
    try:
        deployment = distro.deploy(target, objects)
        distro.wait_deployed(target, deployment, timeout_s=120)
        print("running", flush=True)
        time.sleep(300)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    finally:
        if deployment is not None:
            distro.undeploy(target, deployment)
        distro.down(target)
    print("cleaned up", flush=True)
    """
)


def _settings_json(settings: DistroSettings) -> dict[str, Any]:
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "progress"}
    return {k: str(v) if isinstance(v, Path) else v for k, v in fields.items()}


class DistroContract:
    """Subclass it and override the ``subject`` fixture; every test here then runs against that driver."""

    @pytest.fixture
    def subject(self) -> Subject:
        raise NotImplementedError("override the 'subject' fixture with the driver's Subject")

    @pytest.fixture
    def run_id(self, request: pytest.FixtureRequest) -> str:
        return f"t{os.getpid()}-{time.monotonic_ns() % 10**9}"

    @pytest.fixture
    def pod_name(self, request: pytest.FixtureRequest) -> str:
        return f"contract-{os.getpid()}-{request.node.name.replace('_', '-')[:24]}".lower().rstrip("-")

    @pytest.fixture
    def distro(self, subject: Subject, run_id: str, tmp_path: Path) -> Iterator[Distro]:
        driver = build(subject, subject.settings(run_id, tmp_path / "work"))
        yield driver
        assert subject.leftovers(run_id) == [], f"run {run_id} left objects behind"

    def _objects(self, subject: Subject, pod: str, port: int, run_id: str) -> list[dict[str, Any]]:
        return with_labels(
            small_pod(subject.image, name=pod, host_port=port, run_id=run_id), ownership_labels(run_id, keep=False)
        )

    # -- targets ---------------------------------------------------------------------------------

    def test_up_twice_attaches(self, distro: Distro) -> None:
        first = distro.up()
        second = distro.up()
        assert second.created is False, "a second up() must attach, not create"
        assert (second.distro, second.name) == (first.distro, first.name)
        if first.created:
            distro.down(first)

    def test_down_on_attached_target_deletes_nothing(self, subject: Subject, distro: Distro, tmp_path: Path) -> None:
        target = distro.up()
        if target.created:
            distro.down(target)
            pytest.skip("this test run created the target, so down() was entitled to remove it")
        distro.down(target)
        assert subject.target_intact(), "down() on a target this run did not create must leave it working"
        again = build(subject, subject.settings("again", tmp_path / "again"))
        assert again.up().created is False

    def test_fingerprint_fills_its_facts(self, subject: Subject, distro: Distro) -> None:
        target = distro.up()
        distro.wait_ready(target, timeout_s=60)
        facts = distro.fingerprint(target).facts
        empty = [key for key in subject.fingerprint_keys if facts.get(key) in (None, "", [])]
        assert not empty, f"fingerprint facts missing or empty: {empty}; got {facts}"

    # -- a pod's whole life ----------------------------------------------------------------------

    def test_deploy_wait_reach_diagnose_undeploy_leaves_nothing(
        self, subject: Subject, pod_name: str, run_id: str, tmp_path: Path
    ) -> None:
        port = _servers.free_port()
        settings = dataclasses.replace(subject.settings(run_id, tmp_path / "work"), gateway_http_port=port)
        distro = build(subject, settings)
        distro.preflight([subject.image])
        target = distro.up()
        distro.wait_ready(target, timeout_s=60)
        distro.load_images(target, [subject.image])
        timings: dict[str, float] = {}
        started = time.monotonic()
        deployment = distro.deploy(target, self._objects(subject, pod_name, port, run_id))
        timings["apply_s"] = time.monotonic() - started
        try:
            started = time.monotonic()
            distro.wait_deployed(target, deployment, timeout_s=120)
            timings["ready_s"] = time.monotonic() - started
            states = distro.containers(target, deployment)
            assert [(s.name, s.state, s.ready, s.restarts) for s in states] == [("web", "running", True, 0)]
            assert states[0].image.endswith(subject.image.rsplit("/", 1)[-1]), (states[0].image, subject.image)

            endpoints = distro.endpoints(target, deployment)
            assert endpoints.gateway_port in endpoints.published_ports, (endpoints, port)
            with urllib.request.urlopen(f"{endpoints.gateway_url}/hello.txt", timeout=10) as answer:
                assert answer.read() == b"hello from the configmap\n"

            host = distro.container_host(target, deployment, "web")
            assert host.file("/etc/demo/hello.txt").is_file
            assert host.run("echo out; echo err >&2; exit 3").rc == 3

            saved = distro.collect_diagnostics(target, deployment, tmp_path / "diag")
            names = {p.name for p in saved}
            wanted = {n.format(pod=pod_name) for n in subject.diagnostic_names}
            assert wanted <= names, f"diagnostics missing {sorted(wanted - names)}; saved {sorted(names)}"
        finally:
            started = time.monotonic()
            distro.undeploy(target, deployment)
            timings["undeploy_s"] = time.monotonic() - started
            distro.down(target)
        assert subject.leftovers(run_id) == []
        print(f"timings {json.dumps({k: round(v, 2) for k, v in timings.items()})}")

    def test_missing_image_fails_naming_it_and_leaves_nothing(
        self, subject: Subject, pod_name: str, run_id: str, tmp_path: Path
    ) -> None:
        absent = "localhost/edgex-smoke-test/absent:0"
        distro = build(subject, subject.settings(run_id, tmp_path / "work"))
        target = distro.up()
        objects = self._objects(subject, pod_name, _servers.free_port(), run_id)
        objects = [{**o, "spec": _with_image(o["spec"], absent)} if o["kind"] == "Pod" else o for o in objects]
        deployment = None
        try:
            with pytest.raises(SmokeError) as caught:  # podman fails at play, Kubernetes at wait
                deployment = distro.deploy(target, objects)
                distro.wait_deployed(target, deployment, timeout_s=60)
            assert absent in str(caught.value), caught.value
            assert "\n" not in str(caught.value)
        finally:
            if deployment is not None:
                distro.undeploy(target, deployment)
        assert subject.leftovers(run_id) == []

    # -- interrupts --------------------------------------------------------------------------------

    def _child(
        self, subject: Subject, pod_name: str, run_id: str, tmp_path: Path, hook: str | None
    ) -> tuple[Any, Path]:
        port = _servers.free_port()
        settings = dataclasses.replace(subject.settings(run_id, tmp_path / "work"), gateway_http_port=port)
        spec = {
            "factory": subject.factory,
            "settings": _settings_json(settings),
            "image": subject.image,
            "pod": pod_name,
            "port": port,
            "hook": hook,
        }
        script = tmp_path / "child.py"
        script.write_text(CHILD)
        log = tmp_path / "child.log"
        child = proc.start([sys.executable, str(script), json.dumps(spec)], log_path=log, env={"PYTHONPATH": str(ROOT)})
        return child, log

    @staticmethod
    def _wait_for_line(child: Any, log: Path, line: str) -> None:
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while line not in log.read_text():
            assert child.poll() is None, f"the child exited early: {log.read_text()}"
            assert time.monotonic() < deadline, f"the child never printed {line!r}: {log.read_text()}"
            time.sleep(0.2)  # polling the child's log file for its one line

    def test_sigterm_while_running_removes_everything(
        self, subject: Subject, pod_name: str, run_id: str, tmp_path: Path
    ) -> None:
        child, log = self._child(subject, pod_name, run_id, tmp_path, hook=None)
        try:
            self._wait_for_line(child, log, "running")
            assert subject.leftovers(run_id), "the running pod should be visible before SIGTERM"
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=CHILD_TIMEOUT_S)
        finally:
            proc.stop(child)
        assert "cleaned up" in log.read_text(), log.read_text()
        assert subject.leftovers(run_id) == [], log.read_text()

    def test_sigterm_mid_apply_removes_everything(
        self, subject: Subject, pod_name: str, run_id: str, tmp_path: Path
    ) -> None:
        if subject.mid_apply_hook is None:
            pytest.skip(f"{subject.factory}: no per-object apply step to interrupt")
        child, log = self._child(subject, pod_name, run_id, tmp_path, hook=subject.mid_apply_hook)
        try:
            self._wait_for_line(child, log, "mid-apply")
            partial = subject.leftovers(run_id)
            assert partial, "half an apply should be visible before SIGTERM"
            started = time.monotonic()
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=CHILD_TIMEOUT_S)
            print(f"mid-apply teardown took {time.monotonic() - started:.2f} s; had {partial}")
        finally:
            proc.stop(child)
        assert "cleaned up" in log.read_text(), log.read_text()
        assert subject.leftovers(run_id) == [], log.read_text()


def _with_image(spec: dict[str, Any], image: str) -> dict[str, Any]:
    return {**spec, "containers": [{**c, "image": image} for c in spec["containers"]]}
