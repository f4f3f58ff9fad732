"""No secret of a secure run reaches any file it writes, or its output.

One real secure run on podman (the lab images), made to fail (the gateway without auth, so the
JWT checks fail and diagnostics with every container's log are saved), kept (``--keep``) and with
every logger at DEBUG streamed to its output and into the JUnit file. Then the test gathers the
values that must never appear, each known to it for sure:

- what the harness held in memory: the proxy user's password, its secret-store token, its JWT
  and the broker's password (recorded by ``tests._secret_capture``, outside the report directory);
- what the deployment made inside its pod: OpenBao's unseal keys (hex and base64; the root token
  too, unless security-secretstore-setup revoked and blanked it as it does),
  every service's secret-store token, and the database password core-data reads.

It plants one of them beside the outputs and checks that the scan finds exactly that (so the scan
can fail), then scans every file of the run's report directory (report, JUnit, CA, diagnostics) and
the run's output for each value.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

import pytest

import lab
import manifests
from harness import proc
from tests import _faults, _secret_capture, _smoke

pytestmark = [pytest.mark.needs_podman, pytest.mark.needs_edgex]

SETUP = "security-secretstore-setup"
TOKEN_VOLUME = "token-"
"""The secure pod gives each token owner an emptyDir of this prefix (manifests/releases/4.0/secure/patch.yaml)."""
CLIENT_TOKEN = re.compile(r'"client_token"\s*:\s*"([^"]+)"')
DATABASE_SECRET = (
    'token=$(sed -n \'s/.*"client_token":"\\([^"]*\\)".*/\\1/p\' /tmp/edgex/secrets/core-data/secrets-token.json)'
    ' && wget -q -O - --header "X-Vault-Token: $token" http://127.0.0.1:8200/v1/secret/edgex/core-data/postgres'
)
SHORTEST_SECRET = 8


def _exec(pod: str, container: str, script: str) -> str:
    return proc.run(["podman", "exec", f"{pod}-{container}", "/bin/sh", "-c", script], timeout_s=60).stdout


def _token_owners() -> list[str]:
    lab_images = manifests.ImageSource.parse("lab")
    objects = manifests.render(release="4.0", distro="podman", images=lab_images, security="on", run_id="scan")
    (pod,) = [obj for obj in objects if obj["kind"] == "Pod"]
    volumes = [volume["name"] for volume in pod["spec"]["volumes"]]
    return [name.removeprefix(TOKEN_VOLUME) for name in volumes if name.startswith(TOKEN_VOLUME)]


def _made_in_the_pod(pod: str) -> dict[str, str]:
    """The secrets the deployment made, read inside its kept pod: name → value."""
    found: dict[str, str] = {}
    init = json.loads(_exec(pod, SETUP, "cat /openbao/config/assets/resp-init.json"))
    if init.get("root_token"):  # secretstore-setup revokes the root token and blanks it here once it is done
        found["root token"] = init["root_token"]
    for index, (hex_key, b64_key) in enumerate(zip(init["keys"], init["keys_base64"], strict=True)):
        found[f"unseal key {index} (hex)"], found[f"unseal key {index} (base64)"] = hex_key, b64_key
    for owner in _token_owners():
        text = _exec(pod, SETUP, f"cat /tmp/edgex/secrets/{owner}/secrets-token.json")
        (found[f"{owner}'s token"],) = CLIENT_TOKEN.findall(text)
    database = json.loads(_exec(pod, "core-data", DATABASE_SECRET))["data"]
    found["database password"] = database["password"]
    return found


def _held_by_the_harness(capture: Path) -> dict[str, str]:
    return {f"harness secret {index}": value for index, value in enumerate(json.loads(capture.read_text()))}


def _leaks(secrets_by_name: dict[str, str], outputs: Iterable[tuple[str, bytes]]) -> list[str]:
    """Where each secret appears: ``"<name> in <output>"`` for every hit."""
    return [
        f"{name} in {where}"
        for where, data in outputs
        for name, value in secrets_by_name.items()
        if value.encode() in data
    ]


def _files(directory: Path) -> list[tuple[str, bytes]]:
    return [
        (str(path.relative_to(directory)), path.read_bytes()) for path in sorted(directory.rglob("*")) if path.is_file()
    ]


def test_no_token_key_or_password_reaches_any_output_of_a_secure_run(tmp_path: Path) -> None:
    lab.ensure_images()
    pod = f"edgex-secret-scan-{secrets.token_hex(3)}"
    report_dir, capture = tmp_path / "run", tmp_path / "captured.json"
    env = {_faults.ENV: "gateway-without-auth", _secret_capture.ENV: str(capture)}
    try:
        done = _smoke.run(
            report_dir,
            "--distro=podman",
            "--images=lab",
            "--security=on",
            "--keep",
            f"--name={pod}",
            "-p",
            "tests._faults",
            "-p",
            "tests._secret_capture",
            "--log-level=DEBUG",
            "--log-cli-level=DEBUG",
            "-o",
            "junit_logging=all",
            env=env,
        )
        output = done.stdout + done.stderr
        report = _smoke.only_report(report_dir, output)
        assert report["outcome"] == "failed" and report["artifacts"]["diagnostics"], output
        assert report["artifacts"]["junit"], output
        known = _held_by_the_harness(capture) | _made_in_the_pod(pod)
    finally:
        _smoke.remove_kept(pod)

    assert len(known) >= 4 + 2 * 5 + len(_token_owners()) + 1, sorted(known)  # 5 unseal keys by default
    short = [name for name, value in known.items() if len(value) < SHORTEST_SECRET]
    assert not short, f"too short to scan for without false alarms: {short}"

    outputs = [*_files(report_dir), ("the run's output", output.encode())]
    assert any(where.startswith(f"run-{report['run_id']}/diagnostics/") for where, _ in outputs), outputs
    size = sum(len(data) for _, data in outputs)
    print(f"scanned {len(outputs)} outputs ({size} bytes) for {len(known)} secrets: {', '.join(sorted(known))}")
    print("outputs:", ", ".join(where for where, _ in outputs))
    planted = [*outputs, ("planted.txt", f"planted: {known['unseal key 0 (base64)']}\n".encode())]
    assert _leaks(known, planted) == ["unseal key 0 (base64) in planted.txt"]  # the scan finds what is there
    assert _leaks(known, outputs) == []
