"""This host, as the Kubernetes-family drivers see it: facts, tools, files to fetch, and best-effort diagnostics.

Every command is an argument list run through `harness.proc.run`; no download site is
written in code (installers come from a path or URL that configuration names).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from distros import _kube
from distros._protocol import KubeObject
from harness import proc
from harness.errors import PreflightError, ReadinessTimeoutError, SmokeError

log = logging.getLogger(__name__)

REACH_TIMEOUT_S = 3.0
ACCEPT_TIMEOUT_S = 10.0
"""How long `accepts` waits for a port to accept (the gateway may still be starting)."""
FETCH_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 10.0
DIAGNOSTICS_TIMEOUT_S = 120.0
JOURNAL_LINES = 3000
LOG_TAIL_BYTES = 2_000_000

EDGE_ROLE_LABEL = "node-role.kubernetes.io/edge"
"""The label KubeEdge edge nodes carry; the kubeedge overlay selects on it."""


# -- small pure helpers ---------------------------------------------------------------------------------


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


POD_LOGS_DIR = Path("/var/log/pods")


def pod_log_dir(namespace: str, pod: str, uid: str, *, base: Path = POD_LOGS_DIR) -> Path:
    """Where the kubelet (or edgecore's edged) keeps a pod's container logs on its node."""
    return base / f"{namespace}_{pod}_{uid}"


def save_pod_log_files(
    namespace: str, pod: str, uid: str | None, dest: Path, *, base: Path = POD_LOGS_DIR
) -> list[Path]:
    """Copy the tails of the pod's container log files from this host's `base` (``/var/log/pods``); never raises.

    The fallback where the API server cannot stream logs (KubeEdge without CloudStream).
    """
    if uid is None:
        return []
    saved: list[Path] = []
    root = pod_log_dir(namespace, pod, uid, base=base)
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
