"""``litettsd install-units``: put the systemd units where systemd looks for them.

The unit files live in the source tree's ``systemd/`` folder and name the packaged
executable, /usr/bin/litettsd. Installing from a virtual environment or a user install
would leave that path dangling, so the installer rewrites ExecStart= to the executable it
is given (by default the ``litettsd`` beside the running interpreter) and adds drop-ins
for what differs per machine: the CPUs to pin to, and read access to /home when the
executable lives there.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import stat
import sys
from pathlib import Path

from .cpu import format_cpu_list, online_cpus, parse_cpu_list

UNIT_SOURCE = Path(__file__).resolve().parent.parent / "systemd"
"""The unit templates: the source tree's ``systemd/`` (a checkout or an editable install)."""

UNIT_NAMES = ("litettsd.service", "litettsd.socket")
PACKAGED_EXECUTABLE = "/usr/bin/litettsd"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
SYSUSERS_FILE = Path("/etc/sysusers.d/litettsd.conf")
HOME_DIRECTORIES = (Path("/home"), Path("/root"), Path("/run/user"))
"""What the system unit's ProtectHome=yes hides from the daemon."""


def user_unit_dir() -> Path:
    """Where a user's own units go: $XDG_CONFIG_HOME/systemd/user."""
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "systemd" / "user"


def _rerooted(path: Path, root: Path | None) -> Path:
    """``path`` inside ``root`` (an image or a test folder), like systemd's --root=."""
    return path if root is None else root / path.relative_to(path.anchor)


def _exec_word(path: Path) -> str:
    """``path`` as the first word of ExecStart=, escaped for systemd's command-line parser.

    ``%`` starts a specifier, so it is doubled (``$`` needs nothing: systemd expands
    variables in the arguments, not in the executable's path); a path with spaces is
    quoted. Quotes, backslashes and control characters systemd refuses outright.
    """
    text = str(path)
    if any(char in "\"'\\" or ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValueError(f"systemd cannot run {text!r}: quotes, backslashes and control characters are refused")
    text = text.replace("%", "%%")
    return f'"{text}"' if any(char.isspace() for char in text) else text


def _interpreter(executable: Path) -> Path | None:
    """The program named on a script's ``#!`` line (a console script's Python), if any."""
    try:
        with open(executable, "rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return None
    words = first[2:].split() if first.startswith(b"#!") else []
    return Path(os.fsdecode(words[0])) if words else None


def _venv_home(interpreter: Path) -> Path | None:
    """The base interpreter's folder of a virtual environment (``home =`` in ``pyvenv.cfg``)."""
    try:
        lines = (interpreter.parent.parent / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, equals, value = line.partition("=")
        if equals and key.strip() == "home":
            return Path(value.strip())
    return None


def runtime_paths(executable: Path) -> set[Path]:
    """Every place the service must read to start: the script, its interpreter, and the
    interpreter a virtual environment is made from (symlinks followed: a venv's ``python``
    usually points into a pyenv or other per-user Python)."""
    paths = {executable, executable.resolve()}
    interpreter = _interpreter(executable)
    if interpreter is not None:
        paths |= {interpreter, interpreter.resolve()}
        home = _venv_home(interpreter)
        if home is not None:
            paths |= {home, home.resolve()}
    return paths


def needs_home_access(executable: Path) -> bool:
    """True when anything the service runs from (see :func:`runtime_paths`) is under a home folder."""
    return any(path.is_relative_to(home) for path in runtime_paths(executable) for home in HOME_DIRECTORIES)


def closed_folders(executable: Path) -> list[Path]:
    """Folders on the way to what the service runs that other users may not enter.

    The system service runs as the ``litettsd`` user: ``ProtectHome=read-only`` cannot
    open a 0700 home folder (``/root`` is one) to it, so such an installation cannot start.
    """
    closed = set()
    for path in runtime_paths(executable):
        for folder in path.parents:
            with contextlib.suppress(OSError):
                if not folder.stat().st_mode & stat.S_IXOTH:
                    closed.add(folder)
    return sorted(closed)


def _service_text(template: str, exec_word: str) -> str:
    pattern = re.compile(rf"^ExecStart={re.escape(PACKAGED_EXECUTABLE)}(?= |$)", re.MULTILINE)
    text, count = pattern.subn(lambda _: f"ExecStart={exec_word}", template)
    if count != 1:
        raise RuntimeError(f"unit template has {count} ExecStart={PACKAGED_EXECUTABLE} lines, expected 1")
    return text


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def install_units(
    user: bool, cpus: str | None, executable: Path, dest_root: Path | None, removed: list[Path] | None = None
) -> list[Path]:
    """Write the units for a system (``user=False``) or per-user daemon; return the files written,
    and add to ``removed`` the drop-ins of an earlier install that no longer apply.

    ``cpus`` (a list like ``0-3,8``) adds the drop-in ``litettsd.service.d/cpu.conf`` with
    CPUAffinity=; without it, a drop-in left by an earlier install is removed, so the
    result always matches the arguments. ``dest_root`` installs into another root
    filesystem (a package build, an image, a test) instead of the live system.

    Raises ValueError for a bad CPU list or an executable that cannot run, OSError when a
    file cannot be written.
    """
    executable = Path(os.path.abspath(executable))
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        raise ValueError(f"{executable} is not an executable file")
    exec_word = _exec_word(executable)
    affinity = None
    if cpus is not None:
        chosen = parse_cpu_list(cpus)
        if not chosen:
            raise ValueError("--cpus names no CPUs")
        affinity = format_cpu_list(chosen)
    source = UNIT_SOURCE / "user" if user else UNIT_SOURCE
    if not source.is_dir():
        raise FileNotFoundError(f"unit templates not found in {source}: this installation does not ship them")
    unit_dir = _rerooted(user_unit_dir() if user else SYSTEM_UNIT_DIR, dest_root)
    dropins = unit_dir / "litettsd.service.d"
    written = []
    for name in UNIT_NAMES:
        text = (source / name).read_text()
        if name.endswith(".service"):
            text = _service_text(text, exec_word)
        written.append(_write(unit_dir / name, text))
    gone = removed if removed is not None else []
    cpu_dropin = dropins / "cpu.conf"
    if affinity is not None:
        written.append(
            _write(
                cpu_dropin,
                "# Written by `litettsd install-units --cpus`. The daemon starts on these CPUs only;\n"
                "# [cpu] affinity then chooses among them.\n"
                f"[Service]\nCPUAffinity={affinity}\n",
            )
        )
    elif cpu_dropin.exists():
        cpu_dropin.unlink()
        gone.append(cpu_dropin)
    home_dropin = dropins / "home.conf"
    if not user and needs_home_access(executable):
        written.append(
            _write(
                home_dropin,
                f"# Written by `litettsd install-units`: {executable}, or the Python it runs, lives under\n"
                "# a home folder, which ProtectHome=yes would hide. Install litettsd outside /home and\n"
                "# /root and re-run install-units to drop this.\n"
                "[Service]\nProtectHome=read-only\n",
            )
        )
    elif home_dropin.exists():
        home_dropin.unlink()
        gone.append(home_dropin)
    if not user:
        sysusers = (UNIT_SOURCE / "sysusers.d" / "litettsd.conf").read_text()
        written.append(_write(_rerooted(SYSUSERS_FILE, dest_root), sysusers))
    return written


def _default_executable() -> Path | None:
    beside = Path(sys.executable).parent / "litettsd"
    if beside.is_file():
        return beside
    found = shutil.which("litettsd")
    return Path(found) if found else None


def _next_steps(user: bool) -> str:
    if user:
        return (
            "next:\n"
            "  systemctl --user daemon-reload\n"
            "  systemctl --user enable --now litettsd.socket litettsd.service"
        )
    return (
        "next:\n"
        f"  systemd-sysusers {SYSUSERS_FILE}\n"
        "  systemctl daemon-reload\n"
        "  systemctl enable --now litettsd.socket litettsd.service\n"
        "  usermod -aG litettsd USER   # for each user who may use the shared daemon;\n"
        "                              # their clients need LITETTSD_SOCKET=/run/litettsd/litettsd.sock"
    )


def main_install_units(argv: list[str] | None = None) -> int:
    """``litettsd install-units [--user] [--cpus LIST] [--executable PATH] [--root DIR]``.

    Exit codes: 0 written, 1 a file could not be written, 2 bad arguments.
    """
    parser = argparse.ArgumentParser(
        prog="litettsd install-units",
        description="Install the litettsd systemd units (socket activation, notify, watchdog, sandbox).",
    )
    parser.add_argument(
        "--user", action="store_true", help=f"per-user units in {user_unit_dir()} instead of {SYSTEM_UNIT_DIR}"
    )
    parser.add_argument("--cpus", metavar="LIST", help="pin the service to these CPUs (CPUAffinity=), e.g. 0-3,8")
    parser.add_argument(
        "--executable", metavar="PATH", type=Path, help="litettsd executable for ExecStart= (default: this installation's)"
    )
    parser.add_argument("--root", metavar="DIR", type=Path, help="install under this root folder instead of /")
    args = parser.parse_args(argv)
    executable = args.executable or _default_executable()
    if executable is None:
        print("litettsd install-units: cannot find the litettsd executable; pass --executable", file=sys.stderr)
        return 2
    removed: list[Path] = []
    try:
        written = install_units(args.user, args.cpus, executable, args.root, removed)
    except ValueError as exc:
        print(f"litettsd install-units: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        hint = "" if args.user or args.root else " (run as root, or use --user)"
        where = f"cannot write {exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        print(f"litettsd install-units: {where}{hint}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    for path in removed:
        print(f"removed {path} (no longer asked for)")
    chosen = parse_cpu_list(args.cpus) if args.cpus else frozenset()
    online = online_cpus()
    if chosen - online:
        # systemd drops CPUs that do not exist and fails the start when none is left
        consequence = "the service runs on the others" if chosen & online else "the service will fail to start here"
        print(
            f"litettsd install-units: warning: CPUs {format_cpu_list(chosen - online)} are not online on this "
            f"machine (online: {format_cpu_list(online)}); {consequence}",
            file=sys.stderr,
        )
    if not args.user:
        for folder in closed_folders(executable):
            print(
                f"litettsd install-units: warning: the litettsd user cannot enter {folder} "
                f"(mode {stat.S_IMODE(folder.stat().st_mode):o}), so the service cannot start this "
                "installation; install it under /opt or /usr/local, or use --user",
                file=sys.stderr,
            )
    if args.root is None:
        print(_next_steps(args.user))
    return 0
