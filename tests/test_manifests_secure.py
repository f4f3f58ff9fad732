"""The secure profile of the single pod (--security on), as rendered: what it adds, and what it keeps out."""

from __future__ import annotations

from typing import Any

import pytest

import manifests
from harness.errors import ManifestError

TOKEN_OWNERS = (
    *(service.container for service in manifests.release_info("4.0").services),
    "security-proxy-auth",
    "security-bootstrapper-postgres",
    "security-bootstrapper-messagebus",
)
"""Every container secretstore-setup writes a token for: the six EdgeX services and three security ones."""


def _render(distro: str = "podman", images: str = "lab") -> list[dict[str, Any]]:
    return manifests.render(
        release="4.0", distro=distro, images=manifests.ImageSource.parse(images), security="on", run_id="r1", name="x"
    )


def _containers(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in objects[-1]["spec"]["containers"]}


def test_secure_mode_adds_edgex_s_security_services_with_their_images() -> None:
    containers = _containers(_render())
    info = manifests.release_info("4.0")
    for name, refs in info.security_images.items():
        assert containers[name]["image"] == refs.lab, name
    upstream = _containers(_render(images="upstream"))
    assert upstream["secret-store"]["image"] == "docker.io/openbao/openbao:2.4.4"
    assert upstream["security-proxy-auth"]["image"] == "docker.io/edgexfoundry/security-proxy-auth:4.0.1"


def test_only_the_gateway_publishes_ports_and_no_container_runs_without_its_start_gate() -> None:
    containers = _containers(_render())
    published = {name for name, c in containers.items() for port in c.get("ports", []) if port.get("hostPort")}
    assert published == {"gateway"}
    for name in ("core-metadata", "core-data", "core-command", "device-virtual", "device-rest", "security-proxy-auth"):
        assert "tcp:54322" in containers[name]["command"], f"{name} starts before its token is written"


def test_each_service_sees_only_its_own_token_and_setup_writes_them_all() -> None:
    containers = _containers(_render())
    setup = {m["mountPath"]: m for m in containers["security-secretstore-setup"]["volumeMounts"]}
    for owner in TOKEN_OWNERS:
        assert not setup[f"/tmp/edgex/secrets/{owner}"].get("readOnly"), owner
    for name, container in containers.items():
        if name == "security-secretstore-setup":
            continue
        tokens = [m for m in container.get("volumeMounts", []) if m["mountPath"].startswith("/tmp/edgex/secrets/")]
        assert all(m.get("readOnly") for m in tokens), name
        assert len(tokens) <= 1, f"{name} sees {len(tokens)} services' tokens"


def test_the_manifest_carries_no_secret() -> None:
    text = manifests.to_yaml(_render())
    for forbidden in ("PRIVATE KEY", "BEGIN CERTIFICATE", "client_token", "POSTGRES_PASSWORD\n", "value: postgres\n"):
        assert forbidden not in text, forbidden
    kinds = {obj["kind"] for obj in _render()}
    assert kinds == {"ConfigMap", "Pod"}, "no Secret: every secret is made inside the pod at start"


def test_the_gateway_speaks_tls_only_and_asks_proxy_auth_for_every_service_route() -> None:
    objects = _render()
    conf = next(o["data"]["nginx.conf"] for o in objects if o["metadata"]["name"] == "x-gateway-config")
    assert "listen 8000 ssl;" in conf and "listen 1884 ssl;" in conf
    assert "listen 8000;" not in conf and "listen 1884;" not in conf
    for service in manifests.release_info("4.0").services:
        block = conf.split(f"location /{service.name}/ {{", 1)[1].split("}", 1)[0]
        assert "auth_request /auth;" in block, service.name
    assert "proxy_pass http://127.0.0.1:59842/auth;" in conf
    assert "location /vault/v1/auth/userpass/login/" in conf


def test_the_secure_scripts_travel_in_their_own_configmap() -> None:
    objects = _render()
    secure = next(o for o in objects if o["metadata"]["name"] == "x-secure")
    assert {"secret-store.hcl", "secretstore-setup.sh", "database.sh", "broker.sh", "gateway.sh"} <= set(secure["data"])
    settings = [line.split("=")[0].strip() for line in secure["data"]["secret-store.hcl"].splitlines()]
    assert "api_addr" not in settings, "EdgeX accepts OpenBao's JWTs only when api_addr is unset"
    assert "x-secure" in manifests.configmap_names("x"), "a crashed run's secure volume is reaped too"


@pytest.mark.parametrize("distro", ["k8s", "kubeedge"])
def test_secure_mode_renders_for_the_kubernetes_overlays_too(distro: str) -> None:
    containers = _containers(_render(distro=distro))
    assert "secret-store" in containers


def test_a_release_without_a_secure_profile_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    info = manifests.release_info("4.0")
    monkeypatch.setattr(type(info), "secure_directory", property(lambda _self: None))
    with pytest.raises(ManifestError, match=r"EdgeX 4.0 has no secure profile .*; use security 'off'"):
        _render()
