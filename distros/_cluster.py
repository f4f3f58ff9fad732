"""What the Kubernetes-based drivers (k8s, k3s, microk8s, kubeedge) share.

Drivers never import each other (house style §1), so the code they have in
common lives here, on top of `_kube` and `harness.proc`:

- `Workload`: the EdgeX pod in a run-owned namespace of one cluster (deploy,
  wait, containers, endpoints, exec, diagnostics, undeploy, reap), every API call
  through `_kube.KubeClient`;
- `WorkloadVerbs`: a stateless mixin that forwards the `Distro` workload verbs
  to a driver's `Workload`, so no driver repeats them;
- image side-loading from podman storage into a node's containerd (``podman
  save`` to a docker-archive, then the distro's own import command);
- host facts provisioning needs (root, a service manager, free ports) and
  best-effort diagnostics helpers (journals, log tails, command output);
- fetching an installer from a path or URL that configuration names: no
  download site is written in code.

Every command is an argument list run through `harness.proc.run`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

import requests

import manifests
from distros import _hostcheck, _kube, _ownership
from distros._protocol import ContainerState, Deployment, DistroSettings, Endpoints, KubeObject, Target
from harness import proc
from harness.errors import CommandError, InfraError, PreflightError, ReadinessTimeoutError, SmokeError

log = logging.getLogger(__name__)

DELETE_TIMEOUT_S = 180.0
REACH_TIMEOUT_S = 3.0
ACCEPT_TIMEOUT_S = 10.0
"""How long `Workload.endpoints` waits for the gateway to accept on the node before port-forwarding."""
IMPORT_TIMEOUT_S = 600.0
PULL_TIMEOUT_S = 600.0
QUERY_TIMEOUT_S = 60.0
FETCH_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 10.0
DIAGNOSTICS_TIMEOUT_S = 120.0
JOURNAL_LINES = 3000
LOG_TAIL_BYTES = 2_000_000
MAX_REPORTED_IMAGES = 50
"""The kubelet's default ``nodeStatusMaxImages``: a node listing fewer images lists all of them."""

EDGE_ROLE_LABEL = "node-role.kubernetes.io/edge"
"""The label KubeEdge edge nodes carry; the kubeedge overlay selects on it."""


# -- small pure helpers ---------------------------------------------------------------------------------


def missing_refs(refs: Iterable[str], present: Iterable[str]) -> list[str]:
    """The references of `refs` (unique, in order) whose normalized name is not in `present`."""
    names = {manifests.runtime_reference(name) for name in present}
    return [ref for ref in dict.fromkeys(refs) if manifests.runtime_reference(ref) not in names]


def parse_image_list(text: str) -> set[str]:
    """Image names from ``ctr images list --quiet`` output (one per line; digest-only names dropped)."""
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("sha256:")}


def save_image_argv(ref: str, archive: Path) -> list[str]:
    """``podman save`` of one image into a docker-archive, the format containerd's import reads."""
    return ["podman", "save", "--format", "docker-archive", "--output", str(archive), ref]


def journal_argv(unit: str, *, lines: int = JOURNAL_LINES) -> list[str]:
    """The last `lines` lines of a systemd unit's journal, without a pager."""
    return ["journalctl", "--unit", unit, "--no-pager", "--output", "short-iso", "--lines", str(lines)]


def is_edge_node(node: KubeObject) -> bool:
    """True if the node carries the KubeEdge edge role label."""
    return EDGE_ROLE_LABEL in ((node.get("metadata") or {}).get("labels") or {})


def label_safe(value: str) -> str:
    """`value` as a DNS-1123 label (lower case, ``-`` for anything else, at most 63 characters)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    return cleaned[:63].rstrip("-") or "node"


def is_url(source: str) -> bool:
    """True if `source` is an http(s) URL rather than a file path."""
    return source.startswith(("http://", "https://"))


# -- host facts -----------------------------------------------------------------------------------------


def is_root() -> bool:
    """True if this process runs as root (installing a distribution needs it)."""
    return os.geteuid() == 0


def has_systemd() -> bool:
    """True if systemd is this host's service manager (the installers register services with it)."""
    return Path("/run/systemd/system").is_dir()


def has_openrc() -> bool:
    """True if OpenRC is this host's service manager."""
    return shutil.which("openrc") is not None or Path("/run/openrc").is_dir()


def cgroup_v2_unified() -> bool:
    """True on a pure cgroup v2 host (``/sys/fs/cgroup`` is the unified hierarchy)."""
    return Path("/sys/fs/cgroup/cgroup.controllers").is_file()


def tool(name: str) -> str | None:
    """The absolute path of `name` on PATH, or None."""
    return shutil.which(name)


def reachable(host: str, port: int, *, timeout_s: float = REACH_TIMEOUT_S) -> bool:
    """True if `host` answers on `port` at all: accepting or refusing both prove a route."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def accepts(host: str, port: int, *, timeout_s: float = ACCEPT_TIMEOUT_S) -> bool:
    """True once `host` accepts a connection on `port` within `timeout_s`.

    Unlike `reachable`, a refusal is not taken as proof of a route: firewalls refuse
    too. The gateway may still be starting when its container already runs, so
    refusals are retried.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(min(left, 3.0), 0.1)):
                return True
        except OSError:
            if time.monotonic() + 0.5 >= deadline:
                return False
            # No API tells when a process starts listening: retry the connect on a short interval.
            time.sleep(0.5)


def source_problem(source: str) -> str | None:
    """Why the installer at `source` (a path or URL) cannot be had, or None if it can."""
    if not is_url(source):
        path = Path(source).expanduser()
        return None if path.is_file() else f"{path} does not exist"
    try:
        response = requests.head(source, allow_redirects=True, timeout=PROBE_TIMEOUT_S)
    except requests.RequestException as err:
        return f"{_kube.redact_url(source)} does not answer ({type(err).__name__})"
    if response.status_code >= 400:
        return f"{_kube.redact_url(source)} answers HTTP {response.status_code}"
    return None


def fetch(source: str, dest: Path, *, subject: str, what: str) -> Path:
    """Copy the file at `source` (a path or an http(s) URL) to `dest`; return `dest`.

    Raises:
        PreflightError: the file cannot be read or downloaded.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not is_url(source):
        try:
            shutil.copyfile(Path(source).expanduser(), dest)
        except OSError as err:
            raise PreflightError(f"{subject}: cannot read the {what} {source}: {err.strerror or err}") from err
        return dest
    shown = _kube.redact_url(source)
    try:
        with requests.get(source, stream=True, timeout=FETCH_TIMEOUT_S) as response:
            response.raise_for_status()
            with dest.open("wb") as sink:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    sink.write(chunk)
    except (requests.RequestException, OSError) as err:
        raise PreflightError(
            f"{subject}: cannot download the {what} from {shown} ({type(err).__name__}); "
            "check the network, or give a local copy instead of the URL"
        ) from err
    return dest


def poll(
    probe: Callable[[], Any],
    *,
    timeout_s: float,
    what: str,
    fix: str,
    poll_s: float = 2.0,
    progress: Callable[[str], None] | None = None,
) -> Any:
    """Call `probe` until it returns something truthy or `timeout_s` passes; return that value.

    For the few states that have no watch (a file a service writes, a join token
    that appears once CloudCore runs). `probe` may raise `SmokeError`, which counts
    as "not yet"; the last one is named in the timeout message.

    Raises:
        ReadinessTimeoutError: `what` did not happen within `timeout_s`.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    last_error = ""
    while True:
        try:
            result = probe()
        except SmokeError as err:
            result, last_error = None, str(err)
        if result:
            return result
        elapsed = time.monotonic() - started
        if progress is not None:
            progress(f"waiting for {what} ({elapsed:.0f} s)")
        if time.monotonic() + poll_s > deadline:
            detail = f"; last error: {last_error}" if last_error else ""
            raise ReadinessTimeoutError(f"{what} not reached after {timeout_s:.0f} s{detail}; {fix}")
        time.sleep(poll_s)  # bounded by the deadline above; these states have no watch


# -- best-effort diagnostics ----------------------------------------------------------------------------


def save_command(argv: Sequence[str], dest: Path, *, timeout_s: float = DIAGNOSTICS_TIMEOUT_S) -> Path | None:
    """Write the output of `argv` (stdout, then stderr) to `dest`; never raises."""
    try:
        done = proc.run(argv, timeout_s=timeout_s, check=False)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(done.stdout + (f"\n# stderr:\n{done.stderr}" if done.stderr.strip() else ""))
    except (SmokeError, OSError) as err:
        log.warning("diagnostics: %s: %s", " ".join(argv[:3]), err)
        return None
    return dest


def save_tail(source: Path, dest: Path, *, max_bytes: int = LOG_TAIL_BYTES) -> Path | None:
    """Copy the last `max_bytes` of `source` to `dest`, if `source` exists; never raises."""
    try:
        if not source.is_file():
            return None
        size = source.stat().st_size
        with source.open("rb") as reader:
            reader.seek(max(0, size - max_bytes))
            data = reader.read()
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    except OSError as err:
        log.warning("diagnostics: cannot copy %s: %s", source, err)
        return None
    return dest


def save_unit_log(unit: str, log_files: Sequence[Path], dest: Path) -> list[Path]:
    """The unit's journal under systemd, else the tails of the log files it writes; never raises."""
    saved: list[Path] = []
    if has_systemd() and tool("journalctl"):
        found = save_command(journal_argv(unit), dest / f"{unit}.journal.log")
        if found:
            saved.append(found)
    for path in log_files:
        found = save_tail(path, dest / path.name)
        if found:
            saved.append(found)
    return saved


# -- images ---------------------------------------------------------------------------------------------


def _podman_env() -> dict[str, str]:
    from lab import podman as lab_podman  # noqa: PLC0415  # lazy: lab is only needed to side-load

    return lab_podman.podman_env()


def in_podman_storage(ref: str) -> bool:
    """True if `ref` is in this host's podman storage (False if podman is missing)."""
    try:
        done = proc.run(["podman", "image", "exists", ref], timeout_s=QUERY_TIMEOUT_S, check=False, env=_podman_env())
    except SmokeError:
        return False
    return done.returncode == 0


def side_load(
    refs: Sequence[str],
    *,
    subject: str,
    list_argv: Sequence[str],
    import_argv: Callable[[Path], list[str]],
    pull_argv: Callable[[str], list[str]] | None,
    work_dir: Path,
    progress: Callable[[str], None],
) -> list[str]:
    """Put every image of `refs` into a local node runtime; return the references that were loaded.

    What the runtime already holds (per `list_argv`) is skipped. A missing image is
    saved from podman storage and imported with `import_argv`; one that podman lacks
    is pulled by the runtime with `pull_argv` (never ``localhost/`` references).

    Raises:
        PreflightError: one line naming every image that could not be had, and the fix.
    """
    try:
        present = parse_image_list(proc.run(list_argv, timeout_s=QUERY_TIMEOUT_S).stdout)
    except CommandError as err:
        raise InfraError(f"{subject}: cannot list the node's images ({err}); is the runtime running?") from err
    loaded: list[str] = []
    still_missing: list[str] = []
    work_dir.mkdir(parents=True, exist_ok=True)
    for ref in missing_refs(refs, present):
        if in_podman_storage(ref):
            progress(f"side-loading {ref}")
            with tempfile.TemporaryDirectory(dir=work_dir, prefix="image-") as tmp:
                archive = Path(tmp) / "image.tar"
                proc.run(save_image_argv(ref, archive), timeout_s=IMPORT_TIMEOUT_S, env=_podman_env())
                proc.run(import_argv(archive), timeout_s=IMPORT_TIMEOUT_S)
            loaded.append(ref)
        elif pull_argv is not None and not ref.startswith("localhost/"):
            progress(f"pulling {ref}")
            if proc.run(pull_argv(manifests.runtime_reference(ref)), timeout_s=PULL_TIMEOUT_S, check=False).returncode:
                still_missing.append(ref)
            else:
                loaded.append(ref)
        else:
            still_missing.append(ref)
    if still_missing:
        raise PreflightError(
            f"{subject}: {len(still_missing)} image(s) missing from the node's runtime and neither in podman "
            f"storage nor pullable: {', '.join(still_missing)}; choose --images lab (build with 'make lab-images'), "
            "--images upstream on a networked host, or --images <registry/prefix> for a mirror"
        )
    return loaded


IMAGE_REPORT_TIMEOUT_S = 30.0
"""How long to wait for kubelets to report a side-loaded image (they update node status every 10 s)."""


def check_images_on_nodes(kube: _kube.KubeClient, refs: Sequence[str], *, subject: str) -> None:
    """On a cluster this host cannot side-load into: fail if an unpullable image is on no node.

    Pullable references are left to the kubelet (a failure names the image); a
    ``localhost/`` reference fails preflight only when every node's image list is
    complete (the kubelet reports at most 50 images per node), after waiting for
    the kubelets' next status update.

    Raises:
        PreflightError: naming the missing images and the fix.
    """
    local_refs = [ref for ref in dict.fromkeys(refs) if ref.startswith("localhost/")]
    if not local_refs:
        return
    missing = kube.missing_node_images(local_refs, timeout_s=IMAGE_REPORT_TIMEOUT_S)
    if missing:
        raise PreflightError(
            f"{subject}: {len(missing)} image(s) not on any node and not pullable: {', '.join(missing)}; "
            "import them into the node's runtime (e.g. 'ctr -n k8s.io images import'), "
            "or choose --images <registry/prefix>"
        )


# -- the EdgeX pod on a cluster -------------------------------------------------------------------------


def _pod_object(objects: Sequence[KubeObject], subject: str) -> KubeObject:
    pods = [o for o in objects if o.get("kind") == "Pod"]
    if len(pods) != 1:
        raise InfraError(f"{subject}: the manifest must hold exactly one Pod, found {len(pods)}; check the renderer")
    return pods[0]


class Workload:
    """The EdgeX pod in a run-owned namespace of one cluster, through `_kube.KubeClient`.

    Holds the verbs every Kubernetes-based driver needs once it has a client:
    reap, deploy, wait, containers, endpoints, exec, digests, diagnostics and
    undeploy. Deleting only ever touches the run's own namespace.

    The client comes from `connect`, called on the first API call only: undeploying
    a deployment this run did not create needs no cluster at all.
    """

    def __init__(self, connect: Callable[[], _kube.KubeClient], settings: DistroSettings, *, subject: str) -> None:
        self._connect = connect
        self._kube: _kube.KubeClient | None = None
        self.settings = settings
        self.subject = subject
        self._forwards = ExitStack()
        self._endpoints: dict[str, Endpoints] = {}
        self._deployment: Deployment | None = None

    @property
    def kube(self) -> _kube.KubeClient:
        """The API client, made by `connect` on first use."""
        if self._kube is None:
            self._kube = self._connect()
        return self._kube

    def close(self) -> None:
        """Stop port-forwards and close the client's connections (if it was ever made)."""
        self._forwards.close()
        self._endpoints.clear()
        if self._kube is not None:
            self._kube.close()
            self._kube = None

    def _namespace(self, deployment: Deployment) -> str:
        if deployment.namespace is None:
            raise InfraError(
                f"{self.subject}: deployment of pod {deployment.pod} has no namespace; "
                f"it was not made by {self.subject}"
            )
        return deployment.namespace

    # -- preflight --------------------------------------------------------------------------------------

    def check_gateway_ports(self) -> None:
        """Fail if another pod holds the gateway's hostPorts, or (node = this host) another process does."""
        ports = (self.settings.gateway_http_port, self.settings.gateway_mqtt_port)
        try:
            taken = self.kube.pods_with_host_ports(ports)
        except InfraError as err:
            log.info("%s: cannot list pods to check host ports (%s); skipping that check", self.subject, err)
            return
        if taken:
            pod, port, node = taken[0]
            raise PreflightError(
                f"{self.subject}: host port {port} is taken by pod {pod} on node {node or '?'}; delete that pod "
                "(a kept EdgeX run: delete its edgex-smoke-* namespace), use --gateway-ports, or use --reuse"
            )
        try:
            local = [ip for node in self.kube.nodes() if (ip := _kube.node_address(node)) and _kube.local_address(ip)]
        except InfraError:
            return
        if local:
            _hostcheck.require_free_ports(
                ports,
                subject=f"{self.subject} (node {local[0]} is this host)",
                fix="stop what holds it (a kept podman EdgeX pod: 'podman pod rm -f edgex'), or use --gateway-ports",
            )

    # -- the pod ----------------------------------------------------------------------------------------

    def reap(self) -> list[str]:
        """Delete the namespaces of dead earlier runs of this host (by label) and wait until they are gone."""
        return self.kube.reap(self.settings.run_id, timeout_s=DELETE_TIMEOUT_S, progress=self.settings.progress)

    def deploy(self, objects: Sequence[KubeObject]) -> Deployment:
        """Create the run's namespace and server-side apply `objects` into it.

        Any failure or interrupt (``BaseException``, so SIGTERM too) after the
        namespace check deletes the namespace again, unless the run keeps what it made.
        """
        namespace = _kube.namespace_for(self.settings.run_id)
        pod = _pod_object(objects, self.subject)
        self.kube.require_namespace_free(namespace, self.settings.run_id)
        labels = _ownership.ownership_labels(self.settings.run_id, keep=self.settings.keep)
        try:
            self.kube.create_namespace(namespace, labels, self.settings.progress)
            self.kube.apply(objects, namespace)
        except BaseException:
            if not self.settings.keep:
                self._remove_namespace(namespace)
            raise
        self._deployment = Deployment(
            pod=pod["metadata"]["name"],
            run_id=self.settings.run_id,
            created=True,
            namespace=namespace,
            objects=tuple(objects),
        )
        return self._deployment

    def _remove_namespace(self, namespace: str) -> None:
        """Delete `namespace` after a failed deploy without hiding the failure."""
        try:
            self.kube.delete_namespace(namespace, DELETE_TIMEOUT_S, self.settings.progress)
        except SmokeError as err:
            log.warning("%s: could not remove namespace %s after a failed deploy: %s", self.subject, namespace, err)

    def find_deployment(self) -> Deployment:
        """Attach to a running EdgeX pod in a namespace an earlier (kept) run made."""
        for ns in self.kube.namespaces(_ownership.SELECTOR):
            name = ns["metadata"]["name"]
            for pod in self.kube.pods(name):
                if (pod.get("status") or {}).get("phase") == "Running":
                    run_id = ((ns["metadata"].get("labels") or {}).get(_ownership.RUN_ID)) or "unknown"
                    self._deployment = Deployment(
                        pod=pod["metadata"]["name"], run_id=run_id, created=False, namespace=name
                    )
                    return self._deployment
        raise PreflightError(
            f"{self.subject}: --reuse found no running pod in a namespace labelled {_ownership.SELECTOR}; "
            f"deploy one first with 'pytest --distro={self.subject} --keep', or drop --reuse"
        )

    def wait_deployed(self, deployment: Deployment, *, timeout_s: float) -> None:
        """Watch the pod until every container is ready; stop early with the reason when it cannot."""
        self.kube.wait_pod_ready(self._namespace(deployment), deployment.pod, timeout_s, self.settings.progress)

    def containers(self, deployment: Deployment) -> list[ContainerState]:
        """State of every container of the pod."""
        return self.kube.container_states(self._namespace(deployment), deployment.pod)

    def endpoints(self, deployment: Deployment) -> Endpoints:
        """The gateway's hostPorts on the IP of the pod's node; port-forwards if that IP is not routable.

        The node address counts as routable once the gateway accepts a connection
        there (`accepts`). A port-forward stays open until `undeploy` or `close`.
        """
        key = f"{deployment.namespace}/{deployment.pod}"
        if key in self._endpoints:
            return self._endpoints[key]
        namespace = self._namespace(deployment)
        pod = self.kube.pod(namespace, deployment.pod)
        if pod is None:
            raise InfraError(f"{self.subject}: pod {key} does not exist; was it deleted?")
        ports = _kube.host_port_map(pod)
        status = pod.get("status") or {}
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        node_ip = status.get("hostIP")
        if not node_ip and node_name:
            node = self.kube.node(node_name)
            node_ip = _kube.node_address(node) if node else None
        if not node_ip:
            raise InfraError(
                f"{self.subject}: pod {key} has no node address yet (node {node_name or '?'}); is it scheduled?"
            )
        host_network = bool(spec.get("hostNetwork"))
        http_port = self.settings.gateway_http_port
        mqtt_port = self.settings.gateway_mqtt_port
        probe_port = http_port if http_port in ports else next(iter(ports), http_port)
        if accepts(node_ip, probe_port):
            found = Endpoints(
                gateway_url=f"http://{node_ip}:{http_port}",
                gateway_port=http_port,
                mqtt_host=node_ip,
                mqtt_port=mqtt_port,
                published_ports=tuple(sorted(ports)),
                # Under hostNetwork the pod's IP is the node's: no separate pod address to probe.
                pod_ip=None if host_network else status.get("podIP"),
            )
        else:
            self.settings.progress(f"node address {node_ip} is not routable from here; port-forwarding instead")
            local = {
                host_port: self._forwards.enter_context(self.kube.port_forward(namespace, deployment.pod, cport))
                for host_port, cport in ports.items()
            }
            found = Endpoints(
                gateway_url=f"http://127.0.0.1:{local.get(http_port, http_port)}",
                gateway_port=local.get(http_port, http_port),
                mqtt_host="127.0.0.1",
                mqtt_port=local.get(mqtt_port, mqtt_port),
                published_ports=tuple(sorted(local.values())),
                pod_ip=None,  # the pod network is not routable from here either
            )
        self._endpoints[key] = found
        return found

    def container_host(self, deployment: Deployment, container: str) -> Any:
        """A testinfra host running commands in one container through the API server's exec."""
        return self.kube.container_host(self._namespace(deployment), deployment.pod, container)

    def image_digests(self, images: Sequence[str]) -> dict[str, str | None]:
        """Map each image reference of the last deployment to the digest its container runs."""
        digests: dict[str, str | None] = dict.fromkeys(images)
        deployment = self._deployment
        if deployment is None or deployment.namespace is None:
            return digests
        pod = self.kube.pod(deployment.namespace, deployment.pod)
        if pod is None:
            return digests
        by_name = {s.name: s for s in _kube.container_states_of(pod)}
        for container in (pod.get("spec") or {}).get("containers") or []:
            state = by_name.get(container["name"])
            if state is not None and container["image"] in digests:
                digests[container["image"]] = state.image_digest
        return digests

    def pod_uid(self, deployment: Deployment) -> str | None:
        """The pod's UID (names its log directory on the node), or None; never raises."""
        try:
            pod = self.kube.pod(self._namespace(deployment), deployment.pod)
        except SmokeError:
            return None
        return str(((pod or {}).get("metadata") or {}).get("uid") or "") or None

    def collect_diagnostics(self, deployment: Deployment | None, dest: Path) -> list[Path]:
        """Namespace events, the described pod, every container's (and previous) logs, nodes; never raises."""
        saved: list[Path] = []
        try:
            if deployment is not None and deployment.namespace is not None:
                saved += self.kube.collect_diagnostics(deployment.namespace, deployment.pod, dest)
            saved += self.kube.collect_cluster_diagnostics(dest / "cluster")
        except Exception as err:  # best effort by contract: a broken cluster must not hide the real failure
            log.warning("%s: diagnostics incomplete: %s", self.subject, err)
        return saved

    def undeploy(self, deployment: Deployment) -> None:
        """Delete the run's namespace and wait until it is gone (only if this run created it)."""
        self._endpoints.pop(f"{deployment.namespace}/{deployment.pod}", None)
        self._forwards.close()
        if not deployment.created:
            return
        self.kube.delete_namespace(self._namespace(deployment), DELETE_TIMEOUT_S, self.settings.progress)
        if self._deployment == deployment:
            self._deployment = None


class WorkloadVerbs:
    """The `Distro` workload verbs, forwarded to the driver's `Workload`.

    A mixin that only forwards and holds no state (house style §2): a driver
    mixes it in and supplies `_workload`, which builds its one `Workload` lazily.
    A driver with more to collect overrides `collect_diagnostics` and calls this
    one through ``super()`` for the API part.
    """

    __slots__ = ()
    name: ClassVar[str]

    def _workload(self) -> Workload:
        """The driver's `Workload`, made on first use; every driver supplies it."""
        raise NotImplementedError

    def reap(self, target: Target) -> list[str]:
        """Delete the namespaces of dead earlier runs of this host (by label) and wait until they are gone."""
        return self._workload().reap()

    def deploy(self, target: Target, objects: Sequence[KubeObject]) -> Deployment:
        """Create the run's own namespace and server-side apply the objects into it."""
        return self._workload().deploy(objects)

    def find_deployment(self, target: Target) -> Deployment:
        """Attach to a running EdgeX pod an earlier (kept) run made."""
        return self._workload().find_deployment()

    def wait_deployed(self, target: Target, deployment: Deployment, *, timeout_s: float) -> None:
        """Watch the pod until every container is ready; stop early with the reason when it cannot."""
        self._workload().wait_deployed(deployment, timeout_s=timeout_s)

    def containers(self, target: Target, deployment: Deployment) -> list[ContainerState]:
        """State of every container of the pod."""
        return self._workload().containers(deployment)

    def endpoints(self, target: Target, deployment: Deployment) -> Endpoints:
        """The gateway's hostPorts on the node's address; port-forwards if that is not routable."""
        return self._workload().endpoints(deployment)

    def container_host(self, target: Target, deployment: Deployment, container: str) -> Any:
        """A testinfra host for one container, through the API server's exec."""
        return self._workload().container_host(deployment, container)

    def image_digests(self, images: Sequence[str]) -> dict[str, str | None]:
        """Map each image reference of the last deployment to the digest its container runs."""
        return self._workload().image_digests(images)

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        """Namespace events, the described pod, every container's (and previous) logs, nodes; never raises."""
        try:
            workload = self._workload()
        except Exception as err:  # best effort by contract: a broken kubeconfig must not hide the real failure
            log.warning("%s: no API diagnostics: %s", self.name, err)
            return []
        return workload.collect_diagnostics(deployment, dest)

    def undeploy(self, target: Target, deployment: Deployment) -> None:
        """Delete the run's namespace and wait until it is gone (only if this run created it)."""
        self._workload().undeploy(deployment)


def pod_log_dir(namespace: str, pod: str, uid: str) -> Path:
    """Where the kubelet (or edgecore's edged) keeps a pod's container logs on its node."""
    return Path("/var/log/pods") / f"{namespace}_{pod}_{uid}"


def save_pod_log_files(namespace: str, pod: str, uid: str | None, dest: Path) -> list[Path]:
    """Copy the tails of the pod's container log files from this host's ``/var/log/pods``; never raises.

    The fallback where the API server cannot stream logs (KubeEdge without CloudStream).
    """
    if uid is None:
        return []
    saved: list[Path] = []
    root = pod_log_dir(namespace, pod, uid)
    try:
        files = sorted(root.glob("*/*.log"))
    except OSError:
        return saved
    for path in files:
        found = save_tail(path, dest / f"{path.parent.name}.node-{path.name}")
        if found:
            saved.append(found)
    return saved


def env_value(env: Mapping[str, str], name: str, default: str) -> str:
    """`env[name]` stripped, or `default` when it is unset or blank."""
    value = env.get(name, "").strip()
    return value or default
