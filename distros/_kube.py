"""The one module that talks to a Kubernetes API server, through the official ``kubernetes`` client.

Every Kubernetes-based driver hands its cluster work to `KubeClient`: server-side
apply into a run-owned namespace, watches with deadlines, exec, port-forward, logs,
diagnostics, reaping and a fingerprint of the cluster. Nothing here shells out to
kubectl.

Rules this module keeps:
- The client is built from one kubeconfig file (and an optional context) into a
  private ``Configuration``: ``~/.kube/config`` and the client's global default
  configuration are never read or changed, and the kubeconfig is never written
  back (``persist_config=False``) or printed.
- Every request has a client-side timeout; API errors become one-line
  `harness.errors` messages (status, reason, the server's message cut to 256
  characters), network errors name the server URL without credentials.
- Waits are watches bounded by a deadline (``timeout_seconds`` plus a request
  timeout), re-armed every few seconds so the caller can print progress.

Client quirks worked around here (kubernetes 34.1 to 37):
- ``kubernetes.stream.stream``/``portforward`` swap ``ApiClient.request`` while a
  call runs, so exec and port-forward use their own `ApiClient` behind a lock.
- ``websocket_call`` turns a ``KeyboardInterrupt`` into ``ApiException(status=0)``;
  exec re-raises it as ``KeyboardInterrupt`` so SIGTERM still tears down.
- ``Watch.stream(..., deserialize=False)`` crashes on ERROR events (it reads
  ``raw_object``), so watches deserialize and objects are turned back into plain
  dicts with ``sanitize_for_serialization``.
- ``WSClient.returncode`` raises ``KeyError`` when the error channel carries no exit
  code (e.g. executable not found); the status is parsed here instead.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import testinfra.backend.base
import testinfra.host
import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.stream import portforward, stream

from distros._protocol import CRASH_LOOP_RESTARTS, ContainerState, KubeObject, Progress, no_progress
from harness import labels as run_labels
from harness.errors import (
    CommandError,
    InfraError,
    ManifestError,
    PreflightError,
    ReadinessBlockedError,
    ReadinessTimeoutError,
    tail,
)

log = logging.getLogger(__name__)

FIELD_MANAGER = "edgex-smoke"
NAMESPACE_PREFIX = "edgex-smoke-"
REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
TICK_S = 5.0
"""Longest stretch of a watch before it is re-armed, so waits can report progress."""
SERVICE_ACCOUNT_TIMEOUT_S = 60.0
DELETE_TIMEOUT_S = 180.0
TEARDOWN_GRACE_S = 1
"""A smoke run's pod is thrown away with its data: its containers get SIGTERM and this long before SIGKILL."""
EXEC_TIMEOUT_S = 60.0
LOG_TAIL_LINES = 5000
MAX_REPORTED_IMAGES = 50
"""The kubelet's default ``nodeStatusMaxImages``: a node listing fewer images lists all of them."""
API_MESSAGE_CHARS = 256

"""Restarts before a CrashLoopBackOff counts as final: a service may exit once while its dependencies start."""
IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"})
CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})
# Warnings that explain nothing about a pod that is not ready: a cluster without DNS (the lab cluster) puts
# MissingClusterDNS on every pod with dnsPolicy ClusterFirst, at every sync.
_BENIGN_WARNINGS = frozenset({"MissingClusterDNS"})
# Objects every namespace gets from controllers; they do not make a namespace "used".
_AUTOMATIC_OBJECTS = frozenset({"configmaps/kube-root-ca.crt", "serviceaccounts/default"})
_CNI_MARKERS = (
    ("cilium", "cilium"),
    ("calico", "calico"),
    ("canal", "canal"),
    ("flannel", "flannel"),
    ("weave", "weave"),
    ("kube-router", "kube-router"),
    ("antrea", "antrea"),
    ("kindnet", "kindnet"),
    ("ovnkube", "ovn-kubernetes"),
    ("kube-ovn", "kube-ovn"),
    ("multus", "multus"),
)
_CNI_ANNOTATIONS = (
    ("flannel.alpha.coreos.com/", "flannel"),
    ("projectcalico.org/", "calico"),
    ("io.cilium.", "cilium"),
    ("kube-router.io/", "kube-router"),
)
ROLE_LABEL = "node-role.kubernetes.io/"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


# -- pure helpers (tested without a cluster) ---------------------------------------------------------------


def namespace_for(run_id: str) -> str:
    """The run's namespace, ``edgex-smoke-<run id lower-cased>``, as a valid RFC 1123 label."""
    cleaned = "".join(c if c.isalnum() else "-" for c in run_id.lower())
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return (NAMESPACE_PREFIX + cleaned.strip("-"))[:63].rstrip("-")


def _certificate_unverified(err: BaseException) -> bool:
    """True if `err`, or an error it wraps, is a TLS certificate verification failure."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "reason", None)
        if not isinstance(current, BaseException):
            return False
    return False


def redact_url(url: str) -> str:
    """`url` without user info, so a server address can be shown."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _cut(text: str, limit: int = API_MESSAGE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def api_error_text(err: ApiException) -> str:
    """``403 Forbidden: <the server's message>``, on one line and bounded."""
    message = ""
    body = getattr(err, "body", None)
    if body:
        try:
            parsed = yaml.safe_load(body)
        except yaml.YAMLError:
            parsed = None
        message = parsed.get("message", "") if isinstance(parsed, dict) else ""
    head = f"{err.status} {err.reason}".strip() if err.status else str(err.reason or "")
    return _cut(f"{head}: {message}" if message else head)


def _container_status_list(pod: KubeObject) -> list[KubeObject]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def _state_text(status: KubeObject) -> str:
    state = status.get("state") or {}
    if "running" in state:
        return "running"
    if "terminated" in state:
        term = state["terminated"] or {}
        return f"terminated ({term.get('reason') or 'exit'}, exit code {term.get('exitCode')})"
    waiting = state.get("waiting") or {}
    return f"waiting ({waiting.get('reason') or 'unknown'})" if "waiting" in state else "unknown"


def _condition(obj: KubeObject, kind: str) -> KubeObject | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def readiness(pod: KubeObject) -> tuple[int, int]:
    """(ready, total) application containers of `pod`."""
    total = len((pod.get("spec") or {}).get("containers") or [])
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(1 for s in statuses if s.get("ready")), total


def is_ready(pod: KubeObject) -> bool:
    """True when the pod runs and every container is ready."""
    ready, total = readiness(pod)
    return (pod.get("status") or {}).get("phase") == "Running" and total > 0 and ready == total


def pod_blocker(pod: KubeObject) -> str | None:
    """Why `pod` will not become ready without outside help, or None if it may still.

    Stops on: a Failed pod, Unschedulable, image pull errors (naming the image),
    crash loops of `CRASH_LOOP_RESTARTS` restarts or more (with the last termination)
    and container configuration errors.
    """
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        return f"the pod failed ({status.get('reason') or 'Failed'}: {_cut(status.get('message') or 'no message')})"
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return f"it is unschedulable: {_cut(scheduled.get('message') or 'no message')}"
    for cs in _container_status_list(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        name = cs.get("name", "?")
        message = _cut(waiting.get("message") or "", 200)
        if reason in IMAGE_PULL_REASONS:
            image = cs.get("image") or "?"
            return f"container {name} cannot get image {image} ({reason}: {message or 'no message'})"
        if reason == "CrashLoopBackOff" and int(cs.get("restartCount") or 0) >= CRASH_LOOP_RESTARTS:
            last = (cs.get("lastState") or {}).get("terminated") or {}
            return (
                f"container {name} is in CrashLoopBackOff after {cs.get('restartCount', 0)} restart(s); "
                f"last exit code {last.get('exitCode', '?')} ({last.get('reason') or 'no reason'})"
            )
        if reason in CONFIG_REASONS:
            return f"container {name} cannot start ({reason}: {message or 'no message'})"
    return None


def not_ready_detail(pod: KubeObject | None, events: Sequence[KubeObject] = ()) -> str:
    """What is still missing for `pod` to be ready, for a timeout message."""
    if pod is None:
        return "the pod does not exist"
    status = pod.get("status") or {}
    parts: list[str] = []
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") != "True":
        parts.append(f"not scheduled ({_cut(scheduled.get('message') or scheduled.get('reason') or '?', 160)})")
    statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
    for container in (pod.get("spec") or {}).get("containers") or []:
        cs = statuses.get(container["name"])
        if cs is None:
            parts.append(f"{container['name']} has no status yet")
        elif not cs.get("ready"):
            text = _state_text(cs)
            if text == "running":
                text = "running but not ready"
                probe = _last_event(events, reasons=("Unhealthy",), container=container["name"])
                if probe:
                    text += f" ({_cut(probe.get('message') or '', 160)})"
            parts.append(f"{container['name']} is {text}")
    warning = _last_event(events, reasons=None)
    if warning and warning.get("reason") != "Unhealthy":
        parts.append(f"last warning {warning.get('reason')}: {_cut(warning.get('message') or '', 160)}")
    return "; ".join(parts) or f"phase {status.get('phase', '?')}"


def _event_time(event: KubeObject) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("series") or {}).get("lastObservedTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _last_event(
    events: Sequence[KubeObject], *, reasons: Iterable[str] | None, container: str | None = None
) -> KubeObject | None:
    wanted = set(reasons) if reasons is not None else None
    found = None
    for event in sorted(events, key=_event_time):
        if event.get("type") != "Warning":
            continue
        if wanted is not None and event.get("reason") not in wanted:
            continue
        if wanted is None and event.get("reason") in _BENIGN_WARNINGS:
            continue
        field = (event.get("involvedObject") or {}).get("fieldPath") or ""
        if container is not None and field and f"{{{container}}}" not in field:
            continue
        found = event
    return found


def _digest(image_id: str) -> str | None:
    if "@" in image_id:
        return image_id.rsplit("@", 1)[1]
    return image_id or None


def container_states_of(pod: KubeObject) -> list[ContainerState]:
    """Every application container of `pod` as a `ContainerState`, sorted by name.

    ``image_digest`` is the repository digest from ``imageID`` when there is one,
    otherwise the runtime's image ID (side-loaded images have no repository digest).
    """
    statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    states: list[ContainerState] = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        name = container["name"]
        cs = statuses.get(name)
        if cs is None:
            states.append(ContainerState(name=name, state="pending", ready=False, restarts=0, image=container["image"]))
            continue
        terminated = (cs.get("state") or {}).get("terminated")
        states.append(
            ContainerState(
                name=name,
                state=_state_text(cs),
                ready=bool(cs.get("ready")),
                restarts=int(cs.get("restartCount") or 0),
                exit_code=int(terminated["exitCode"]) if terminated and "exitCode" in terminated else None,
                image=str(cs.get("image") or container.get("image") or ""),
                image_digest=_digest(str(cs.get("imageID") or "")),
            )
        )
    return sorted(states, key=lambda s: s.name)


def host_port_map(pod: KubeObject) -> dict[int, int]:
    """Map each hostPort `pod` asks for to its containerPort."""
    ports: dict[int, int] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports[int(port["hostPort"])] = int(port.get("containerPort") or port["hostPort"])
    return ports


def host_ports(pod: KubeObject) -> list[int]:
    """The hostPorts `pod` asks for, sorted."""
    return sorted(host_port_map(pod))


def node_address(node: KubeObject) -> str | None:
    """The node's InternalIP, else its ExternalIP."""
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in ("InternalIP", "ExternalIP"):
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                return str(address["address"])
    return None


def node_roles(node: KubeObject) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` labels (and legacy ``kubernetes.io/role``)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = {key.removeprefix(ROLE_LABEL) for key in labels if key.startswith(ROLE_LABEL)}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return sorted(r for r in roles if r) or ["none"]


def node_is_ready(node: KubeObject) -> bool:
    """True if the node's Ready condition is True and it is schedulable."""
    cond = _condition(node, "Ready")
    return bool(cond and cond.get("status") == "True") and not (node.get("spec") or {}).get("unschedulable")


def detect_cni(nodes: Sequence[KubeObject], pods: Sequence[KubeObject] | None) -> str:
    """Best-effort CNI name from pod names (any namespace) and node annotations; ``unknown`` otherwise."""
    found: list[str] = []
    for pod in pods or []:
        meta = pod.get("metadata") or {}
        text = f"{meta.get('namespace', '')}/{meta.get('name', '')}".lower()
        for marker, name in _CNI_MARKERS:
            if marker in text and name not in found:
                found.append(name)
    for node in nodes:
        meta = node.get("metadata") or {}
        keys = [*(meta.get("annotations") or {}), *(meta.get("labels") or {})]
        for prefix, name in _CNI_ANNOTATIONS:
            if any(key.startswith(prefix) for key in keys) and name not in found:
                found.append(name)
    if "canal" in found:
        found = [n for n in found if n not in ("flannel", "calico")]
    return ", ".join(found) or "unknown"


def detect_kube_proxy(pods: Sequence[KubeObject] | None, daemonsets: Sequence[KubeObject] | None) -> str:
    """``present (DaemonSet)``, ``present (pod)`` or ``unknown`` (it may run outside pods, as in k3s)."""
    for ds in daemonsets or []:
        if (ds.get("metadata") or {}).get("name") == "kube-proxy":
            return "present (DaemonSet)"
    for pod in pods or []:
        meta = pod.get("metadata") or {}
        if meta.get("namespace") == "kube-system" and str(meta.get("name", "")).startswith("kube-proxy"):
            return "present (pod)"
    return "unknown"


def default_storage_class(classes: Sequence[KubeObject] | None) -> str:
    """Name and provisioner of the default StorageClass, ``none`` if there is none, ``unknown`` if unreadable."""
    if classes is None:
        return "unknown"
    for item in classes:
        annotations = (item.get("metadata") or {}).get("annotations") or {}
        if any(annotations.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS):
            return f"{item['metadata']['name']} ({item.get('provisioner', '?')})"
    return "none"


def _unique(values: Iterable[str]) -> str:
    seen = list(dict.fromkeys(v for v in values if v))
    return ", ".join(seen) or "unknown"


def fingerprint_facts(
    version: Mapping[str, Any],
    nodes: Sequence[KubeObject],
    *,
    storage_classes: Sequence[KubeObject] | None,
    pods: Sequence[KubeObject] | None,
    daemonsets: Sequence[KubeObject] | None,
) -> dict[str, Any]:
    """Flat report facts (strings, numbers, lists of strings) from what the API server returned."""
    infos = [(n.get("status") or {}).get("nodeInfo") or {} for n in nodes]
    described = []
    for node in nodes:
        info = (node.get("status") or {}).get("nodeInfo") or {}
        state = "Ready" if node_is_ready(node) else "NotReady"
        described.append(
            f"{node['metadata']['name']} ({'/'.join(node_roles(node))}; {state}; "
            f"{node_address(node) or 'no address'}; {info.get('architecture', '?')})"
        )
    return {
        "kubernetes_version": version.get("gitVersion") or version.get("git_version") or "unknown",
        "platform": version.get("platform") or "unknown",
        "node_count": len(nodes),
        "nodes": described,
        "node_roles": sorted({role for n in nodes for role in node_roles(n)}),
        "kubelet": _unique(i.get("kubeletVersion", "") for i in infos),
        "container_runtime": _unique(i.get("containerRuntimeVersion", "") for i in infos),
        "os_image": _unique(i.get("osImage", "") for i in infos),
        "kernel": _unique(i.get("kernelVersion", "") for i in infos),
        "cni": detect_cni(nodes, pods),
        "default_storage_class": default_storage_class(storage_classes),
        "kube_proxy": detect_kube_proxy(pods, daemonsets),
    }


def _exit_status(error_channel: str) -> tuple[int, str]:
    """Exit code and message from an exec error channel (a ``Status`` object); ``(0, "")`` on success."""
    if not error_channel.strip():
        return 0, ""
    try:
        status = yaml.safe_load(error_channel)
    except yaml.YAMLError:
        return 126, _cut(error_channel)
    if not isinstance(status, dict) or status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            with suppress(TypeError, ValueError):
                return int(cause.get("message")), ""
    message = " ".join(str(status.get("message") or "exec failed").split())
    # The runtime's reason ("executable file not found") comes last in a long message: keep the tail.
    return (127 if "not found" in message else 126), tail(message, API_MESSAGE_CHARS)


def local_address(ip: str) -> bool:
    """True if `ip` is an address of this host (binding to it succeeds)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((ip, 0))
        except OSError:
            return False
    return True


def _without_managed_fields(obj: KubeObject) -> KubeObject:
    """`obj` without ``metadata.managedFields``, which only bloats a diagnostics file."""
    return {**obj, "metadata": {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}}


def _event_line(event: KubeObject) -> str:
    involved = event.get("involvedObject") or {}
    count = event.get("count") or (event.get("series") or {}).get("count")
    where = f"{involved.get('kind', '?')}/{involved.get('name', '?')}"
    if involved.get("fieldPath"):
        where += f" [{involved['fieldPath']}]"
    times = f" (x{count})" if count and int(count) > 1 else ""
    message = " ".join(str(event.get("message") or "").split())
    return f"{_event_time(event)}  {event.get('type', '?'):7}  {event.get('reason', '?'):24}  {where}: {message}{times}"


# -- the client ----------------------------------------------------------------------------------------------


def _contexts(files: Sequence[Path], subject: str) -> tuple[list[str], str | None]:
    """Context names of the kubeconfig `files` and the first current-context, merged as kubectl does."""
    names: list[str] = []
    current: str | None = None
    for file in files:
        try:
            document = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            # The parser's message quotes the offending text, which may be a credential: leave it out.
            raise PreflightError(
                f"{subject}: kubeconfig {file} is not valid YAML{where}; give a kubeconfig file"
            ) from None
        except OSError as err:
            raise PreflightError(
                f"{subject}: kubeconfig {file} cannot be read ({err.strerror}); check the path"
            ) from None
        if not isinstance(document, dict):
            raise PreflightError(f"{subject}: kubeconfig {file} is not a kubeconfig mapping; give a kubeconfig file")
        for entry in document.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in names:
                names.append(str(entry["name"]))
        current = current or document.get("current-context") or None
    return names, current


class KubeClient:
    """One Kubernetes API server, reached through one kubeconfig file and context.

    Build it with `from_kubeconfig`. Every method raises `harness.errors` types only,
    except `collect_diagnostics`, which never raises.
    """

    def __init__(self, api: Any, *, subject: str, context: str | None, kubeconfig: str) -> None:
        self._api = api
        self._stream_api = k8s_client.ApiClient(configuration=api.configuration)
        self._stream_lock = threading.Lock()
        self.subject = subject
        self.context = context
        self.kubeconfig = kubeconfig
        self.server = redact_url(str(api.configuration.host))
        self._core = k8s_client.CoreV1Api(api)
        self._stream_core = k8s_client.CoreV1Api(self._stream_api)
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    @classmethod
    def from_kubeconfig(cls, path: Path | str, context: str | None = None, *, subject: str = "k8s") -> KubeClient:
        """Build a client from `path` (one file, or a ``:``-separated list as in ``$KUBECONFIG``).

        Raises:
            PreflightError: the file is unreadable or invalid, or `context` is not in it.
        """
        files = [Path(p).expanduser() for p in str(path).split(os.pathsep) if p]
        for file in files:
            if not os.access(file, os.R_OK):
                raise PreflightError(
                    f"{subject}: kubeconfig {file} is missing or not readable; give a readable file with --kubeconfig"
                )
        joined = os.pathsep.join(str(f) for f in files)
        names, current = _contexts(files, subject)
        chosen = context or current
        if chosen is None:
            raise PreflightError(
                f"{subject}: kubeconfig {joined} has no current context; choose one with --context: {', '.join(names)}"
            )
        if chosen not in names:
            raise PreflightError(
                f"{subject}: context {chosen!r} is not in kubeconfig {joined}; "
                f"choose one of: {', '.join(names) or '(none)'}"
            )
        configuration = type.__call__(k8s_client.Configuration)
        try:
            k8s_config.load_kube_config(
                config_file=joined, context=chosen, client_configuration=configuration, persist_config=False
            )
        except (ConfigException, ValueError, OSError, TypeError, KeyError, AttributeError) as err:
            raise PreflightError(
                f"{subject}: context {chosen!r} of kubeconfig {joined} is not usable "
                f"({type(err).__name__}: {_cut(str(err), 160)}); fix the kubeconfig or choose another --context"
            ) from None
        # One retry on connect only: an unreachable server should fail in seconds, not minutes.
        configuration.retries = urllib3.Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0)
        return cls(
            k8s_client.ApiClient(configuration=configuration), subject=subject, context=chosen, kubeconfig=joined
        )

    def close(self) -> None:
        """Close the client's connections."""
        for api in (self._api, self._stream_api):
            with suppress(Exception):
                api.rest_client.pool_manager.clear()
            with suppress(Exception):
                api.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------

    def _plain(self, obj: Any) -> Any:
        return self._api.sanitize_for_serialization(obj)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, allow: Collection[int] = (), **kwargs: Any) -> Any:
        """Run one API call with a timeout; return None for statuses in `allow`; translate every failure."""
        kwargs.setdefault("_request_timeout", (CONNECT_TIMEOUT_S, REQUEST_TIMEOUT_S))
        try:
            return fn(*args, **kwargs)
        except ApiException as err:
            if err.status in allow:
                return None
            raise self._api_failure(what, err) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self._unreachable(what, err) from err

    def _raw(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        content_type: str | None = None,
        body: Any = None,
        text: bool = False,
        _request_timeout: tuple[float, float] | None = None,
    ) -> Any:
        """One request the typed API does not cover (/readyz, discovery, server-side apply).

        Returns the decoded JSON body, or the text with `text`. Client 35 and later split the old
        ``call_api`` into ``param_serialize``, ``call_api`` and a response that must be read; both
        generations are served here.

        Raises:
            ApiException: The server answered outside 2xx.
        """
        headers = {"Accept": "application/json", **({"Content-Type": content_type} if content_type else {})}
        if not hasattr(self._api, "param_serialize"):  # kubernetes <= 34
            return self._api.call_api(
                path,
                method,
                query_params=list(query),
                header_params=headers,
                body=body,
                response_type="str" if text else "object",
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _request_timeout=_request_timeout,
            )
        request = self._api.param_serialize(
            method, path, query_params=list(query), header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        response = self._api.call_api(*request, _request_timeout=_request_timeout)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
        data = (response.data or b"").decode("utf-8")
        return data if text else (json.loads(data) if data else None)

    def _api_failure(self, what: str, err: ApiException) -> InfraError:
        text = api_error_text(err)
        if err.status == 401:
            return PreflightError(
                f"{self.subject}: {what}: the API server {self.server} rejects the credentials of context "
                f"{self.context!r} ({text}); refresh the kubeconfig"
            )
        if err.status == 403:
            return InfraError(
                f"{self.subject}: {what}: {text}; the kubeconfig's user needs rights on namespaces, pods, "
                "configmaps, events and nodes"
            )
        if err.status == 0:
            return self._unreachable(what, err)
        return InfraError(f"{self.subject}: {what}: {text}")

    def _stream_failure(self, what: str, err: ApiException) -> BaseException:
        """Translate a websocket failure; the client wraps Ctrl-C/SIGTERM in ``ApiException(status=0)``."""
        if isinstance(err.__context__, KeyboardInterrupt | SystemExit):
            return err.__context__
        if err.status:
            return self._api_failure(what, err)
        return InfraError(f"{self.subject}: {what} failed: {_cut(str(err.reason), 200)}")

    def _unreachable(self, what: str, err: BaseException) -> InfraError:
        reason = getattr(err, "reason", None) or err
        if _certificate_unverified(err):
            return PreflightError(
                f"{self.subject}: {what}: the API server {self.server} answered, but its TLS certificate is not "
                f"signed by the CA of context {self.context!r} ({_cut(str(reason), 120)}); check the kubeconfig's "
                "certificate-authority-data (or certificate-authority) against the cluster's CA"
            )
        return InfraError(
            f"{self.subject}: {what}: the API server {self.server} does not answer ({_cut(str(reason), 160)}); "
            "check that the cluster runs and that --kubeconfig/--context point at it"
        )

    # -- reachability and cluster state -----------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """``/version`` of the API server (``gitVersion``, ``platform``, …)."""
        info = self._call("read /version", k8s_client.VersionApi(self._api).get_code)
        return dict(self._plain(info))

    def check_reachable(self) -> dict[str, Any]:
        """Return ``/version``, or raise `PreflightError` naming the server and the fix."""
        try:
            return self.version()
        except InfraError as err:
            if isinstance(err, PreflightError):
                raise
            raise PreflightError(str(err)) from err

    def readyz(self) -> bool:
        """True if ``/readyz`` answers ``ok``."""
        text = self._call("read /readyz", self._raw, "GET", "/readyz", text=True, allow=(500, 503))
        return bool(text) and "ok" in str(text)

    def node(self, name: str) -> KubeObject | None:
        """The node `name` as a dict, or None if it does not exist."""
        found = self._call(f"read node {name}", self._core.read_node, name, allow=(404,))
        return None if found is None else dict(self._plain(found))

    def nodes(self) -> list[KubeObject]:
        """Every node as a plain dict."""
        return list(self._plain(self._call("list nodes", self._core.list_node)).get("items") or [])

    def wait_nodes_ready(self, timeout_s: float, progress: Progress = no_progress) -> list[KubeObject]:
        """Wait (watch) until ``/readyz`` is ok and at least one node is Ready and schedulable."""
        started = time.monotonic()
        deadline = started + timeout_s
        seen: dict[str, KubeObject] = {}
        for items in self._observe("nodes", self._core.list_node, deadline=deadline):
            seen = items
            ready = [n for n in items.values() if node_is_ready(n)]
            progress(f"waiting for a Ready node: {len(ready)}/{len(items)} ready ({time.monotonic() - started:.0f} s)")
            if ready and self.readyz():
                return list(items.values())
        detail = "; ".join(
            f"{name}: Ready={(_condition(n, 'Ready') or {}).get('status', '?')}"
            f" ({_cut((_condition(n, 'Ready') or {}).get('message') or '', 120)})"
            for name, n in seen.items()
        )
        raise ReadinessTimeoutError(
            f"{self.subject}: no Ready node after {timeout_s:.0f} s at {self.server}: {detail or 'no nodes registered'}"
            "; check the kubelet's log"
        )

    def missing_node_images(self, refs: Collection[str], *, timeout_s: float) -> list[str] | None:
        """The `refs` that no node reports in ``status.images``, after watching up to `timeout_s` for them.

        The kubelet reports a new image with its next status update (about 10 s), so an
        image side-loaded a moment ago shows up late. Returns None when some node's list
        is truncated (``nodeStatusMaxImages``), since then a missing name proves nothing.
        """
        missing = list(refs)
        deadline = time.monotonic() + timeout_s
        for items in self._observe("nodes", self._core.list_node, deadline=deadline):
            listed = [(status.get("images") or []) for status in ((n.get("status") or {}) for n in items.values())]
            if any(len(images) >= MAX_REPORTED_IMAGES for images in listed):
                return None
            present = {name for images in listed for image in images for name in image.get("names") or []}
            missing = [ref for ref in refs if ref not in present]
            if not missing:
                break
        return missing

    def fingerprint(self) -> dict[str, Any]:
        """Server version, nodes, runtime, kubelet, OS, kernel, CNI, default StorageClass, kube-proxy."""
        version = self.version()
        nodes = self.nodes()
        storage = self._best_effort("list storage classes", k8s_client.StorageV1Api(self._api).list_storage_class)
        pods = self._best_effort("list pods", self._core.list_pod_for_all_namespaces)
        daemonsets = self._best_effort(
            "list daemonsets", k8s_client.AppsV1Api(self._api).list_namespaced_daemon_set, "kube-system"
        )
        return fingerprint_facts(version, nodes, storage_classes=storage, pods=pods, daemonsets=daemonsets)

    def _best_effort(self, what: str, fn: Callable[..., Any], *args: Any) -> list[KubeObject] | None:
        try:
            return list(self._plain(self._call(what, fn, *args)).get("items") or [])
        except InfraError as err:
            log.info("%s: %s (fingerprint shows 'unknown')", what, err)
            return None

    def pods_with_host_ports(self, ports: Collection[int]) -> list[tuple[str, int, str | None]]:
        """Live pods in any namespace holding one of `ports` as hostPort: ``(namespace/name, port, node)``."""
        items = self._plain(self._call("list pods", self._core.list_pod_for_all_namespaces)).get("items") or []
        taken = []
        for pod in items:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            for port in host_ports(pod):
                if port in ports:
                    meta = pod["metadata"]
                    taken.append((f"{meta['namespace']}/{meta['name']}", port, (pod.get("spec") or {}).get("nodeName")))
        return taken

    # -- watches ----------------------------------------------------------------------------------------

    def _list(self, what: str, list_fn: Callable[..., Any], *args: Any, **selectors: Any) -> tuple[dict[str, Any], str]:
        result = self._plain(self._call(f"list {what}", list_fn, *args, **selectors))
        items = {o["metadata"]["name"]: o for o in result.get("items") or []}
        return items, str((result.get("metadata") or {}).get("resourceVersion") or "")

    def _observe(
        self, what: str, list_fn: Callable[..., Any], *args: Any, deadline: float, **selectors: Any
    ) -> Iterator[dict[str, KubeObject]]:
        """Yield name → object after the initial list, after every change and at least every `TICK_S`.

        Ends when `deadline` (``time.monotonic()``) passes. A watch that expired
        (410 Gone) is replaced by a fresh list.
        """
        items, version = self._list(what, list_fn, *args, **selectors)
        yield items
        while (remaining := deadline - time.monotonic()) > 0:
            slice_s = max(1, int(min(remaining, TICK_S) + 0.999))
            events = watch.Watch().stream(
                list_fn,
                *args,
                resource_version=version,
                timeout_seconds=slice_s,
                _request_timeout=(CONNECT_TIMEOUT_S, slice_s + REQUEST_TIMEOUT_S),
                **selectors,
            )
            try:
                for event in events:
                    obj = self._plain(event["object"])
                    meta = obj.get("metadata") or {}
                    version = str(meta.get("resourceVersion") or version)
                    if event["type"] in ("ADDED", "MODIFIED"):
                        items[meta["name"]] = obj
                    elif event["type"] == "DELETED":
                        items.pop(str(meta.get("name")), None)
                    else:
                        continue
                    yield items
                    if time.monotonic() > deadline:
                        return
            except ApiException as err:
                # 410: the version expired. 504 "Too large resource version": the apiserver's watch cache has
                # not caught up with the list yet. Both are cured by a fresh list.
                if err.status not in (410, 504):
                    raise self._api_failure(f"watch {what}", err) from err
                items, version = self._list(what, list_fn, *args, **selectors)
            except (urllib3.exceptions.HTTPError, OSError) as err:
                raise self._unreachable(f"watch {what}", err) from err
            finally:
                events.close()
            yield items

    # -- namespaces and apply ---------------------------------------------------------------------------

    def namespace(self, name: str) -> KubeObject | None:
        """The namespace `name` as a dict, or None if it does not exist."""
        found = self._call(f"read namespace {name}", self._core.read_namespace, name, allow=(404,))
        return None if found is None else dict(self._plain(found))

    def namespaces(self, label_selector: str) -> list[KubeObject]:
        """Namespaces matching `label_selector`."""
        result = self._plain(self._call("list namespaces", self._core.list_namespace, label_selector=label_selector))
        return list(result.get("items") or [])

    def pods(self, namespace: str) -> list[KubeObject]:
        """Pods of `namespace`."""
        result = self._plain(self._call(f"list pods in {namespace}", self._core.list_namespaced_pod, namespace))
        return list(result.get("items") or [])

    def objects_labelled(self, label_selector: str) -> list[str]:
        """``kind namespace/name`` of pods and ConfigMaps in any namespace matching `label_selector`."""
        found: list[str] = []
        listers = {
            "pod": self._core.list_pod_for_all_namespaces,
            "configmap": self._core.list_config_map_for_all_namespaces,
        }
        for kind, lister in listers.items():
            result = self._plain(self._call(f"list {kind}s", lister, label_selector=label_selector))
            for item in result.get("items") or []:
                found.append(f"{kind} {item['metadata'].get('namespace')}/{item['metadata']['name']}")
        return found

    def namespace_contents(self, name: str) -> list[str]:
        """``kind/name`` of the objects in namespace `name`, without those every namespace gets."""
        found: list[str] = []
        listers = {
            "pods": self._core.list_namespaced_pod,
            "configmaps": self._core.list_namespaced_config_map,
            "secrets": self._core.list_namespaced_secret,
            "services": self._core.list_namespaced_service,
            "persistentvolumeclaims": self._core.list_namespaced_persistent_volume_claim,
            "serviceaccounts": self._core.list_namespaced_service_account,
        }
        for kind, lister in listers.items():
            result = self._plain(self._call(f"list {kind} in {name}", lister, name))
            for item in result.get("items") or []:
                ref = f"{kind}/{item['metadata']['name']}"
                if ref not in _AUTOMATIC_OBJECTS:
                    found.append(ref)
        return found

    def require_namespace_free(self, name: str, run_id: str) -> None:
        """Raise `PreflightError` if namespace `name` exists and holds objects or belongs to another run."""
        existing = self.namespace(name)
        if existing is None:
            return
        held = self.namespace_contents(name)
        if held:
            shown = ", ".join(held[:5]) + (" …" if len(held) > 5 else "")
            raise PreflightError(
                f"{self.subject}: namespace {name} already holds {len(held)} object(s) ({shown}); "
                f"refusing to apply into it: delete it ('kubectl delete namespace {name}') or start a new run"
            )
        labels = (existing.get("metadata") or {}).get("labels") or {}
        if labels.get(run_labels.RUN_ID) != run_id:
            raise PreflightError(
                f"{self.subject}: namespace {name} exists and was not created by run {run_id}; "
                f"delete it ('kubectl delete namespace {name}') or start a new run"
            )

    def create_namespace(self, name: str, labels: Mapping[str, str], progress: Progress = no_progress) -> None:
        """Create namespace `name` with `labels` (no-op if it exists) and wait for its default ServiceAccount.

        Pods cannot be created before the ServiceAccount controller made ``default``.
        """
        if self.namespace(name) is None:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels)}}
            self._call(f"create namespace {name}", self._core.create_namespace, body, allow=(409,))
        self.wait_service_account(name, "default", SERVICE_ACCOUNT_TIMEOUT_S, progress)

    def wait_service_account(
        self, namespace: str, name: str, timeout_s: float, progress: Progress = no_progress
    ) -> None:
        """Wait (watch) until ServiceAccount `name` exists in `namespace`."""
        started = time.monotonic()
        deadline = started + timeout_s
        for items in self._observe(
            f"serviceaccounts in {namespace}",
            self._core.list_namespaced_service_account,
            namespace,
            deadline=deadline,
            field_selector=f"metadata.name={name}",
        ):
            if name in items:
                return
            progress(f"waiting for ServiceAccount {namespace}/{name} ({time.monotonic() - started:.0f} s)")
        raise ReadinessTimeoutError(
            f"{self.subject}: ServiceAccount {namespace}/{name} did not appear within {timeout_s:.0f} s; "
            "is kube-controller-manager running (its serviceaccount controller creates it)?"
        )

    def _resource(self, api_version: str, kind: str) -> tuple[str, str, bool]:
        """(base path, plural, namespaced) of `kind`, from the API server's discovery of `api_version`."""
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if api_version not in self._resources:
            found = self._call(f"discover {api_version}", self._raw, "GET", base, allow=(404,))
            self._resources[api_version] = {
                r["kind"]: (r["name"], bool(r.get("namespaced")))
                for r in (found or {}).get("resources") or []
                if "/" not in r["name"]
            }
        try:
            plural, namespaced = self._resources[api_version][kind]
        except KeyError:
            raise ManifestError(
                f"{self.subject}: the API server {self.server} does not serve {kind} in {api_version}; "
                "fix the manifest's apiVersion/kind"
            ) from None
        return base, plural, namespaced

    def apply(self, objects: Sequence[KubeObject], namespace: str) -> list[KubeObject]:
        """Server-side apply `objects` into `namespace` (field manager ``edgex-smoke``, forced); return them.

        Cluster-scoped objects are refused: they would outlive the run's namespace.
        """
        return [self.apply_one(obj, namespace) for obj in objects]

    def apply_one(self, obj: KubeObject, namespace: str) -> KubeObject:
        """Server-side apply one object into `namespace`."""
        kind = str(obj.get("kind", "?"))
        name = str((obj.get("metadata") or {}).get("name", "?"))
        base, plural, namespaced = self._resource(str(obj.get("apiVersion", "")), kind)
        if not namespaced:
            raise ManifestError(
                f"{self.subject}: {kind} {name} is cluster-scoped and would outlive namespace {namespace}; "
                "remove it from the manifest"
            )
        body = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
        try:
            applied = self._call(
                f"apply {kind} {namespace}/{name}",
                self._raw,
                "PATCH",
                f"{base}/namespaces/{namespace}/{plural}/{name}",
                query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                content_type="application/apply-patch+yaml",
                body=body,
            )
        except InfraError as err:
            cause = err.__cause__
            if isinstance(cause, ApiException) and cause.status in (400, 422):
                raise ManifestError(f"{err}; fix the manifest or the {self.subject} overlay") from cause
            raise
        return dict(applied or {})

    # -- pods -------------------------------------------------------------------------------------------

    def pod(self, namespace: str, name: str) -> KubeObject | None:
        """The pod as a dict, or None if it does not exist."""
        found = self._call(
            f"read pod {namespace}/{name}", self._core.read_namespaced_pod, name, namespace, allow=(404,)
        )
        return None if found is None else dict(self._plain(found))

    def events(self, namespace: str, *, involved: str | None = None) -> list[KubeObject]:
        """Events of `namespace` (only those about object `involved` if given), oldest first."""
        selector: dict[str, Any] = {"field_selector": f"involvedObject.name={involved}"} if involved else {}
        result = self._plain(
            self._call(f"list events in {namespace}", self._core.list_namespaced_event, namespace, **selector)
        )
        return sorted(result.get("items") or [], key=_event_time)

    def wait_pod_ready(
        self, namespace: str, name: str, timeout_s: float, progress: Progress = no_progress
    ) -> KubeObject:
        """Watch the pod until every container is ready; stop early when it cannot get there.

        Raises:
            ReadinessTimeoutError: naming the container and why (image pull, crash loop,
                configuration, Unschedulable), or what was still missing at the deadline.
        """
        started = time.monotonic()
        deadline = started + timeout_s
        last: KubeObject | None = None
        what = f"pod {namespace}/{name}"
        for items in self._observe(
            f"pods in {namespace}",
            self._core.list_namespaced_pod,
            namespace,
            deadline=deadline,
            field_selector=f"metadata.name={name}",
        ):
            pod = items.get(name)
            if pod is None and last is not None:
                raise ReadinessTimeoutError(f"{self.subject}: {what} was deleted while waiting for it to be ready")
            last = pod
            if pod is None:
                progress(f"waiting for pod {name} to appear ({time.monotonic() - started:.0f} s)")
                continue
            ready, total = readiness(pod)
            progress(f"waiting for {ready}/{total} containers ready ({time.monotonic() - started:.0f} s)")
            if is_ready(pod):
                return pod
            blocker = pod_blocker(pod)
            if blocker:
                raise ReadinessBlockedError(
                    f"{self.subject}: {what} will not become ready: {blocker}; "
                    "see the pod's events and logs in the diagnostics"
                )
        try:
            events = self.events(namespace, involved=name)
        except InfraError:
            events = []
        raise ReadinessTimeoutError(
            f"{self.subject}: {what} not ready after {timeout_s:.0f} s: {not_ready_detail(last, events)}; "
            "see the pod's events and logs in the diagnostics"
        )

    def container_states(self, namespace: str, pod: str) -> list[ContainerState]:
        """Every application container of the pod (ready, restarts, state, image, image digest)."""
        found = self.pod(namespace, pod)
        if found is None:
            raise InfraError(f"{self.subject}: pod {namespace}/{pod} does not exist; was it deleted?")
        return container_states_of(found)

    # -- exec and port-forward --------------------------------------------------------------------------

    def exec_bytes(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], *, timeout_s: float = EXEC_TIMEOUT_S
    ) -> tuple[int, bytes, bytes]:
        """Run `argv` in a container through the API server's exec; return (exit code, stdout, stderr)."""
        what = f"exec in {namespace}/{pod}/{container}"
        try:
            with self._stream_lock:
                ws = stream(
                    self._stream_core.connect_get_namespaced_pod_exec,
                    pod,
                    namespace,
                    container=container,
                    command=list(argv),
                    stderr=True,
                    stdin=False,
                    stdout=True,
                    tty=False,
                    binary=True,
                    _preload_content=False,
                )
        except ApiException as err:
            raise self._stream_failure(what, err) from err
        try:
            ws.run_forever(timeout=timeout_s)
            if ws.is_open():
                raise CommandError(list(argv), None, "", timeout_s=timeout_s)
            stdout = ws.read_channel(1) or b""
            stderr = ws.read_channel(2) or b""
            error = ws.read_channel(3) or b""
        finally:
            ws.close()
            if ws.sock is not None:
                ws.sock.shutdown()  # close() skips the socket once the server has closed the stream
        code, message = _exit_status(error.decode(errors="replace") if isinstance(error, bytes) else str(error))
        if message:
            stderr += (b"\n" if stderr else b"") + message.encode()
        return code, bytes(stdout), bytes(stderr)

    def exec_in(
        self, namespace: str, pod: str, container: str, argv: Sequence[str], *, timeout_s: float = EXEC_TIMEOUT_S
    ) -> tuple[int, str, str]:
        """Like `exec_bytes`, decoded as UTF-8."""
        code, out, err = self.exec_bytes(namespace, pod, container, argv, timeout_s=timeout_s)
        return code, out.decode(errors="replace"), err.decode(errors="replace")

    @contextmanager
    def port_forward(self, namespace: str, pod: str, port: int) -> Iterator[int]:
        """Forward a local port on 127.0.0.1 to `port` of the pod; yield the local port.

        Each accepted connection gets its own port-forward stream, relayed by a thread.
        """
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        stop = threading.Event()
        workers: list[threading.Thread] = []

        def accept_loop() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return  # the listener was shut down
                worker = threading.Thread(
                    target=self._relay, args=(conn, namespace, pod, port, stop), name=f"port-forward {pod}:{port}"
                )
                worker.daemon = True
                workers.append(worker)
                worker.start()

        acceptor = threading.Thread(target=accept_loop, name=f"port-forward accept {pod}:{port}", daemon=True)
        acceptor.start()
        try:
            yield int(listener.getsockname()[1])
        finally:
            stop.set()
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            acceptor.join(timeout=5)
            for worker in workers:
                worker.join(timeout=5)

    def _relay(self, conn: socket.socket, namespace: str, pod: str, port: int, stop: threading.Event) -> None:
        try:
            with self._stream_lock:
                before = set(threading.enumerate())
                forward = portforward(
                    self._stream_core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port)
                )
                proxies = [t for t in set(threading.enumerate()) - before if t.name.startswith("Kubernetes port")]
        except ApiException as err:
            conn.close()
            failure = self._stream_failure(f"port-forward to {namespace}/{pod}:{port}", err)
            if not isinstance(failure, InfraError):
                raise failure from err
            log.warning("%s", failure)
            return
        except (urllib3.exceptions.HTTPError, OSError) as err:
            conn.close()
            log.warning("%s: port-forward to %s/%s:%s failed: %s", self.subject, namespace, pod, port, err)
            return
        remote = forward.socket(port)
        try:
            sockets = [conn, remote]
            while not stop.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (remote if sock is conn else conn).sendall(data)
        except OSError as err:
            log.debug("port-forward relay ended: %s", err)
        finally:
            conn.close()
            remote.close()  # the client's proxy thread sees EOF, closes the websocket and ends
            for proxy in proxies:
                proxy.join(timeout=5)
            forward.websocket.shutdown()  # its close() skips the socket once the server has closed the stream
            if forward.error(port):
                log.warning("%s: port-forward to %s/%s:%s: %s", self.subject, namespace, pod, port, forward.error(port))

    def container_host(self, namespace: str, pod: str, container: str) -> Any:
        """A testinfra host whose commands run in `container` through the API server's exec (no kubectl)."""
        return testinfra.host.Host(ExecBackend(self, namespace, pod, container))

    # -- deletion and reaping ---------------------------------------------------------------------------

    def delete_namespace(
        self,
        name: str,
        timeout_s: float = DELETE_TIMEOUT_S,
        progress: Progress = no_progress,
        *,
        force_pods: bool = False,
    ) -> None:
        """Delete namespace `name` and wait (watch) until it is gone; a missing namespace is fine.

        Its pods are deleted first, with a grace of `TEARDOWN_GRACE_S` (at once with `force_pods`: a
        node that lost its agent never confirms a pod's end): the namespace controller would get to
        them only after its own discovery pass, which doubles the time to gone, and EdgeX's own grace
        (30 s) would let a service that is slow to stop hold up the run.
        """
        grace = 0 if force_pods else TEARDOWN_GRACE_S
        self._call(
            f"delete pods in {name}",
            self._core.delete_collection_namespaced_pod,
            name,
            allow=(404,),
            grace_period_seconds=grace,
        )
        self._call(f"delete namespace {name}", self._core.delete_namespace, name, allow=(404, 409))
        self.wait_namespaces_gone([name], timeout_s, progress)

    def wait_namespaces_gone(self, names: Collection[str], timeout_s: float, progress: Progress = no_progress) -> None:
        """Wait (watch) until none of `names` exists."""
        wanted = set(names)
        started = time.monotonic()
        deadline = started + timeout_s
        last: dict[str, KubeObject] = {}
        for items in self._observe("namespaces", self._core.list_namespace, deadline=deadline):
            last = {n: items[n] for n in wanted if n in items}
            if not last:
                return
            progress(
                f"waiting for namespace {', '.join(sorted(last))} to be deleted ({time.monotonic() - started:.0f} s)"
            )
        detail = "; ".join(
            f"{name} is {(ns.get('status') or {}).get('phase', '?')}"
            + "".join(
                f", {c.get('type')}: {_cut(c.get('message') or '', 120)}"
                for c in (ns.get("status") or {}).get("conditions") or []
                if c.get("status") == "True"
            )
            for name, ns in last.items()
        )
        raise ReadinessTimeoutError(
            f"{self.subject}: namespace(s) not deleted within {timeout_s:.0f} s: {detail}; "
            "check kube-controller-manager (its namespace controller empties them) and finalizers"
        )

    def reap(
        self, current_run_id: str, *, timeout_s: float = DELETE_TIMEOUT_S, progress: Progress = no_progress
    ) -> list[str]:
        """Delete namespaces of dead earlier runs (by label, `run_labels.is_leftover`); wait until gone."""
        doomed: dict[str, str] = {}
        for ns in self.namespaces(run_labels.SELECTOR):
            labels = (ns.get("metadata") or {}).get("labels") or {}
            if run_labels.is_leftover(labels, current_run_id=current_run_id):
                doomed[ns["metadata"]["name"]] = labels.get(run_labels.RUN_ID, "?")
        for name in doomed:
            # At once: the run that made them is dead, and a pod on a node whose agent is gone (a lost edge
            # node) would never confirm a graceful end, leaving the namespace Terminating for good.
            self._call(
                f"delete pods in {name}",
                self._core.delete_collection_namespaced_pod,
                name,
                allow=(404,),
                grace_period_seconds=0,
            )
            self._call(f"delete namespace {name}", self._core.delete_namespace, name, allow=(404, 409))
        if doomed:
            self.wait_namespaces_gone(doomed, timeout_s, progress)
        return [f"namespace {name} (run {run})" for name, run in doomed.items()]

    # -- diagnostics ------------------------------------------------------------------------------------

    def collect_diagnostics(self, namespace: str, pod: str | None, dest: Path) -> list[Path]:
        """Save events, the described pod and every container's logs (and previous logs); never raises.

        Files: ``events.txt`` (the namespace), ``pod-<name>.yaml`` (the object, then its
        events), ``<container>.log`` and ``<container>.previous.log`` where it restarted.
        """
        saved: list[Path] = []

        def save(name: str, produce: Callable[[], str]) -> None:
            path = dest / name
            try:
                text = produce()
            except Exception as err:  # best effort: note the failure in the file and go on
                log.warning("%s: diagnostics: %s: %s", self.subject, name, err)
                text = f"# could not collect {name}: {_cut(str(err), 500)}\n"
            try:
                path.write_text(text)
            except OSError as err:
                log.warning("%s: diagnostics: cannot write %s: %s", self.subject, path, err)
                return
            saved.append(path)

        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            log.warning("%s: diagnostics: cannot create %s: %s", self.subject, dest, err)
            return saved
        save("events.txt", lambda: "\n".join(_event_line(e) for e in self.events(namespace)) + "\n")
        if pod is None:
            return saved
        found: KubeObject | None = None
        try:
            found = self.pod(namespace, pod)
        except Exception as err:  # best effort: an unreachable server still gets the files above
            log.warning("%s: diagnostics: pod %s/%s: %s", self.subject, namespace, pod, err)

        def describe() -> str:
            if found:
                text = yaml.safe_dump(_without_managed_fields(found), sort_keys=False)
            else:
                text = f"# pod {namespace}/{pod} not found\n"
            events = self.events(namespace, involved=pod)
            return text + "\n# Events:\n" + "".join(f"#   {_event_line(e)}\n" for e in events)

        save(f"pod-{pod}.yaml", describe)
        if found is None:
            return saved
        spec = found.get("spec") or {}
        restarts = {s.get("name"): int(s.get("restartCount") or 0) for s in _container_status_list(found)}
        for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            cname = container["name"]
            save(f"{cname}.log", partial(self._logs, namespace, pod, cname, previous=False))
            if restarts.get(cname, 0) > 0:
                save(f"{cname}.previous.log", partial(self._logs, namespace, pod, cname, previous=True))
        return saved

    def _logs(self, namespace: str, pod: str, container: str, *, previous: bool) -> str:
        return self.container_log(namespace, pod, container, previous=previous, tail_lines=LOG_TAIL_LINES)

    def container_log(
        self, namespace: str, pod: str, container: str, *, previous: bool, tail_lines: int, timestamps: bool = True
    ) -> str:
        """The last `tail_lines` lines of one container's log (of its previous run when `previous`)."""
        text = self._call(
            f"read log of {namespace}/{pod}/{container}",
            self._core.read_namespaced_pod_log,
            pod,
            namespace,
            container=container,
            previous=previous,
            timestamps=timestamps,
            tail_lines=tail_lines,
        )
        return str(text or "")

    def collect_cluster_diagnostics(self, dest: Path) -> list[Path]:
        """Save the nodes (YAML) and the kube-system events; never raises."""
        saved: list[Path] = []
        try:
            dest.mkdir(parents=True, exist_ok=True)
            nodes = dest / "nodes.yaml"
            nodes.write_text(yaml.safe_dump_all([_without_managed_fields(n) for n in self.nodes()], sort_keys=False))
            saved.append(nodes)
            events = dest / "kube-system-events.txt"
            events.write_text("\n".join(_event_line(e) for e in self.events("kube-system")) + "\n")
            saved.append(events)
        except Exception as err:  # best effort by contract
            log.warning("%s: cluster diagnostics incomplete: %s", self.subject, err)
        return saved


class ExecBackend(testinfra.backend.base.BaseBackend):  # type: ignore[misc]  # testinfra is untyped
    """testinfra backend that runs commands through `KubeClient.exec_bytes`, so no kubectl is needed."""

    NAME = "kubernetes-api"

    def __init__(self, kube: KubeClient, namespace: str, pod: str, container: str) -> None:
        self._kube = kube
        self.namespace = namespace
        self.pod = pod
        self.container = container
        super().__init__(f"{namespace}/{pod}/{container}")

    def run(self, command: str, *args: str, **kwargs: Any) -> Any:
        """Run `command` (``%s`` placeholders filled with quoted `args`) under ``/bin/sh -c``."""
        cmd = self.get_command(command, *args)
        code, out, err = self._kube.exec_bytes(self.namespace, self.pod, self.container, ["/bin/sh", "-c", cmd])
        return self.result(code, self.encode(cmd), out, err)
