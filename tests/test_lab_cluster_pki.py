"""The lab cluster's certificates (real openssl) and kubeconfigs."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml

from harness import proc
from lab.cluster import kubeconfig, layout, pki


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> pki.Pki:
    return pki.ensure(tmp_path_factory.mktemp("pki") / "pki", "node-a", "192.0.2.7")


def _text(cert: Path) -> str:
    return proc.run(["openssl", "x509", "-in", str(cert), "-noout", "-text"], timeout_s=10).stdout


def test_apiserver_sans_cover_every_address(issued: pki.Pki) -> None:
    text = _text(issued.cert("apiserver"))
    for san in (
        "IP Address:127.0.0.1",
        "IP Address:192.0.2.7",
        f"IP Address:{layout.SERVICE_IP}",
        "DNS:kubernetes.default.svc",
        "DNS:node-a",
    ):
        assert san in text
    assert "TLS Web Server Authentication" in text


def test_kubelet_identity_is_a_node(issued: pki.Pki) -> None:
    text = _text(issued.cert("kubelet-client"))
    assert "Subject: O = system:nodes, CN = system:node:node-a" in text
    assert "TLS Web Client Authentication" in text
    serving = _text(issued.cert("kubelet-serving"))
    assert "IP Address:192.0.2.7" in serving


def test_admin_is_cluster_admin(issued: pki.Pki) -> None:
    assert "O = system:masters" in _text(issued.cert("admin"))


def test_every_certificate_chains_to_the_ca(issued: pki.Pki) -> None:
    certs = sorted(str(p) for p in issued.dir.glob("*.crt") if p.name != "ca.crt")
    assert len(certs) == len(pki.leaves("n", "192.0.2.7"))
    done = proc.run(["openssl", "verify", "-CAfile", str(issued.ca), *certs], timeout_s=10)
    assert done.stdout.count(": OK") == len(certs)
    assert "CA:TRUE" in _text(issued.ca)


def test_private_keys_are_private(issued: pki.Pki) -> None:
    keys = list(issued.dir.glob("*.key"))
    assert len(keys) == len(pki.leaves("n", "192.0.2.7")) + 2  # CA and service-account keys
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(issued.dir.stat().st_mode) == 0o700


def test_kubeconfig_embeds_the_identity(issued: pki.Pki, tmp_path: Path) -> None:
    path = kubeconfig.write(
        tmp_path / "k" / "admin.kubeconfig",
        kubeconfig.render(
            server="https://127.0.0.1:6443",
            ca=issued.ca,
            cert=issued.cert("admin"),
            key=issued.key("admin"),
            user="edgex-smoke-admin",
        ),
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = yaml.safe_load(path.read_text())
    assert document["current-context"] == kubeconfig.CONTEXT
    user = document["users"][0]["user"]
    assert base64.b64decode(user["client-key-data"]) == issued.key("admin").read_bytes()
    assert document["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
