from __future__ import annotations

import pytest

from lab import LAB_PREFIX, image_refs, naming, pins


def test_image_ref_is_under_the_lab_prefix() -> None:
    assert naming.image_ref("core-data", "4.0.2") == "localhost/edgex-smoke-lab/core-data:4.0.2"
    assert LAB_PREFIX == "localhost/edgex-smoke-lab"


@pytest.mark.parametrize(("component", "tag"), [("", "1"), ("a/b", "1"), ("a:b", "1"), ("core-data", ""), ("x", "a:b")])
def test_image_ref_rejects_names_that_would_change_the_reference(component: str, tag: str) -> None:
    with pytest.raises(ValueError, match="lab image"):
        naming.image_ref(component, tag)


@pytest.mark.parametrize(
    ("ref", "lab"),
    [
        ("localhost/edgex-smoke-lab/core-data:4.0.2", True),
        ("edgexfoundry/core-data:4.0.2", False),
        ("docker.io/edgexfoundry/core-data:4.0.2", False),
        ("localhost/edgex-smoke-lab-evil/core-data:4.0.2", False),
    ],
)
def test_lab_refs_are_never_upstream_refs(ref: str, lab: bool) -> None:
    assert naming.is_lab_ref(ref) is lab


def test_image_refs_name_every_component_with_its_release() -> None:
    refs = image_refs(pins.load())
    assert next(iter(refs)) == "infra"
    assert refs["infra"] == "localhost/edgex-smoke-lab/infra:bookworm"
    assert refs["core-data"] == "localhost/edgex-smoke-lab/core-data:4.0.1"
    assert set(refs) == {
        "infra",
        "core-data",
        "core-metadata",
        "core-command",
        "device-virtual",
        "device-rest",
        "device-mqtt",
        "security-secretstore-setup",
        "security-bootstrapper",
        "security-proxy-auth",
        "security-proxy-setup",
        "openbao",
    }
    assert refs["openbao"] == "localhost/edgex-smoke-lab/openbao:2.4.4"
    assert refs["security-proxy-auth"] == "localhost/edgex-smoke-lab/security-proxy-auth:4.0.1"
    assert all(naming.is_lab_ref(ref) for ref in refs.values())
