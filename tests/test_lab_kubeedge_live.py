"""Real EdgeX on a real KubeEdge: cloudcore on the lab cluster, this host as the edge node (``lab.kubeedge``).

As root with the lab cluster running (``make test`` starts it), the module starts the lab KubeEdge
(building cloudcore and edgecore first when they are missing) and stops it at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lab
from distros import local_cluster
from harness.vocabulary import ExitCode
from lab.cluster import processes
from lab.kubeedge import api, host_ports
from lab.kubeedge.api import EdgeNode
from lab.kubeedge.layout import Layout
from tests import _smoke

pytestmark = [pytest.mark.needs_edgex]

LOCAL = ("--distro=kubeedge", "--provision=local", "--images=lab", "-q")


@pytest.fixture(scope="module")
def edge() -> Iterator[EdgeNode]:
    if not local_cluster.descriptor_path().is_file():
        pytest.skip("the lab cluster is not running ('make lab-cluster'; make test starts it as root)")
    lab.ensure_images()
    node = api.up()
    yield node
    api.down()


def _passed(report: dict[str, Any], output: str) -> None:
    assert report["outcome"] == "passed", output
    assert {check["outcome"] for check in report["checks"]} == {"passed"}, output
    assert "".join(sorted({check["id"] for check in report["checks"]})) == "abcdefghi"


def test_edgex_passes_every_check_on_the_edge_node(edge: EdgeNode, tmp_path: Path) -> None:
    reserved = host_ports.parse(host_ports.SYSCTL.read_text())
    assert host_ports.edgex_ports() <= reserved, "the edge host keeps EdgeX's ports out of its ephemeral range"
    done, report = _smoke.run_with_report(tmp_path, *LOCAL)
    output = done.stdout + done.stderr
    _passed(report, output)
    facts = report["target"]["fingerprint"]
    assert (facts["kubeedge_version"], facts["edgecore_version"]) == ("v1.23.1", "v1.23.1"), facts
    assert edge.node_name in facts["edge_nodes"], facts
    print(f"kubeedge: {report['outcome']}, phases {report['phases']}")


def test_the_lab_clusters_own_run_still_passes_with_kubeedge_up(edge: EdgeNode, tmp_path: Path) -> None:
    done, report = _smoke.run_with_report(tmp_path, "--distro=k8s", "--provision=local", "--images=lab", "-q")
    _passed(report, done.stdout + done.stderr)


def test_a_run_while_edgecore_is_stopped_names_the_edge_node_and_its_state(edge: EdgeNode, tmp_path: Path) -> None:
    state = Layout.default()
    assert processes.stop(state.cluster, "edgecore")
    try:
        done, report = _smoke.run_with_report(tmp_path, *LOCAL, "--ready-timeout=180")
    finally:
        api.up()  # edgecore is gone: up removes the remains and starts the lab KubeEdge again
    output = done.stdout + done.stderr
    assert done.returncode == ExitCode.INFRA_ERROR, output
    verdict = [line for line in output.splitlines() if line.startswith("edgex-smoke: infra-error")]
    assert len(verdict) == 1, output
    assert f"edge node {edge.node_name} is NotReady" in verdict[0], verdict[0]
    assert "Traceback" not in output
    print(f"verdict after {report['phases']['total']} s: {verdict[0]}")
