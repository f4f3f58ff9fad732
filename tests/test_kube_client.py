"""KubeClient without a cluster: kubeconfig handling, error translation, diagnostics that never raise.

A tiny local HTTP server stands in for an API server that refuses credentials.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s_client

from distros import _kube
from harness.errors import InfraError, PreflightError
from tests import _servers

TOKEN = "s3cret-token-never-shown"


def _kubeconfig(
    path: Path, server: str, *, contexts: tuple[str, ...] = ("lab",), current: str | None = "lab", cluster: str = "c"
) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": name, "context": {"cluster": cluster, "user": "u"}} for name in contexts],
    }
    if current is not None:
        document["current-context"] = current
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def closed_port() -> int:
    return _servers.free_port()  # nothing listens on it


@pytest.fixture
def unreachable(tmp_path: Path, closed_port: int) -> Iterator[_kube.KubeClient]:
    kube = _kube.KubeClient.from_kubeconfig(_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{closed_port}"))
    yield kube
    kube.close()


def _one_clean_line(message: str) -> None:
    assert "\n" not in message
    assert TOKEN not in message


def test_missing_kubeconfig_names_the_file_and_the_option(tmp_path: Path) -> None:
    with pytest.raises(PreflightError) as caught:
        _kube.KubeClient.from_kubeconfig(tmp_path / "absent")
    assert str(caught.value) == (
        f"k8s: kubeconfig {tmp_path / 'absent'} is missing or not readable; give a readable file with --kubeconfig"
    )


def test_unknown_context_lists_the_contexts(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", "http://127.0.0.1:1", contexts=("lab", "prod"))
    with pytest.raises(PreflightError) as caught:
        _kube.KubeClient.from_kubeconfig(path, "nope", subject="k3s")
    assert str(caught.value) == f"k3s: context 'nope' is not in kubeconfig {path}; choose one of: lab, prod"


def test_no_current_context_asks_for_one(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", "http://127.0.0.1:1", contexts=("a", "b"), current=None)
    with pytest.raises(PreflightError, match=r"has no current context; choose one with --context: a, b$"):
        _kube.KubeClient.from_kubeconfig(path)


def test_invalid_yaml_is_reported_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text(f"users:\n- name: u\n  user: {{token: {TOKEN}\n  broken: [\n")
    with pytest.raises(PreflightError) as caught:
        _kube.KubeClient.from_kubeconfig(path)
    assert str(caught.value).startswith(f"k8s: kubeconfig {path} is not valid YAML (line ")
    _one_clean_line(str(caught.value))


def test_kubeconfig_lists_merge_like_kubectl(tmp_path: Path) -> None:
    first = _kubeconfig(tmp_path / "one", "http://127.0.0.1:1", contexts=("one",), current="one")
    second = _kubeconfig(tmp_path / "two", "http://127.0.0.1:2", contexts=("two",), current=None, cluster="c2")
    kube = _kube.KubeClient.from_kubeconfig(f"{first}{os.pathsep}{second}", "two")
    try:
        assert (kube.context, kube.server) == ("two", "http://127.0.0.1:2")
    finally:
        kube.close()


def test_client_touches_neither_the_kubeconfig_nor_the_global_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = _kubeconfig(tmp_path / "kc", "http://127.0.0.1:1")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    default_host = k8s_client.Configuration.get_default_copy().host
    _kube.KubeClient.from_kubeconfig(path).close()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert k8s_client.Configuration.get_default_copy().host == default_host
    assert not (tmp_path / "home" / ".kube").exists()


def test_unreachable_server_fails_preflight_fast_naming_the_url(
    unreachable: _kube.KubeClient, closed_port: int
) -> None:
    started = time.monotonic()
    with pytest.raises(PreflightError) as caught:
        unreachable.check_reachable()
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert message.startswith(f"k8s: read /version: the API server http://127.0.0.1:{closed_port} does not answer (")
    assert message.endswith("check that the cluster runs and that --kubeconfig/--context point at it")
    _one_clean_line(message)


def test_waits_on_an_unreachable_server_raise_infra_errors(unreachable: _kube.KubeClient) -> None:
    with pytest.raises(InfraError, match="list pods in ns: the API server"):
        unreachable.wait_pod_ready("ns", "edgex", timeout_s=5)
    with pytest.raises(InfraError, match="delete pods in ns: the API server"):
        unreachable.delete_namespace("ns", timeout_s=5)


def test_diagnostics_never_raise_and_say_what_failed(unreachable: _kube.KubeClient, tmp_path: Path) -> None:
    saved = unreachable.collect_diagnostics("ns", "edgex", tmp_path / "diag")
    assert [p.name for p in saved] == ["events.txt", "pod-edgex.yaml"]
    assert saved[0].read_text().startswith("# could not collect events.txt: k8s: list events in ns: the API server")
    assert unreachable.collect_cluster_diagnostics(tmp_path / "cluster") == []
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert unreachable.collect_diagnostics("ns", "edgex", blocker / "diag") == []


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Answers like an API server whose credentials are wrong (/version) or too weak (everything else)."""

    def do_GET(self) -> None:
        code, reason = (401, "Unauthorized") if self.path.startswith("/version") else (403, "Forbidden")
        message = "Unauthorized" if code == 401 else 'namespaces is forbidden: User "smoke" cannot list resource'
        body = json.dumps({"kind": "Status", "status": "Failure", "message": message, "reason": reason, "code": code})
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def refusing(tmp_path: Path) -> Iterator[_kube.KubeClient]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kube = _kube.KubeClient.from_kubeconfig(_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{server.server_port}"))
    try:
        yield kube
    finally:
        kube.close()
        server.shutdown()
        server.server_close()
        thread.join()


def test_rejected_credentials_fail_preflight_naming_the_context(refusing: _kube.KubeClient) -> None:
    with pytest.raises(PreflightError) as caught:
        refusing.check_reachable()
    message = str(caught.value)
    assert "rejects the credentials of context 'lab' (401 Unauthorized: Unauthorized); refresh" in message
    _one_clean_line(message)


def test_missing_rights_name_the_server_message(refusing: _kube.KubeClient) -> None:
    with pytest.raises(InfraError) as caught:
        refusing.reap("run")
    assert str(caught.value).startswith(
        'k8s: list namespaces: 403 Forbidden: namespaces is forbidden: User "smoke" cannot list resource; '
        "the kubeconfig's user needs rights"
    )


def test_fingerprint_facts_fall_back_to_unknown_when_lists_are_forbidden(refusing: _kube.KubeClient) -> None:
    assert refusing._best_effort("list pods", refusing._core.list_pod_for_all_namespaces) is None
