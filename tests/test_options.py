"""Option validation: every bad value is one line naming the option, the value and the choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgex_smoke import options as opts

GOOD = {
    "distro": "podman",
    "release": "4.0",
    "security": "off",
    "images": "auto",
    "keep": False,
    "reuse": False,
    "report_dir": "reports/out",
    "ready_timeout_s": 300.0,
    "gateway_http_port": 8000,
    "gateway_mqtt_port": 1884,
}


def test_defaults_validate() -> None:
    run = opts.validate(**GOOD)  # type: ignore[arg-type]
    assert run.distro == "podman"
    assert run.report_dir == Path("reports/out")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("distro", "nope", "--distro: unknown value 'nope'; choose one of: k3s, k8s, kubeedge, microk8s, podman"),
        ("release", "9.9", "--edgex: unknown value '9.9'; choose one of: 4.0"),
        ("security", "maybe", "--security: unknown value 'maybe'; choose one of: off, on"),
        ("ready_timeout_s", 0.0, "--ready-timeout: 0.0 is not positive"),
        ("gateway_mqtt_port", 8000, "--gateway-ports: HTTP and MQTT both use 8000"),
        ("gateway_http_port", 70000, "--gateway-ports: 70000 is not a TCP port"),
    ],
)
def test_bad_value_names_option_and_value(field: str, value: object, expected: str) -> None:
    with pytest.raises(opts.OptionError) as caught:
        opts.validate(**{**GOOD, field: value})  # type: ignore[arg-type]
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_security_on_is_an_option_like_any_other() -> None:
    assert opts.validate(**{**GOOD, "security": "on"}).security == "on"  # type: ignore[arg-type]


def test_bad_image_source_is_rejected() -> None:
    with pytest.raises(opts.OptionError, match=r"^--images 'not a source!' is neither"):
        opts.validate(**{**GOOD, "images": "not a source!"})  # type: ignore[arg-type]


def test_report_dir_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    afile = tmp_path / "f"
    afile.write_text("")
    with pytest.raises(opts.OptionError, match=r"--report-dir: .* is not a directory"):
        opts.validate(**{**GOOD, "report_dir": str(afile)})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc", "--ready-timeout: 'abc' is not a number of seconds; give e.g. 300"),
        ("nan", "--ready-timeout: nan is not a finite number of seconds; give e.g. 300"),
        ("inf", "--ready-timeout: inf is not a finite number of seconds; give e.g. 300"),
        ("-5", "--ready-timeout: -5 is not positive; give seconds, e.g. 300"),
        ("99999", "--ready-timeout: 99999 s is more than 21600 s; give seconds, e.g. 300"),
    ],
)
def test_ready_timeout_is_a_finite_positive_bounded_number(text: str, expected: str) -> None:
    with pytest.raises(opts.OptionError) as caught:
        opts.parse_seconds("--ready-timeout", text)
    assert str(caught.value) == expected


def test_a_bad_number_through_pytest_is_one_line_not_argparse_usage(pytester: pytest.Pytester) -> None:
    result = _run_plugin(pytester, "--ready-timeout=abc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line.strip()] == [
        "ERROR: --ready-timeout: 'abc' is not a number of seconds; give e.g. 300"
    ]


@pytest.mark.parametrize("value", ["8000", "a:b", "1:2:3"])
def test_gateway_ports_need_two_numbers(value: str) -> None:
    with pytest.raises(opts.OptionError, match=r"--gateway-ports: .* is not HTTP:MQTT"):
        opts.parse_ports(value)


# -- through pytest itself ------------------------------------------------------------------


def _run_plugin(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    return pytester.runpytest_subprocess("-p", "edgex_smoke.plugin", *args)


def test_unknown_distro_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    result = _run_plugin(pytester, "--distro=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.strip()]
    assert errors == ["ERROR: --distro: unknown value 'nope'; choose one of: k3s, k8s, kubeedge, microk8s, podman"]


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = _run_plugin(pytester, "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["edgex-smoke:", "*--distro=NAME*", "*--images=SOURCE*", "*--keep*", "*--reuse*"])


def test_local_provisioning_is_only_for_targets_that_have_one() -> None:
    with pytest.raises(opts.OptionError, match=r"^--provision local: 'podman' has no local target"):
        opts.validate(**{**GOOD, "provision": "local"})  # type: ignore[arg-type]


def test_kubeconfig_must_exist(tmp_path: Path) -> None:
    with pytest.raises(opts.OptionError, match=r"^--kubeconfig: .* is not a readable file"):
        opts.validate(**{**GOOD, "kubeconfig": str(tmp_path / "absent")})  # type: ignore[arg-type]
