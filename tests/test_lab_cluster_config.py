"""Rendering of the lab cluster's configs and command lines, and the parsers `down` relies on (no daemons)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

import manifests
from harness.errors import PreflightError
from lab.cluster import cleanup, cni, containerd, controlplane, kubelet, layout, pause
from lab.cluster.layout import Layout
from lab.cluster.pki import Pki


@pytest.fixture
def state(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "state")


def test_containerd_config_has_the_host_fixes(state: Layout) -> None:
    config = tomllib.loads(containerd.render_config(state))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == layout.PAUSE_IMAGE
    assert cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"]["SystemdCgroup"] is False
    assert runc["options"]["Root"].startswith(str(state.root))
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": str(state.cni_conf_dir), "max_conf_num": 1}
    assert config["grpc"]["address"] == str(state.containerd_socket)
    for key in ("root", "state"):
        assert config[key].startswith(str(state.root) + "/")


def test_kubelet_config_suits_cgroup_v1_without_cap_sys_resource(state: Layout) -> None:
    pki = Pki(state.pki)
    config = yaml.safe_load(yaml.safe_dump(kubelet.config(state, pki)))
    assert config["kind"] == "KubeletConfiguration"
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["failCgroupV1"] is False
    assert config["failSwapOn"] is False
    assert config["oomScoreAdj"] == 0
    assert config["containerRuntimeEndpoint"] == f"unix://{state.containerd_socket}"
    assert config["authorization"]["mode"] == "Webhook"
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authentication"]["x509"]["clientCAFile"] == str(pki.ca)
    assert config["imageGCHighThresholdPercent"] == 100  # side-loaded images cannot be pulled again
    assert config["podLogsDir"].startswith(str(state.root))


def test_kubelet_argv_names_the_node(state: Layout, tmp_path: Path) -> None:
    argv = kubelet.argv(tmp_path / "bin", state, "node-a", "192.0.2.7")
    assert argv[0] == str(tmp_path / "bin" / "kubelet")
    assert "--hostname-override=node-a" in argv
    assert "--node-ip=192.0.2.7" in argv
    assert f"--root-dir={state.kubelet_root}" in argv


def test_apiserver_argv(state: Layout, tmp_path: Path) -> None:
    pki = Pki(state.pki)
    argv = controlplane.apiserver_argv(tmp_path, state, pki, "192.0.2.7")
    assert "--authorization-mode=Node,RBAC" in argv
    assert f"--service-cluster-ip-range={layout.SERVICE_CIDR}" in argv
    assert "--etcd-servers=http://127.0.0.1:2379" in argv
    assert f"--kubelet-certificate-authority={pki.ca}" in argv
    assert "--advertise-address=192.0.2.7" in argv
    assert any(a.startswith("--service-account-signing-key-file=") for a in argv)


def test_controller_manager_allocates_pod_cidrs(state: Layout, tmp_path: Path) -> None:
    argv = controlplane.controller_manager_argv(tmp_path, state, Pki(state.pki))
    assert f"--cluster-cidr={layout.CLUSTER_CIDR}" in argv
    assert "--allocate-node-cidrs=true" in argv
    assert "--use-service-account-credentials=true" in argv
    assert "--bind-address=127.0.0.1" in argv


def test_cidrs_avoid_podman_networks() -> None:
    assert not layout.CLUSTER_CIDR.startswith(("10.88.", "10.89."))
    assert layout.BRIDGE != "cni0"
    assert layout.SERVICE_IP.startswith(layout.SERVICE_CIDR.split(".0.0/")[0])


def test_cni_conflist(state: Layout) -> None:
    path = cni.write(state, "10.244.0.0/24")
    config = json.loads(path.read_text())
    bridge, portmap = config["plugins"]
    assert bridge["type"] == "bridge" and bridge["bridge"] == layout.BRIDGE
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.0.0/24"}]]
    assert bridge["ipam"]["dataDir"] == str(state.cni_ipam_dir)
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}
    assert list(state.cni_conf_dir.iterdir()) == [path]  # no partial file left for containerd to read


OURS = 'name: \\"edgex-smoke-lab\\" id: \\"da3f\\"'
RULES = f"""-P PREROUTING ACCEPT
-N CNI-DN-b1922
-N CNI-HOSTPORT-DNAT
-N CNI-b1922d5af
-N CNI-0aa1
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -s 10.244.0.2/32 -m comment --comment "{OURS}" -j CNI-b1922d5af
-A POSTROUTING -s 10.244.0.3/32 -m comment --comment "{OURS.replace("da3f", "other")}" -j CNI-a9
-A POSTROUTING -s 10.88.0.5/32 -m comment --comment "name: \\"podman\\" id: \\"da3f\\"" -j CNI-0aa1
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat {OURS}" -m multiport --dports 18080 -j CNI-DN-b1922
-A CNI-DN-b1922 -s 10.244.0.0/24 -p tcp -m tcp --dport 18080 -j CNI-HOSTPORT-SETMARK
"""


def test_leftover_rules_are_only_those_of_our_sandboxes() -> None:
    tagged, chains = cni.leftover_rules(RULES, ["da3f"])
    assert len(tagged) == 2
    assert all("edgex-smoke-lab" in rule and "da3f" in rule for rule in tagged)
    assert chains == ["CNI-DN-b1922", "CNI-b1922d5af"]
    assert cni.leftover_rules(RULES, []) == ([], [])


def test_socket_path_length_is_checked(tmp_path: Path) -> None:
    Layout(tmp_path / "s").check()
    with pytest.raises(PreflightError, match="EDGEX_SMOKE_CLUSTER_STATE"):
        Layout(tmp_path / ("d" * 120)).check()


def test_state_dir_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGEX_SMOKE_CLUSTER_STATE", str(tmp_path / "x"))
    assert Layout.default().root == tmp_path / "x"
    assert Layout.default().log("kubelet") == tmp_path / "x" / "logs" / "kubelet.log"
    assert Layout.default().pid("etcd") == tmp_path / "x" / "pids" / "etcd.pid"


@pytest.mark.parametrize(
    ("ref", "normalized"),
    [
        ("localhost/edgex-smoke-lab/infra:bookworm", "localhost/edgex-smoke-lab/infra:bookworm"),
        ("nginx", "docker.io/library/nginx:latest"),
        ("edgexfoundry/core-data:4.0.2", "docker.io/edgexfoundry/core-data:4.0.2"),
        ("registry.example:5000/a/b", "registry.example:5000/a/b:latest"),
        ("localhost:5000/a@sha256:abc", "localhost:5000/a@sha256:abc"),
    ],
)
def test_image_refs_are_normalized_like_cri(ref: str, normalized: str) -> None:
    assert manifests.runtime_reference(ref) == normalized


MOUNTINFO = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
90 22 254:0 /s/kubelet/root /s/kubelet/root rw - ext4 /dev/vda rw
91 90 0:50 / /s/kubelet/root/pods/u/volumes/kubernetes.io~projected/tok rw - tmpfs tmpfs rw
92 22 0:4 net:[4026532] /s/containerd/state/netns/cni-1 rw - nsfs nsfs rw
93 22 0:51 / /s\\040x/y rw - tmpfs tmpfs rw
94 22 0:52 / /sibling rw - tmpfs tmpfs rw
"""


def test_mounts_under_are_deepest_first() -> None:
    found = cleanup.mounts_under(Path("/s"), MOUNTINFO)
    assert found == [
        Path("/s/kubelet/root/pods/u/volumes/kubernetes.io~projected/tok"),
        Path("/s/containerd/state/netns/cni-1"),
        Path("/s/kubelet/root"),
    ]
    assert cleanup.mounts_under(Path("/s x"), MOUNTINFO) == [Path("/s x/y")]


def test_pause_archive_is_a_valid_docker_archive() -> None:
    data = pause.archive_bytes(b"\x7fELF binary", "localhost/x/pause:1", arch="amd64")
    assert data == pause.archive_bytes(b"\x7fELF binary", "localhost/x/pause:1", arch="amd64")  # deterministic
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    (manifest,) = json.loads(members["manifest.json"])
    assert manifest["RepoTags"] == ["localhost/x/pause:1"]
    config = json.loads(members[manifest["Config"]])
    layer = members[manifest["Layers"][0]]
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]
    assert config["config"]["Entrypoint"] == ["/pause"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        (binary,) = tar.getmembers()
    assert binary.name == "pause" and binary.mode == 0o755


def test_pause_builds_static(tmp_path: Path) -> None:
    binary = pause.build_binary(tmp_path / "pause")
    assert binary.read_bytes()[:4] == b"\x7fELF"
    assert b"/lib64/ld-linux" not in binary.read_bytes()[:4096]  # no program interpreter: static
