"""The lab images, for real: built (or reused) with podman and started once each."""

from __future__ import annotations

import time
import uuid

import pytest

import lab
from lab import naming, podman

pytestmark = pytest.mark.needs_podman


def test_infra_image_serves_postgres_with_the_edgex_database() -> None:
    ref = lab.ensure_infra_image()
    assert ref == f"{lab.LAB_PREFIX}/infra:bookworm"
    assert podman.image_labels(ref)[naming.LABEL_LAB] == "true"
    name = f"edgex-smoke-lab-test-{uuid.uuid4().hex[:8]}"
    podman.podman(["run", "-d", "--name", name, "--network", "none", ref], timeout_s=60)
    try:
        query = ["exec", "-e", "PGPASSWORD=postgres", name, "psql", "-h", "localhost", "-U", "postgres"]
        query += ["-d", "edgex_db", "-tAc", "select current_database()"]
        deadline = time.monotonic() + 30
        while True:
            done = podman.podman(query, check=False)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # PostgreSQL initialises its data directory on first start
        assert done.stdout.strip() == "edgex_db", done.stderr
        script = 'for tool in mosquitto nginx ps setpriv; do command -v "$tool"; done'
        tools = podman.podman(["exec", name, "sh", "-c", script])
        assert len(tools.stdout.split()) == 4
        modules = podman.podman(["exec", name, "ls", "/usr/lib/nginx/modules"]).stdout
        assert "ngx_stream_module.so" in modules
    finally:
        podman.podman(["rm", "-f", "-t", "2", name], check=False, timeout_s=60)


@pytest.mark.parametrize("component", [c for c in lab.image_refs() if c != naming.INFRA])
def test_service_image_starts_and_prints_its_usage(component: str) -> None:
    ref = lab.image_refs()[component]
    if not podman.image_exists(ref):
        pytest.skip(f"{ref} is not built (python -m lab images; see 'blocked' in lab/pins.toml)")
    done = podman.podman(["run", "--rm", "--network", "none", ref, "-h"], check=False, timeout_s=60)
    assert "Usage:" in done.stdout + done.stderr
