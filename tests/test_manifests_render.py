"""The rendered single-pod manifest: schema-valid everywhere, and the pod's invariants hold."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import manifests
from harness.errors import ManifestError
from manifests import _patch

MIRROR = "mirror.example:5000/edge"
IMAGE_SOURCES = ("upstream", "lab", MIRROR)
COMBINATIONS = list(itertools.product(manifests.RELEASES, manifests.OVERLAYS, IMAGE_SOURCES))
# The oldest schema kubernetes-validate ships that edge distributions still run, and the newest.
K8S_VERSIONS = ("1.27", kubernetes_validate.latest_version())

CONTAINERS = (
    "database",
    "mqtt-broker",
    "core-metadata",
    "core-data",
    "core-command",
    "device-virtual",
    "device-rest",
    "device-mqtt",
    "gateway",
)
EDGEX_CONTAINERS = CONTAINERS[2:-1]
EDGEX_ENV = {"EDGEX_SECURITY_SECRET_STORE": "false", "EDGEX_USE_REGISTRY": "false", "EDGEX_CONFIG_PROVIDER": "none"}
REQUIRED_LABELS = {
    "app.kubernetes.io/name": "edgex",
    "app.kubernetes.io/part-of": "edgex",
    "app.kubernetes.io/managed-by": "edgex-smoke",
}
CONFIGMAPS = ("edgex-common-config", "edgex-gateway-config", "edgex-broker-config", "edgex-start")


def _render(
    images: str = "upstream", *, release: str = "4.0", distro: str = "podman", **kwargs: Any
) -> list[dict[str, Any]]:
    kwargs.setdefault("run_id", "run-1")
    return manifests.render(release=release, distro=distro, images=manifests.ImageSource.parse(images), **kwargs)


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    pods = [obj for obj in objects if obj["kind"] == "Pod"]
    assert len(pods) == 1, [obj["kind"] for obj in objects]
    return pods[0]


def _containers(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in _pod(objects)["spec"]["containers"]}


def _configmap(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    (cm,) = [obj for obj in objects if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == name]
    data: dict[str, str] = cm["data"]
    return data


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def _mounted_file(objects: list[dict[str, Any]], container: dict[str, Any], path: str) -> str:
    """Return the ConfigMap text that `container` sees at `path`, failing if nothing is mounted there."""
    volumes = {v["name"]: v for v in _pod(objects)["spec"]["volumes"]}
    for mount in container.get("volumeMounts", []):
        directory = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(directory):
            configmap = volumes[mount["name"]]["configMap"]["name"]
            return _configmap(objects, configmap)[path[len(directory) :]]
    raise AssertionError(f"{container['name']}: nothing mounted at {path}")


def _one_line_error(excinfo: pytest.ExceptionInfo[ManifestError], *fragments: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


# --- schema ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
@pytest.mark.parametrize(("release", "distro", "images"), COMBINATIONS)
def test_manifest_validates_against_kubernetes_schema(release: str, distro: str, images: str, k8s_version: str) -> None:
    for obj in _render(images, release=release, distro=distro):
        kubernetes_validate.validate(obj, k8s_version, strict=True)


@pytest.mark.parametrize(("release", "distro", "images"), COMBINATIONS)
def test_manifest_yaml_stream_round_trips(release: str, distro: str, images: str) -> None:
    objects = _render(images, release=release, distro=distro)
    text = manifests.to_yaml(objects)
    assert list(yaml.safe_load_all(text)) == objects
    assert "&id" not in text and "*id" not in text  # no YAML anchors or aliases in the output
    assert text.startswith("---\n")


def test_kubeedge_style_patch_keeps_manifest_valid() -> None:
    """The patch rules are enough for a KubeEdge overlay: nodeSelector, tolerations, hostNetwork."""
    pod = _pod(_render())
    patched = _patch.merge(
        pod,
        {
            "spec": {
                "hostNetwork": True,
                "dnsPolicy": "ClusterFirstWithHostNet",
                "nodeSelector": {"node-role.kubernetes.io/edge": ""},
                "tolerations": [{"key": "node-role.kubernetes.io/edge", "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{"name": "gateway", "env": [{"name": "TZ", "value": "UTC"}]}],
            }
        },
    )
    kubernetes_validate.validate(patched, K8S_VERSIONS[-1], strict=True)
    assert [c["name"] for c in patched["spec"]["containers"]] == list(CONTAINERS)
    gateway = {c["name"]: c for c in patched["spec"]["containers"]}["gateway"]
    assert gateway["env"] == [{"name": "TZ", "value": "UTC"}]
    assert all(p["hostPort"] == p["containerPort"] for p in gateway["ports"])  # required with hostNetwork
    assert pod["spec"].get("hostNetwork") is None  # merge does not change its input


# --- the pod's invariants ------------------------------------------------------------------------


@pytest.mark.parametrize(("release", "distro", "images"), COMBINATIONS)
def test_manifest_is_configmaps_then_one_pod(release: str, distro: str, images: str) -> None:
    objects = _render(images, release=release, distro=distro)
    assert [obj["kind"] for obj in objects] == ["ConfigMap", "ConfigMap", "ConfigMap", "ConfigMap", "Pod"]
    assert tuple(obj["metadata"]["name"] for obj in objects[:-1]) == CONFIGMAPS
    pod = _pod(objects)
    assert pod["metadata"]["name"] == "edgex"
    assert "namespace" not in pod["metadata"]  # the driver decides
    assert tuple(_containers(objects)) == CONTAINERS


@pytest.mark.parametrize(("release", "distro", "images"), COMBINATIONS)
def test_only_gateway_has_host_ports(release: str, distro: str, images: str) -> None:
    containers = _containers(_render(images, release=release, distro=distro))
    host_ports = {
        (name, port.get("hostPort"))
        for name, c in containers.items()
        for port in c.get("ports", [])
        if port.get("hostPort")
    }
    assert host_ports == {("gateway", 8000), ("gateway", 1884)}
    assert all(not c.get("ports") for name, c in containers.items() if name != "gateway")
    gateway_ports = {p["name"]: (p["containerPort"], p["hostPort"]) for p in containers["gateway"]["ports"]}
    assert gateway_ports == {"http": (8000, 8000), "mqtt": (1884, 1884)}


@pytest.mark.parametrize(("release", "distro", "images"), COMBINATIONS)
def test_database_and_broker_ports_are_never_published(release: str, distro: str, images: str) -> None:
    objects = _render(images, release=release, distro=distro)
    pod = _pod(objects)
    # Only the KubeEdge overlay shares the host network (no EdgeMesh on edges); the listeners below stay on
    # loopback either way, so nothing but the gateway is reachable from outside.
    assert bool(pod["spec"].get("hostNetwork")) == (distro == "kubeedge")
    published = {p.get("hostPort") for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    assert not published & {5432, 1883}
    broker = _containers(objects)["mqtt-broker"]
    conf = _mounted_file(objects, broker, broker["command"][-1])
    listeners = re.findall(r"^listener\s+(\S+)\s*(\S*)", conf, flags=re.MULTILINE)
    assert listeners == [("1883", "127.0.0.1")]


@pytest.mark.parametrize(("release", "distro", "images"), COMBINATIONS)
def test_edgex_containers_run_without_provider_registry_or_secret_store(release: str, distro: str, images: str) -> None:
    objects = _render(images, release=release, distro=distro)
    containers = _containers(objects)
    for name in EDGEX_CONTAINERS:
        container = containers[name]
        assert _env(container).items() >= EDGEX_ENV.items(), name
        # The upstream ENTRYPOINT (/<service>) is exec'd by the start-order wrapper, with the args appended.
        assert container["command"][:2] == ["/bin/sh", "/etc/edgex-smoke/start/wait-for.sh"], name
        assert container["command"][-2:] == ["--", f"/{name}"], name
        flag, path = container["args"]
        assert flag in ("-cc", "--commonConfig")
        common = yaml.safe_load(_mounted_file(objects, container, path))
        assert set(common) == {"all-services", "app-services", "device-services"}


@pytest.mark.parametrize(("release", "distro", "images"), COMBINATIONS)
def test_device_mqtt_bus_client_id_is_distinct(release: str, distro: str, images: str) -> None:
    env = _env(_containers(_render(images, release=release, distro=distro))["device-mqtt"])
    assert env["MESSAGEBUS_OPTIONAL_CLIENTID"] == "device-mqtt-bus"


@pytest.mark.parametrize(("release", "distro", "images"), COMBINATIONS)
def test_every_object_carries_the_run_labels(release: str, distro: str, images: str) -> None:
    for obj in _render(images, release=release, distro=distro, run_id="abc-123"):
        labels = obj["metadata"]["labels"]
        assert labels.items() >= {**REQUIRED_LABELS, "edgex-smoke/run-id": "abc-123"}.items(), obj["metadata"]["name"]


def test_common_config_points_everything_at_localhost() -> None:
    objects = _render()
    common = yaml.safe_load(_configmap(objects, "edgex-common-config")["configuration.yaml"])
    everyone = common["all-services"]
    assert everyone["Database"] == {"Host": "localhost", "Port": 5432, "Timeout": "5s", "Type": "postgres"}
    assert everyone["Writable"]["InsecureSecrets"]["DB"]["SecretData"] == {
        "username": "postgres",
        "password": "postgres",
    }
    bus = everyone["MessageBus"]
    assert (bus["Type"], bus["Host"], bus["Port"], bus["AuthMode"], bus["BaseTopicPrefix"]) == (
        "mqtt",
        "localhost",
        1883,
        "none",
        "edgex",
    )
    database = _containers(objects)["database"]
    assert _env(database) == {"POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": "edgex_db"}


def test_gateway_configmap_is_generated_from_the_service_table() -> None:
    objects = _render(gateway_http_port=18000, gateway_mqtt_port=11884)
    gateway = _containers(objects)["gateway"]
    assert gateway["command"][:4] == ["nginx", "-g", "daemon off;", "-c"]
    conf = _mounted_file(objects, gateway, gateway["command"][-1])
    assert conf == manifests.gateway_config("4.0", http_port=18000, mqtt_port=11884)
    assert conf.startswith("#") and "include /etc/nginx/modules-enabled/*.conf;" in conf
    assert re.findall(r"listen (\d+);", conf) == ["18000", "11884"]
    routes = dict(re.findall(r"location /([a-z-]+)/ \{\s*proxy_pass http://127\.0\.0\.1:(\d+)/;", conf))
    assert routes == {name: str(port) for name, port in manifests.release_info("4.0").ports.items()}
    assert "proxy_pass 127.0.0.1:1883;" in conf
    assert {(p["containerPort"], p["hostPort"]) for p in gateway["ports"]} == {(18000, 18000), (11884, 11884)}


# --- images ----------------------------------------------------------------------------------------


def test_upstream_images_are_the_catalog_names_fully_qualified_on_docker_hub() -> None:
    # Short names would let podman run any local image whose name ends the same way (a test double's).
    containers = _containers(_render("upstream"))
    assert {name: c["image"] for name, c in containers.items()} == {
        "database": "docker.io/library/postgres:18.1-alpine3.22",
        "mqtt-broker": "docker.io/library/eclipse-mosquitto:2.0.22",
        "gateway": "docker.io/library/nginx:1.29.3-alpine3.22-slim",
        **{name: f"docker.io/edgexfoundry/{name}:4.0.1" for name in EDGEX_CONTAINERS},
    }
    assert {c["imagePullPolicy"] for c in containers.values()} == {"IfNotPresent"}
    assert containers["database"]["args"] == ["postgres", "-c", "listen_addresses=localhost"]
    assert "command" not in containers["database"]


def test_lab_images_are_local_and_never_pulled() -> None:
    objects = _render("lab")
    containers = _containers(objects)
    for name, container in containers.items():
        assert container["imagePullPolicy"] == "Never", name
        expected = (
            f"localhost/edgex-smoke-lab/{name}:4.0.1"
            if name in EDGEX_CONTAINERS
            else "localhost/edgex-smoke-lab/infra:bookworm"
        )
        assert container["image"] == expected
    assert containers["database"]["command"] == ["/usr/local/bin/edgex-smoke-postgres"]
    assert "args" not in containers["database"]
    assert manifests.image_refs(objects) == {name: c["image"] for name, c in containers.items()}


@pytest.mark.parametrize(
    ("prefix", "reference", "expected"),
    [
        (MIRROR, "edgexfoundry/core-data:4.0.2", "mirror.example:5000/edge/edgexfoundry/core-data:4.0.2"),
        (MIRROR, "postgres:18.1-alpine3.22", "mirror.example:5000/edge/library/postgres:18.1-alpine3.22"),
        ("registry.local", "eclipse-mosquitto:2.0.22", "registry.local/library/eclipse-mosquitto:2.0.22"),
        (
            "localhost:5000/a/b",
            "nginx:1.29.3-alpine3.22-slim",
            "localhost:5000/a/b/library/nginx:1.29.3-alpine3.22-slim",
        ),
    ],
)
def test_mirror_prefix_rewrites_docker_hub_paths(prefix: str, reference: str, expected: str) -> None:
    assert manifests.mirror_reference(manifests.ImageSource.parse(prefix).prefix, reference) == expected


def test_mirror_images_render_below_the_prefix() -> None:
    upstream = manifests.image_refs(_render("upstream"))
    mirrored = manifests.image_refs(_render(MIRROR + "/"))  # a trailing slash is tolerated
    assert mirrored["core-data"] == "mirror.example:5000/edge/edgexfoundry/core-data:4.0.1"
    assert mirrored["database"] == "mirror.example:5000/edge/library/postgres:18.1-alpine3.22"
    assert all(mirrored[name] == f"{MIRROR}/{ref.removeprefix('docker.io/')}" for name, ref in upstream.items())
    assert {c["imagePullPolicy"] for c in _containers(_render(MIRROR)).values()} == {"IfNotPresent"}


def test_mirror_rejects_references_that_already_name_a_registry() -> None:
    with pytest.raises(ManifestError) as excinfo:
        manifests.mirror_reference(MIRROR, "quay.example/edgex/core-data:4.0.2")
    _one_line_error(excinfo, "quay.example/edgex/core-data:4.0.2", "short names")


def test_image_source_parse_round_trips() -> None:
    for value in IMAGE_SOURCES:
        assert str(manifests.ImageSource.parse(value)) == value
    assert manifests.ImageSource.parse("lab").kind == "lab"
    assert manifests.ImageSource.parse(MIRROR) == manifests.ImageSource("mirror", MIRROR)
    with pytest.raises(ManifestError):
        manifests.ImageSource("mirror")
    with pytest.raises(ManifestError):
        manifests.ImageSource("lab", MIRROR)


@pytest.mark.parametrize(
    "value", ["", "lba", "Upstream", "https://mirror.example/edge", "mirror.example/Edge", "bad host:5000"]
)
def test_image_source_parse_rejects_unknown_forms(value: str) -> None:
    with pytest.raises(ManifestError) as excinfo:
        manifests.ImageSource.parse(value)
    _one_line_error(excinfo, "--images")
    if value.strip() and "Edge" not in value:
        _one_line_error(excinfo, repr(value), "upstream | lab | <registry>[:<port>][/<path>]")


# --- profiles and errors ----------------------------------------------------------------------------


def test_release_info_lists_services_ports_and_routes() -> None:
    info = manifests.release_info("4.0")
    assert (info.edgex_version, info.api_version) == ("4.0.1", "v3")
    assert info.ports == {
        "core-data": 59880,
        "core-metadata": 59881,
        "core-command": 59882,
        "device-virtual": 59900,
        "device-rest": 59986,
        "device-mqtt": 59982,
    }
    assert info.gateway_routes["core-data"] == "/core-data/"
    assert (info.database.container, info.database.port) == ("database", 5432)
    assert (info.broker.container, info.broker.port) == ("mqtt-broker", 1883)
    assert info.gateway_container == "gateway"
    assert info.service("device-rest").port == 59986
    assert set(info.images) == set(CONTAINERS)


def test_registry_lists_are_what_exists() -> None:
    assert manifests.RELEASES == ("4.0",)
    assert manifests.OVERLAYS == ("k3s", "k8s", "kubeedge", "microk8s", "podman")
    assert manifests.SECURITY_MODES == ("off", "on")
    assert manifests.PLANNED_SECURITY_MODES == ()


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"release": "3.1"}, ("'3.1'", "choose one of: 4.0")),
        ({"release": "../4.0"}, ("'../4.0'", "choose one of: 4.0")),
        ({"distro": "k3d"}, ("'k3d'", "choose one of: k3s, k8s, kubeedge, microk8s, podman")),
        ({"security": "maybe"}, ("'maybe'", "choose one of: off, on")),
        ({"run_id": "Not A Label!"}, ("'Not A Label!'", "label value")),
        ({"run_id": ""}, ("''", "label value")),
        ({"gateway_http_port": 0}, ("0", "between 1 and 65535")),
        ({"gateway_mqtt_port": 8000}, ("8000", "two different ports")),
    ],
)
def test_bad_render_arguments_give_one_line_errors(kwargs: dict[str, Any], fragments: tuple[str, ...]) -> None:
    with pytest.raises(ManifestError) as excinfo:
        _render(**kwargs)
    _one_line_error(excinfo, *fragments)


def test_release_info_of_unknown_release_lists_valid_ones() -> None:
    with pytest.raises(ManifestError) as excinfo:
        manifests.release_info("1.3")
    _one_line_error(excinfo, "'1.3'", "choose one of: 4.0")


def test_gateway_config_rejects_unknown_port_overrides() -> None:
    with pytest.raises(ManifestError) as excinfo:
        manifests.gateway_config("4.0", ports={"core-keeper": 1})
    _one_line_error(excinfo, "'core-keeper'", "core-data")


# --- the patch rules -----------------------------------------------------------------------------


def test_patch_merges_named_lists_by_name_and_removes_null_keys() -> None:
    base: dict[str, Any] = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x", "args": ["1"], "env": [{"name": "K", "value": "1"}]},
                {"name": "b", "image": "y"},
            ]
        }
    }
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "args": None,
                    "command": ["run"],
                    "env": [{"name": "K", "value": "2"}, {"name": "L", "value": "3"}],
                },
                {"name": "c", "image": "z"},
                {"name": "b", "$patch": "delete"},
            ],
            "tolerations": [{"operator": "Exists"}],
        }
    }
    merged = _patch.merge(base, patch)
    assert merged == {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "x",
                    "env": [{"name": "K", "value": "2"}, {"name": "L", "value": "3"}],
                    "command": ["run"],
                },
                {"name": "c", "image": "z"},
            ],
            "tolerations": [{"operator": "Exists"}],
        }
    }
    assert base["spec"]["containers"][0]["args"] == ["1"]  # inputs are untouched


def test_patch_empty_list_replaces() -> None:
    assert _patch.merge({"env": [{"name": "K", "value": "1"}]}, {"env": []}) == {"env": []}


@pytest.mark.parametrize(
    ("patch", "fragments"),
    [
        ({"containers": [{"name": "ghost", "$patch": "delete"}]}, ("'ghost'", "not there")),
        ({"containers": [{"name": "a", "$patch": "replace"}]}, ("'replace'", "'delete'")),
    ],
)
def test_patch_directive_errors_are_one_line(patch: dict[str, Any], fragments: tuple[str, ...]) -> None:
    with pytest.raises(ManifestError) as excinfo:
        _patch.merge({"containers": [{"name": "a"}]}, patch, source="overlays/x/patch.yaml")
    _one_line_error(excinfo, "overlays/x/patch.yaml", *fragments)


def test_patch_file_with_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "patch.yaml"
    path.write_text("kind: Deployment\n")
    with pytest.raises(ManifestError) as excinfo:
        _patch.apply_file({}, path, allowed=frozenset({"metadata", "spec"}))
    _one_line_error(excinfo, "patch.yaml", "'kind'", "metadata, spec")


def test_patch_file_with_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "patch.yaml"
    path.write_text("spec:\n  a: [1\n")
    with pytest.raises(ManifestError) as excinfo:
        _patch.apply_file({}, path, allowed=frozenset({"spec"}))
    _one_line_error(excinfo, "patch.yaml", "invalid YAML at line")
