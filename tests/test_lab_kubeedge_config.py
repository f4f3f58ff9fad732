"""The lab KubeEdge's configuration: a second node on the lab cluster's host that shares nothing with it."""

from __future__ import annotations

from pathlib import Path

import yaml

from lab.cluster import layout as cluster_layout
from lab.cluster.layout import Layout as ClusterLayout
from lab.kubeedge import config, host_ports, layout
from lab.kubeedge.layout import Layout

TOKEN = "0123abcd.token-value-never-printed"


def _state(tmp_path: Path) -> Layout:
    return Layout(ClusterLayout(tmp_path / "state"))


def _paths(document: object) -> list[str]:
    """Every absolute path in a config document."""
    text = yaml.safe_dump(document)
    return [word.strip("'\",") for word in text.split() if word.strip("'\",").startswith(("/", "unix:///"))]


def test_cloudcore_talks_to_the_lab_cluster_and_keeps_its_files_in_the_state_directory(tmp_path: Path) -> None:
    state = _state(tmp_path)
    kubeconfig = state.cluster.admin_kubeconfig
    document = config.cloudcore(state, kubeconfig=kubeconfig, advertise_address="192.0.2.2")
    modules = document["modules"]
    assert document["kubeAPIConfig"]["kubeConfig"] == str(kubeconfig)
    assert modules["cloudHub"]["enable"] is True
    assert modules["cloudHub"]["advertiseAddress"] == ["192.0.2.2"]
    assert modules["iptablesManager"]["enable"] is False  # the host's iptables stay ours
    outside = [p for p in _paths(document) if str(state.cluster.root) not in p]
    assert outside == [], outside


def test_edgecore_shares_no_port_cgroup_runtime_or_directory_with_the_lab_kubelet(tmp_path: Path) -> None:
    state = _state(tmp_path)
    document = config.edgecore(state, node_name="vm-edge", cloud_address="192.0.2.2", token=TOKEN)
    edged = document["modules"]["edged"]
    kubelet = edged["tailoredKubeletConfig"]
    assert edged["hostnameOverride"] == "vm-edge"
    assert kubelet["containerRuntimeEndpoint"] == f"unix://{state.edge_runtime.containerd_socket}"
    assert state.edge_runtime.containerd_socket != state.cluster.containerd_socket
    assert kubelet["cgroupRoot"] == layout.EDGE_CGROUP_ROOT != "/kubepods"
    # edgecore waits for /healthz/syncloop on the read-only port before it takes pods: never 0, never the
    # lab kubelet's ports or cloudcore's tunnel port.
    assert kubelet["readOnlyPort"] == layout.EDGED_READONLY_PORT not in (0, 10255, 10350, 10250)
    assert kubelet["healthzPort"] == layout.EDGED_HEALTHZ_PORT != 10248
    assert kubelet["oomScoreAdj"] == 0  # no CAP_SYS_RESOURCE
    assert edged["podSandboxImage"] == cluster_layout.PAUSE_IMAGE
    allowed = {"/etc/resolv.conf", layout.EDGE_CGROUP_ROOT}  # a cgroup path, not a file
    outside = [p for p in _paths(document) if str(state.cluster.root) not in p and p not in allowed]
    assert outside == [], outside


def test_edgecore_leaves_port_1883_to_the_edgex_broker(tmp_path: Path) -> None:
    document = config.edgecore(_state(tmp_path), node_name="vm-edge", cloud_address="192.0.2.2", token=TOKEN)
    modules = document["modules"]
    assert (modules["eventBus"]["enable"], modules["deviceTwin"]["enable"]) == (False, False)
    assert modules["edgeHub"]["websocket"]["server"] == f"192.0.2.2:{layout.CLOUDHUB_PORT}"
    assert modules["edgeHub"]["httpServer"] == f"https://192.0.2.2:{layout.CLOUDHUB_HTTPS_PORT}"
    assert modules["edgeHub"]["token"] == TOKEN


def test_the_edge_host_reserves_edgex_s_ports_and_takes_back_only_what_it_added(tmp_path: Path) -> None:
    sysctl, record = tmp_path / "ip_local_reserved_ports", tmp_path / "reserved-ports"
    sysctl.write_text("59880,8080-8081\n")  # an operator's own reservation, and one EdgeX port already in it
    added = host_ports.reserve(record, sysctl)
    assert added == host_ports.edgex_ports() - {59880}
    assert host_ports.parse(sysctl.read_text()) == host_ports.edgex_ports() | {8080, 8081}
    assert host_ports.release(record, sysctl) == added
    assert host_ports.parse(sysctl.read_text()) == {59880, 8080, 8081}, "what was there before stays"
    assert not record.exists()
    assert host_ports.release(record, sysctl) == set(), "a second release changes nothing"


def test_edgex_s_ports_to_reserve_are_the_release_s_ports_in_the_ephemeral_range() -> None:
    services = {59880, 59881, 59882, 59900, 59982, 59986}
    secure = {54321, 54322, 54325, 59842, 59843}  # stage gates, secretstore-setup, proxy-auth
    assert host_ports.edgex_ports() == services | secure
    assert host_ports.parse("59880-59882,59900") == {59880, 59881, 59882, 59900}
