"""Commands inside a container of a node's containerd, through ``ctr tasks exec``: testinfra without the API server.

A KubeEdge edge node serves ``exec`` through the API server only with CloudStream and EdgeStream, which need
their own certificates and tunnel. When the edge node is this host, its containerd is right here, so the
smoke checks' in-container facts (check a) are read from it directly.
"""

from __future__ import annotations

import secrets
from typing import Any

import testinfra

from distros._protocol import KubeObject
from distros._sideload import NodeRuntime
from harness import proc
from harness.errors import InfraError

EXEC_TIMEOUT_S = 60.0
CONTAINERD_PREFIX = "containerd://"


def container_id(pod: KubeObject, container: str) -> str:
    """The containerd ID of `container` of `pod`, from the pod's status; one line naming the container if none."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container and str(status.get("containerID", "")).startswith(CONTAINERD_PREFIX):
            return str(status["containerID"]).removeprefix(CONTAINERD_PREFIX)
    name = (pod.get("metadata") or {}).get("name", "?")
    raise InfraError(f"pod {name}: container {container} has no containerd ID yet; is it running?")


def exec_argv(runtime: NodeRuntime, container: str, command: str) -> list[str]:
    """``ctr tasks exec`` of ``/bin/sh -c command`` in `container` (a fresh exec ID per call)."""
    exec_id = f"edgex-smoke-{secrets.token_hex(4)}"
    return [*runtime.ctr, "--namespace", runtime.namespace, "tasks", "exec", "--exec-id", exec_id, container,
            "/bin/sh", "-c", command]  # fmt: skip


class CtrExecBackend(testinfra.backend.base.BaseBackend):  # type: ignore[misc]  # testinfra is untyped
    """testinfra backend that runs commands with ``ctr tasks exec`` in one container of a local node's containerd."""

    NAME = "containerd-exec"

    def __init__(self, runtime: NodeRuntime, container: str) -> None:
        self.runtime = runtime
        self.container = container
        super().__init__(container)

    def run(self, command: str, *args: str, **kwargs: Any) -> Any:
        """Run `command` (``%s`` placeholders filled with quoted `args`) under ``/bin/sh -c``."""
        cmd = self.get_command(command, *args)
        done = proc.run(exec_argv(self.runtime, self.container, cmd), timeout_s=EXEC_TIMEOUT_S, check=False)
        return self.result(done.returncode, self.encode(cmd), done.stdout.encode(), done.stderr.encode())


def container_host(runtime: NodeRuntime, pod: KubeObject, container: str) -> Any:
    """A testinfra host running commands in `container` of `pod` on the local node's containerd."""
    return testinfra.host.Host(CtrExecBackend(runtime, container_id(pod, container)))
