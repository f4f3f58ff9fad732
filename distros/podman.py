"""podman: the embedded target, one pod on this host through ``podman kube play``.

Quirks this driver handles (podman 4.3, Debian 12):
- A ``kube play`` that fails half way leaves a created pod behind, so a failed or
  interrupted play is always followed by ``kube down`` of the same file.
- ConfigMap volumes become named volumes without labels, and ``kube down`` keeps
  them (``--force`` arrived after 4.3); they are removed by name. Their names derive
  from the pod's, which is unique per run, so reaping a dead run's pod removes them too.
- Rootful hostPorts are held open by conmon, so a busy gateway port shows in ``ss``.
- Hosts with cgroup v1 hybrid and no CAP_SYS_RESOURCE need runc and capped ulimits
  in containers.conf (see ``.ci/containers.conf``).
"""

from __future__ import annotations

import json
import logging
import platform
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import testinfra
import yaml

import manifests
from distros import _hostcheck, _reuse, _sideload
from distros._protocol import (
    CRASH_LOOP_RESTARTS,
    ClientAddress,
    ContainerState,
    Deployment,
    DistroSettings,
    Endpoints,
    Fingerprint,
    KubeObject,
    Target,
)
from harness import labels as run_labels
from harness import proc, reach
from harness.errors import (
    CommandError,
    InfraError,
    PreflightError,
    ReadinessBlockedError,
    ReadinessTimeoutError,
    SmokeError,
)

log = logging.getLogger(__name__)

_TAKEN_PORT = re.compile(
    r"cannot listen on the TCP port: listen tcp4? [^:]*:(?P<port>\d+): bind: address already in use"
)
"""podman's words when a hostPort is taken at play time (after preflight found it free: a race)."""

PLAY_TIMEOUT_S = 300.0
TEARDOWN_GRACE_S = 0
"""A smoke run's pod is thrown away with its data, so its containers are killed at once: stopped together,
EdgeX services take seconds over their graceful shutdown (``kube down`` alone took 4.1 s, this 1.7 s)."""
QUICK_TIMEOUT_S = 30.0
PULL_TIMEOUT_S = 600.0
LOG_TAIL_LINES = 400


def _configmap_names(objects: Sequence[KubeObject]) -> list[str]:
    return [o["metadata"]["name"] for o in objects if o.get("kind") == "ConfigMap"]


def _pod_object(objects: Sequence[KubeObject]) -> KubeObject:
    pods = [o for o in objects if o.get("kind") == "Pod"]
    if len(pods) != 1:
        raise InfraError(f"podman: the manifest must hold exactly one Pod, found {len(pods)}; check the renderer")
    return pods[0]


def _host_ports(pod: KubeObject) -> dict[str, int]:
    ports: dict[str, int] = {}
    for container in pod["spec"]["containers"]:
        for port in container.get("ports", []):
            if "hostPort" in port:
                ports[port.get("name", str(port["containerPort"]))] = int(port["hostPort"])
    return ports


class PodmanDistro:
    """One EdgeX pod in podman on this host; nothing to provision."""

    name: ClassVar[str] = "podman"

    def __init__(self, settings: DistroSettings) -> None:
        self.settings = settings
        self._podman = "podman"
        self._info: dict[str, Any] | None = None
        """``podman info`` from preflight: it proves podman works, and holds the fingerprint's facts."""

    # -- helpers -----------------------------------------------------------------

    def _run(self, *args: str, timeout_s: float = QUICK_TIMEOUT_S, check: bool = True) -> proc.Completed:
        return proc.run([self._podman, *args], timeout_s=timeout_s, check=check, package="podman")

    def _json(self, *args: str) -> Any:
        return json.loads(self._run(*args).stdout or "null")

    def _manifest_path(self, run_id: str) -> Path:
        return self.settings.work_dir / f"manifest-{run_id}.yaml"

    # -- contract ----------------------------------------------------------------

    def preflight(self, images: Sequence[str]) -> None:
        """Check podman, the host ports and (pulling where possible) the images."""
        self._podman = _hostcheck.require_tool("podman", package="podman")
        try:
            self._info = self._json("info", "--format", "json")
        except CommandError as err:
            raise PreflightError(
                f"podman: 'podman info' fails: {err.stderr_tail}; on cgroup v1 hosts without CAP_SYS_RESOURCE "
                "set CONTAINERS_CONF=.ci/containers.conf"
            ) from err
        if not self.settings.reuse:
            self._require_free_gateway_ports()

    def _require_free_gateway_ports(self) -> None:
        """Fail on a busy gateway port, naming its holder: one of our runs (which, kept or live) or a program."""
        ports = (self.settings.gateway_http_port, self.settings.gateway_mqtt_port)
        busy = [port for port in ports if port in _hostcheck.listening_tcp_ports()]
        if not busy:
            return
        port = busy[0]
        for edgex, published in self._running_edgex():
            if port in published:
                volumes = " ".join(manifests.configmap_names(edgex.name))
                remove = f"podman pod rm -f {edgex.name} && podman volume rm {volumes}"
                raise PreflightError(f"podman: {_reuse.port_advice(edgex, port, remove=remove)}")
        _hostcheck.require_free_ports(
            [port],
            subject="podman",
            fix="it is not an edgex-smoke pod: stop that program, or give this run other --gateway-ports",
        )

    def _running_edgex(self) -> list[tuple[_reuse.RunningEdgeX, set[int]]]:
        """Every running pod with the run labels, with the host ports it publishes."""
        pods = self._json("pod", "ps", "--filter", f"label={run_labels.SELECTOR}", "--format", "json") or []
        found: list[tuple[_reuse.RunningEdgeX, set[int]]] = []
        for pod in pods:
            if pod.get("Status") != "Running":
                continue
            inspect = self._run("pod", "inspect", pod["Id"], check=False)
            published = set(self._published_ports(json.loads(inspect.stdout))) if inspect.returncode == 0 else set()
            labels = pod.get("Labels") or {}
            edgex = _reuse.RunningEdgeX(pod["Name"], labels, gateway_ports=run_labels.gateway_ports_of(labels))
            found.append((edgex, published))
        return found

    def up(self) -> Target:
        """Podman runs on this host: there is nothing to create."""
        return Target(distro=self.name, name=platform.node(), mode="embedded", created=False)

    def wait_ready(self, target: Target, *, timeout_s: float) -> None:
        """Podman answers as soon as its storage is usable; ``podman info`` proves it (preflight's, if it ran)."""
        if self._info is None:
            self._info = json.loads(self._run("info", "--format", "json", timeout_s=timeout_s).stdout)

    def fingerprint(self, target: Target) -> Fingerprint:
        """Podman version, OCI runtime, cgroup mode, network backend and kernel."""
        info = self._info if self._info is not None else self._json("info", "--format", "json")
        host = info["host"]
        runtime = host["ociRuntime"]
        cgroup = host.get("cgroupVersion", "?")
        if cgroup == "v1" and Path("/sys/fs/cgroup/unified").is_dir():
            cgroup = "v1 (hybrid)"
        facts = {
            "podman_version": info["version"]["Version"],
            "oci_runtime": f"{runtime['name']} {runtime.get('version', '').splitlines()[0]}".strip(),
            "cgroup_mode": cgroup,
            "cgroup_manager": host.get("cgroupManager"),
            "network_backend": host.get("networkBackend"),
            "kernel": host.get("kernel"),
            "os": " ".join(str(v) for v in (host.get("distribution") or {}).values()),
            "rootless": bool(host.get("security", {}).get("rootless")),
        }
        return Fingerprint(facts=facts)

    def reap(self, target: Target) -> list[str]:
        """Remove pods our earlier, now dead, runs left behind."""
        reaped: list[str] = []
        pods = self._json("pod", "ps", "--filter", f"label={run_labels.SELECTOR}", "--format", "json") or []
        for pod in pods:
            labels = pod.get("Labels") or {}
            if run_labels.is_leftover(labels, current_run_id=self.settings.run_id):
                self._run("pod", "rm", "--force", pod["Id"], timeout_s=PLAY_TIMEOUT_S)
                self._remove_volumes(manifests.configmap_names(pod["Name"]))
                reaped.append(f"pod {pod['Name']} (run {labels.get(run_labels.RUN_ID, '?')})")
        return reaped

    def can_pull(self, image: str) -> bool:
        """True if the image is here already, or podman fetches its manifest (no layers) within a bound."""
        if self._run("image", "exists", image, check=False).returncode == 0:
            return True
        return _sideload.podman_can_pull(image)

    def load_images(self, target: Target, images: Sequence[str]) -> None:
        """Pull what is missing and pullable; fail with one line listing what is still missing."""
        missing = [ref for ref in dict.fromkeys(images) if self._run("image", "exists", ref, check=False).returncode]
        still_missing: list[str] = []
        for ref in missing:
            if ref.startswith("localhost/"):
                still_missing.append(ref)
                continue
            self.settings.progress(f"pulling {ref}")
            if self._run("pull", "--quiet", ref, timeout_s=PULL_TIMEOUT_S, check=False).returncode:
                still_missing.append(ref)
        if still_missing:
            raise PreflightError(
                f"podman: {len(still_missing)} image(s) missing and not pullable: {', '.join(still_missing)}; "
                f"{_sideload.MISSING_FIX}"
            )

    def image_digests(self, images: Sequence[str]) -> dict[str, str | None]:
        """Map each image reference to its local digest."""
        digests: dict[str, str | None] = {}
        for ref in images:
            done = self._run("image", "inspect", "--format", "{{.Digest}}", ref, check=False)
            digests[ref] = done.stdout.strip() or None if done.returncode == 0 else None
        return digests

    def deploy(self, target: Target, objects: Sequence[KubeObject]) -> Deployment:
        """``podman kube play`` the objects; any failure or interrupt removes what the play made."""
        manifest = self._manifest_path(self.settings.run_id)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        self._remove_volumes(_configmap_names(objects))
        pod = _pod_object(objects)
        try:
            self._run("kube", "play", "--start=true", str(manifest), timeout_s=PLAY_TIMEOUT_S)
        except CommandError as err:
            if not self.settings.keep:
                self._kube_down(manifest, _configmap_names(objects))
            taken = _TAKEN_PORT.search(err.stderr)
            if taken is None:
                raise
            raise InfraError(
                f"podman: pod {pod['metadata']['name']} could not publish port {taken['port']}: another program "
                "took it after preflight found it free; run again, or choose other --gateway-ports"
            ) from err
        except BaseException:
            if not self.settings.keep:
                self._kube_down(manifest, _configmap_names(objects))
            raise
        name = pod["metadata"]["name"]
        return Deployment(pod=name, run_id=self.settings.run_id, created=True, objects=tuple(objects))

    def find_deployment(self, target: Target) -> Deployment:
        """Attach to the running EdgeX pod that an ended run kept (``--name`` chooses among several)."""
        found = [edgex for edgex, _ports in self._running_edgex()]
        edgex = _reuse.choose(found, wanted=self.settings.reuse_name, subject="podman", distro=self.name)
        return Deployment(pod=edgex.name, run_id=edgex.run_id, created=False, gateway_ports=edgex.gateway_ports)

    def containers(self, target: Target, deployment: Deployment) -> list[ContainerState]:
        """State of every application container of the pod (not podman's infra container)."""
        pod = self._json("pod", "inspect", deployment.pod)
        ids = [c["Id"] for c in pod.get("Containers", []) if c["Id"] != pod.get("InfraContainerID")]
        if not ids:
            return []
        prefix = f"{deployment.pod}-"
        states = []
        for item in self._json("container", "inspect", *ids):
            state = item["State"]
            name = item["Name"].removeprefix(prefix)
            running = state.get("Status") == "running"
            health = (state.get("Health") or {}).get("Status") or ""
            states.append(
                ContainerState(
                    name=name,
                    state=state.get("Status", "unknown"),
                    ready=running and health in ("", "healthy"),
                    restarts=int(item.get("RestartCount", 0)),
                    exit_code=None if running else int(state.get("ExitCode", 0)),
                    image=item.get("ImageName", ""),
                )
            )
        return sorted(states, key=lambda s: s.name)

    def wait_deployed(self, target: Target, deployment: Deployment, *, timeout_s: float) -> None:
        """Wait until every container runs; stop early when one has exited for good."""
        started = time.monotonic()
        deadline = started + timeout_s
        while True:
            states = self.containers(target, deployment)
            ready = [s for s in states if s.ready]
            elapsed = time.monotonic() - started
            self.settings.progress(f"waiting for {len(ready)}/{len(states)} containers running ({elapsed:.0f} s)")
            if states and len(ready) == len(states):
                return
            dead = [s for s in states if s.restarts >= CRASH_LOOP_RESTARTS]
            if dead or time.monotonic() > deadline:
                pending = dead or [s for s in states if not s.ready]
                detail = ", ".join(f"{s.name} is {s.state} (restarts {s.restarts})" for s in pending)
                reason = "will not start" if dead else f"not running after {timeout_s:.0f} s"
                raise (ReadinessBlockedError if dead else ReadinessTimeoutError)(
                    f"podman: pod {deployment.pod} {reason}: {detail or 'no containers'}; "
                    f"see the container logs under {self.settings.work_dir}"
                )
            # podman has no watch API for container state in 4.3; poll its state on a short interval.
            time.sleep(0.5)

    def logs(self, target: Target, deployment: Deployment, container: str, *, tail_lines: int) -> str:
        """``podman logs --tail``: every run of the container, so a crash's last words are there; never raises."""
        try:
            done = self._run("logs", "--tail", str(tail_lines), f"{deployment.pod}-{container}", check=False)
        except SmokeError as err:
            return f"(no logs: {err})"
        return done.stdout + done.stderr

    def endpoints(self, target: Target, deployment: Deployment) -> Endpoints:
        """The gateway through its hostPorts on the loopback address, plus the pod's own IP."""
        pod = self._json("pod", "inspect", deployment.pod)
        ports = self._published_ports(pod)
        pod_ip = None
        infra = pod.get("InfraContainerID")
        if infra:
            networks = self._json("container", "inspect", infra)[0]["NetworkSettings"].get("Networks") or {}
            pod_ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
        http_port, mqtt_port = deployment.gateway_ports or (
            self.settings.gateway_http_port,
            self.settings.gateway_mqtt_port,
        )
        # The gateway's containerPort equals its hostPort; published ports answer on every host address.
        on_pod = (ClientAddress("pod IP", pod_ip, http_port),) if pod_ip else ()
        on_host = tuple(
            ClientAddress("host", address, http_port, vouched=address == "127.0.0.1")
            for address in reach.local_addresses()
        )
        return Endpoints(
            gateway_url=f"http://127.0.0.1:{http_port}",
            gateway_port=http_port,
            mqtt_host="127.0.0.1",
            mqtt_port=mqtt_port,
            published_ports=tuple(sorted(ports)),
            pod_ip=pod_ip,
            client_addresses=on_pod + on_host,
        )

    @staticmethod
    def _published_ports(pod: dict[str, Any]) -> dict[int, int]:
        bindings = (pod.get("InfraConfig") or {}).get("PortBindings") or {}
        published: dict[int, int] = {}
        for entries in bindings.values():
            for entry in entries or []:
                host_port = int(entry.get("HostPort") or 0)
                if host_port:
                    published[host_port] = host_port
        return published

    def container_host(self, target: Target, deployment: Deployment, container: str) -> Any:
        """A testinfra host running commands inside one container of the pod."""
        return testinfra.get_host(f"podman://{deployment.pod}-{container}")

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        """Every container's logs plus ``podman pod inspect`` and ``container inspect``; never raises."""
        saved: list[Path] = []
        if deployment is None:
            return saved
        try:
            dest.mkdir(parents=True, exist_ok=True)
            pod = self._run("pod", "inspect", deployment.pod, check=False)
            saved.append(self._save(dest / "pod-inspect.json", pod.stdout or pod.stderr))
            pod_json = json.loads(pod.stdout) if pod.returncode == 0 else {}
            for container in pod_json.get("Containers", []):
                name = container["Name"]
                logs = self._run("logs", "--timestamps", "--tail", str(LOG_TAIL_LINES), name, check=False)
                saved.append(self._save(dest / f"{name}.log", logs.stdout + logs.stderr))
                inspect = self._run("container", "inspect", name, check=False)
                saved.append(self._save(dest / f"{name}.inspect.json", inspect.stdout or inspect.stderr))
        except (SmokeError, OSError, ValueError) as err:
            log.warning("podman: diagnostics incomplete: %s", err)
        return saved

    @staticmethod
    def _save(path: Path, text: str) -> Path:
        path.write_text(text)
        return path

    def undeploy(self, target: Target, deployment: Deployment) -> None:
        """``podman kube down`` the manifest this run played, then its ConfigMap volumes."""
        if not deployment.created:
            return
        self._run("pod", "stop", "--time", str(TEARDOWN_GRACE_S), deployment.pod, timeout_s=PLAY_TIMEOUT_S, check=False)
        self._kube_down(self._manifest_path(deployment.run_id), _configmap_names(deployment.objects))

    def _kube_down(self, manifest: Path, volumes: Sequence[str]) -> None:
        if manifest.exists():
            self._run("kube", "down", str(manifest), timeout_s=PLAY_TIMEOUT_S, check=False)
        self._remove_volumes(volumes)

    def _remove_volumes(self, names: Sequence[str]) -> None:
        if names:  # --force: one call, and a volume that is not there is no error
            self._run("volume", "rm", "--force", *names, timeout_s=PLAY_TIMEOUT_S, check=False)

    def down(self, target: Target) -> None:
        """Nothing was provisioned, so nothing is removed."""
