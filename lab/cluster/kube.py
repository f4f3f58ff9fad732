"""The few Kubernetes API calls the lab cluster makes itself, through the official Python client."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
_TRANSIENT = (client.ApiException, urllib3.exceptions.HTTPError, OSError)


@contextlib.contextmanager
def api(kubeconfig: Path) -> Iterator[Any]:
    """Yield a CoreV1Api on its own ApiClient (the global configuration is left alone), closed on exit."""
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client.CoreV1Api(api_client)
    finally:
        api_client.close()


def node_pod_cidr(core: Any, node_name: str) -> str | None:
    """Return the node's ``spec.podCIDR``, or None before it is registered and allocated one."""
    try:
        node = core.read_node(node_name, _request_timeout=REQUEST_TIMEOUT_S)
    except _TRANSIENT:
        return None
    return str(node.spec.pod_cidr) if node.spec and node.spec.pod_cidr else None


def node_ready(core: Any, node_name: str) -> bool:
    """Tell whether the node's ``Ready`` condition is ``True``."""
    try:
        node = core.read_node(node_name, _request_timeout=REQUEST_TIMEOUT_S)
    except _TRANSIENT:
        return False
    conditions = (node.status.conditions or []) if node.status else []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def default_service_account(core: Any) -> bool:
    """Tell whether ``default/default`` exists: before it does, pods in ``default`` are refused."""
    try:
        core.read_namespaced_service_account("default", "default", _request_timeout=REQUEST_TIMEOUT_S)
    except _TRANSIENT:
        return False
    return True


def delete_all_pods(core: Any) -> int:
    """Delete every pod in every namespace at once (grace period 0); return how many there were.

    The kubelet then kills their containers and stops their sandboxes, which runs CNI DEL: the clean way to
    release pod IPs, veths and hostPort rules.
    """
    pods = core.list_pod_for_all_namespaces(_request_timeout=REQUEST_TIMEOUT_S * 4).items
    for pod in pods:
        try:
            core.delete_namespaced_pod(
                pod.metadata.name,
                pod.metadata.namespace,
                grace_period_seconds=0,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        except client.ApiException as err:
            if err.status != 404:
                raise
    return len(pods)
