"""Facts about the test host, read through testinfra's ``local://`` backend."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import testinfra

from harness.errors import PreflightError, ToolMissingError

_SS_USER = re.compile(r'users:\(\("(?P<name>[^"]+)",pid=(?P<pid>\d+)')


@cache
def local_host() -> Any:
    """The testinfra host for this machine."""
    return testinfra.get_host("local://")


def require_tool(tool: str, *, package: str) -> str:
    """Return the path of `tool` on this host, or raise `ToolMissingError` naming its Debian package."""
    host = local_host()
    if not host.exists(tool):
        raise ToolMissingError(tool, package)
    return str(host.find_command(tool))


def listening_tcp_ports() -> set[int]:
    """Ports some process listens on, on any address."""
    ports: set[int] = set()
    for spec in local_host().socket.get_listening_sockets():
        if spec.startswith("tcp://"):
            ports.add(int(spec.rsplit(":", 1)[1]))
    return ports


def port_owner(port: int) -> str | None:
    """Name and PID of the process listening on `port`, if `ss` can tell."""
    result = local_host().run("ss -Hltnp 'sport = :%s'", str(port))
    match = _SS_USER.search(result.stdout)
    return f"{match['name']} (pid {match['pid']})" if match else None


def require_free_ports(ports: Iterable[int], *, subject: str, fix: str) -> None:
    """Raise `PreflightError` naming the first port in use and its owner."""
    busy = listening_tcp_ports()
    for port in ports:
        if port in busy:
            owner = port_owner(port)
            by = f" by {owner}" if owner else ""
            raise PreflightError(f"{subject}: host port {port} is already in use{by}; {fix}")
