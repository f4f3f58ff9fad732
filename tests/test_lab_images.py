"""The lab images, for real: built (or reused) with podman and started once each."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

import lab
from lab import build, gobuild, naming, pins, podman
from lab.paths import cache_dir

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


def test_infra_postgres_takes_secure_mode_s_password_file_and_init_scripts_before_it_listens(tmp_path: Path) -> None:
    """The official image's contract that security-bootstrapper's configurePostgres relies on."""
    ref = lab.ensure_infra_image()
    init = tmp_path / "init"
    init.mkdir()
    # What configurePostgres writes, in short: a bash script that creates a service's user with psql.
    (init / "create-users.sh").write_text(
        '#!/bin/bash\nset -e\npsql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -q -d edgex_db '
        "-c \"CREATE USER core_data WITH PASSWORD 'core-data-pw'\"\n"
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "postgres_password").write_text("superuser-pw")
    name = f"edgex-smoke-lab-test-{uuid.uuid4().hex[:8]}"
    podman.podman(
        [
            *("run", "-d", "--name", name, "--network", "none"),
            *("-v", f"{init}:/docker-entrypoint-initdb.d:ro,z", "-v", f"{secrets}:/run/secrets:z"),
            *("-e", "POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password", ref),
        ],
        timeout_s=60,
    )
    try:

        def psql(user: str, password: str) -> str:
            query = ["exec", "-e", f"PGPASSWORD={password}", name, "psql", "-h", "localhost", "-U", user]
            return podman.podman([*query, "-d", "edgex_db", "-tAc", "select current_user"], check=False).stdout.strip()

        deadline = time.monotonic() + 30
        while psql("core_data", "core-data-pw") != "core_data" and time.monotonic() < deadline:
            time.sleep(0.5)  # PostgreSQL initialises its data directory on first start
        assert psql("core_data", "core-data-pw") == "core_data", "the init script's user logs in over TCP"
        assert psql("postgres", "superuser-pw") == "postgres", "the superuser has the password from the file"
        assert not (secrets / "postgres_password").exists(), "the password file is deleted once read"
        log = podman.podman(["logs", name]).stderr
        assert log.index("running /docker-entrypoint-initdb.d/create-users.sh") < log.index("starting postgres on"), (
            "the users exist before postgres listens for EdgeX"
        )
    finally:
        podman.podman(["rm", "-f", "-t", "2", name], check=False, timeout_s=60)


SERVICES = [c for c in lab.image_refs() if c not in (naming.INFRA, naming.OPENBAO)]


@pytest.mark.parametrize("component", SERVICES)
def test_service_image_starts_and_prints_its_usage(component: str) -> None:
    ref = lab.ensure_images(only=[component])[component]
    done = podman.podman(["run", "--rm", "--network", "none", ref, "-h"], check=False, timeout_s=60)
    assert "Usage:" in done.stdout + done.stderr


@pytest.mark.parametrize("component", SERVICES)
def test_service_binary_links_exactly_what_its_release_go_mod_requires(component: str) -> None:
    lab.ensure_images(only=[component])
    service = pins.load().services[component]
    binary = build.binary_path(cache_dir(), service)
    assert binary.is_file(), f"{binary} is gone while its image is current; rebuild: python -m lab images --force"
    go_mod = (build.source_tree(cache_dir(), service.module) / "go.mod").read_text()
    linked, required = gobuild.build_list(binary), gobuild.requirements(go_mod)
    assert "github.com/edgexfoundry/go-mod-core-contracts/v4" in linked
    differing = {
        path: (version, required.get(path)) for path, version in linked.items() if required.get(path) != version
    }
    assert differing == {}, f"{component}: linked (version, go.mod's) differ: {differing}"


def test_openbao_image_serves_a_secret_store_that_keeps_a_secret() -> None:
    ref = lab.ensure_images(only=[naming.OPENBAO])[naming.OPENBAO]
    version = podman.podman(["run", "--rm", "--network", "none", ref, "version"], timeout_s=60).stdout
    assert version.startswith("OpenBao v2.4.4 (4bfd70723d4f9b82be00e87b8c018ac661dd9b99)"), version
    name = f"edgex-smoke-lab-test-{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    podman.podman(
        ["run", "-d", "--name", name, "--network", "none", ref, "server", "-dev", f"-dev-root-token-id={token}"],
        timeout_s=60,
    )
    try:
        bao = ["exec", "-e", "BAO_ADDR=http://127.0.0.1:8200", "-e", f"BAO_TOKEN={token}", name, "bao"]
        deadline = time.monotonic() + 30
        while True:
            status = podman.podman([*bao, "status", "-format=json"], check=False)
            if status.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # the dev server unseals itself within a second of starting
        assert '"sealed": false' in status.stdout, status.stdout + status.stderr
        podman.podman([*bao, "kv", "put", "secret/edgex-smoke", "answer=42"])
        got = podman.podman([*bao, "kv", "get", "-field=answer", "secret/edgex-smoke"]).stdout.strip()
        assert got == "42"
    finally:
        podman.podman(["rm", "-f", "-t", "0", name], check=False, timeout_s=60)
