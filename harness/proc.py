"""The only module that starts processes.

Commands are argument lists, never shell strings. Failures are translated once,
here, into `harness.errors` types with the cause chained.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import CommandError, ToolMissingError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    """The outcome of a finished command."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def which(tool: str, *, package: str | None = None) -> str:
    """Return the absolute path of `tool`, or raise `ToolMissingError` naming the package."""
    found = shutil.which(tool)
    if found is None:
        raise ToolMissingError(tool, package)
    return found


def _env(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if extra is None else {**os.environ, **extra}


def run(
    argv: Sequence[str],
    *,
    timeout_s: float,
    check: bool = True,
    input_bytes: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    package: str | None = None,
) -> Completed:
    """Run `argv` to completion within `timeout_s` seconds.

    Args:
        argv: The command as a list; ``argv[0]`` is looked up on PATH.
        timeout_s: Deadline for the whole command.
        check: Raise `CommandError` on a non-zero exit status.
        input_bytes: Bytes fed to standard input.
        env: Variables added to (never replacing) the current environment.
        cwd: Working directory.
        package: Debian package that provides ``argv[0]``, named when it is missing.
    """
    argv = [str(a) for a in argv]
    log.debug("run: %s", shlex.join(argv))
    try:
        done = subprocess.run(
            argv,
            input=input_bytes,
            capture_output=True,
            timeout=timeout_s,
            env=_env(env),
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as err:
        raise ToolMissingError(argv[0], package) from err
    except subprocess.TimeoutExpired as err:
        stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else ""
        raise CommandError(argv, None, stderr, timeout_s=timeout_s) from err
    result = Completed(
        argv=tuple(argv),
        returncode=done.returncode,
        stdout=done.stdout.decode(errors="replace"),
        stderr=done.stderr.decode(errors="replace"),
    )
    if check and done.returncode != 0:
        raise CommandError(argv, done.returncode, result.stderr or result.stdout)
    return result


def start(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    package: str | None = None,
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start `argv` in the background with stdout and stderr appended to `log_path`."""
    argv = [str(a) for a in argv]
    log.debug("start: %s (log %s)", shlex.join(argv), log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as sink:
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=_env(env),
                cwd=cwd,
                start_new_session=new_session,
            )
        except FileNotFoundError as err:
            raise ToolMissingError(argv[0], package) from err


def stop(process: subprocess.Popen[bytes], *, timeout_s: float = 10.0) -> int:
    """Stop a process from `start`: SIGTERM, then SIGKILL after `timeout_s`. Returns its status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)
    return process.returncode
