"""The systemd units, installed into temporary roots and checked by systemd's own tools.

systemd is not PID 1 where these tests run, so nothing is started. ``systemd-analyze
verify`` loads the units with their drop-ins and checks every setting and the executables
(it exits 0 even after warnings, so its output must be empty); ``systemd-analyze security
--offline=true`` scores the sandbox from the files alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from litettsd import units
from litettsd.units import install_units, main_install_units, needs_home_access

ANALYZE = shutil.which("systemd-analyze")
EXECUTABLE = Path(sys.executable).parent / "litettsd"
MAX_EXPOSURE = 2.0

needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def analyze(*args: str, user_runtime: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run systemd-analyze; ``--user`` mode needs a runtime folder even offline."""
    assert ANALYZE is not None
    env = None
    if user_runtime is not None:
        user_runtime.mkdir(exist_ok=True)
        env = {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(user_runtime)}
    command = [ANALYZE, *(["--user"] if user_runtime else []), *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120, env=env)


def verify(unit_dir: Path, user_runtime: Path | None = None) -> None:
    files = [str(unit_dir / name) for name in units.UNIT_NAMES]
    result = analyze("verify", "--man=no", *files, user_runtime=user_runtime)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def exposure(service: Path) -> float:
    result = analyze("security", "--offline=true", "--no-pager", str(service))
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for litettsd\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout
    return float(match.group(1))


@needs_analyze
def test_system_units_verify_and_score(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(units, "HOME_DIRECTORIES", ())  # wherever this checkout's Python lives
    written = install_units(user=False, cpus=None, executable=EXECUTABLE, dest_root=tmp_path)
    unit_dir = tmp_path / "etc" / "systemd" / "system"
    sysusers = tmp_path / "etc/sysusers.d/litettsd.conf"
    assert written == [unit_dir / "litettsd.service", unit_dir / "litettsd.socket", sysusers]
    service = (unit_dir / "litettsd.service").read_text()
    assert f"\nExecStart={EXECUTABLE} --socket /run/litettsd/litettsd.sock\n" in service
    verify(unit_dir)
    score = exposure(unit_dir / "litettsd.service")
    assert score <= MAX_EXPOSURE


@needs_analyze
def test_cpu_dropin_is_verified_and_removed_again(tmp_path: Path) -> None:
    written = install_units(user=False, cpus="1, 0-1", executable=EXECUTABLE, dest_root=tmp_path)
    dropin = tmp_path / "etc/systemd/system/litettsd.service.d/cpu.conf"
    assert dropin in written
    assert "\nCPUAffinity=0-1\n" in dropin.read_text()
    verify(dropin.parent.parent)
    # verify really reads drop-ins: a broken one is reported.
    dropin.write_text("[Service]\nCPUAffinity=0-x\n")
    result = analyze("verify", "--man=no", str(dropin.parent.parent / "litettsd.service"))
    assert "Failed to parse CPU affinity" in result.stderr
    removed: list[Path] = []
    install_units(user=False, cpus=None, executable=EXECUTABLE, dest_root=tmp_path, removed=removed)
    assert not dropin.exists() and removed == [dropin]  # and main says so


@needs_analyze
def test_user_units_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/home/alice/.config")
    written = install_units(user=True, cpus="0", executable=EXECUTABLE, dest_root=tmp_path)
    unit_dir = tmp_path / "home/alice/.config/systemd/user"
    dropin = unit_dir / "litettsd.service.d/cpu.conf"
    assert written == [unit_dir / "litettsd.service", unit_dir / "litettsd.socket", dropin]
    assert "ListenStream=%t/litettsd/litettsd.sock" in (unit_dir / "litettsd.socket").read_text()
    verify(unit_dir, user_runtime=tmp_path / "runtime")


@needs_analyze
def test_awkward_executable_path_is_escaped(tmp_path: Path) -> None:
    """Spaces, % and $ survive systemd's parser: verify finds the file at the exact path."""
    odd = tmp_path / "my venv %n $HOME" / "bin" / "litettsd"
    odd.parent.mkdir(parents=True)
    odd.write_text("#!/bin/sh\n")
    odd.chmod(0o755)
    install_units(user=False, cpus=None, executable=odd, dest_root=tmp_path / "root")
    service = tmp_path / "root/etc/systemd/system/litettsd.service"
    assert f'ExecStart="{tmp_path}/my venv %%n $HOME/bin/litettsd" --socket' in service.read_text()
    verify(service.parent)


def test_paths_systemd_refuses_are_rejected_before_writing(tmp_path: Path) -> None:
    odd = tmp_path / 'say "hi"' / "litettsd"
    odd.parent.mkdir()
    odd.write_text("#!/bin/sh\n")
    odd.chmod(0o755)
    with pytest.raises(ValueError, match="quotes, backslashes"):
        install_units(user=False, cpus=None, executable=odd, dest_root=tmp_path / "root")
    assert not (tmp_path / "root").exists()


def test_home_dropin_when_the_executable_lives_in_a_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert needs_home_access(Path("/home/alice/.local/bin/litettsd"))
    assert needs_home_access(Path("/root/venv/bin/litettsd"))
    assert not needs_home_access(Path("/usr/bin/litettsd"))
    script = tmp_path / "litettsd"
    script.write_text("#!/home/alice/venv/bin/python\nimport litettsd\n")
    assert needs_home_access(script)  # a console script outside /home running a venv inside it
    monkeypatch.setattr(units, "HOME_DIRECTORIES", (EXECUTABLE.parent,))
    written = install_units(user=False, cpus=None, executable=EXECUTABLE, dest_root=tmp_path)
    dropin = tmp_path / "etc/systemd/system/litettsd.service.d/home.conf"
    assert dropin in written and "ProtectHome=read-only" in dropin.read_text()
    # A per-user service has no ProtectHome= to relax.
    assert dropin not in install_units(user=True, cpus=None, executable=EXECUTABLE, dest_root=tmp_path)


def test_install_units_says_what_it_removed_and_why_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    assert main_install_units(["--root", str(root), "--executable", str(EXECUTABLE), "--cpus", "0"]) == 0
    capsys.readouterr()
    assert main_install_units(["--root", str(root), "--executable", str(EXECUTABLE)]) == 0
    assert "removed " + str(root / "etc/systemd/system/litettsd.service.d/cpu.conf") in capsys.readouterr().out
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    assert main_install_units(["--root", str(a_file), "--executable", str(EXECUTABLE)]) == 1
    assert capsys.readouterr().err.startswith(f"litettsd install-units: cannot write {a_file}/")


def test_a_venv_whose_python_lives_in_a_closed_home_is_found_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    base = home / "alice" / ".pyenv" / "bin"
    base.mkdir(parents=True)
    (base / "python3.11").write_text("")
    venv = tmp_path / "opt" / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(base / "python3.11")
    (venv / "pyvenv.cfg").write_text(f"home = {base}\ninclude-system-site-packages = false\n")
    script = venv / "bin" / "litettsd"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nimport litettsd\n")
    script.chmod(0o755)
    monkeypatch.setattr(units, "HOME_DIRECTORIES", (home,))
    assert needs_home_access(script)  # through the venv's symlinked python
    (venv / "bin" / "python").unlink()
    (venv / "bin" / "python").write_text("")  # a venv made with --copies: pyvenv.cfg still tells
    assert needs_home_access(script)
    (home / "alice").chmod(0o700)
    try:
        assert home / "alice" in units.closed_folders(script)  # (pytest's own folders are 0700 too)
        assert main_install_units(["--root", str(tmp_path / "root"), "--executable", str(script)]) == 0
        assert f"cannot enter {home / 'alice'} (mode 700)" in capsys.readouterr().err
    finally:
        (home / "alice").chmod(0o755)
    assert home / "alice" not in units.closed_folders(script)


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="systemd-sysusers is not installed")
def test_sysusers_creates_the_user_and_group(tmp_path: Path) -> None:
    install_units(user=False, cpus=None, executable=EXECUTABLE, dest_root=tmp_path)
    subprocess.run(["systemd-sysusers", f"--root={tmp_path}"], check=True, capture_output=True, timeout=60)
    passwd = (tmp_path / "etc/passwd").read_text()
    assert re.search(r"^litettsd:x:\d+:\d+:[^:]*:/var/lib/litettsd:/usr/sbin/nologin$", passwd, re.MULTILINE)
    assert re.search(r"^litettsd:x:\d+:", (tmp_path / "etc/group").read_text(), re.MULTILINE)


def test_main_install_units(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_install_units(["--root", str(tmp_path), "--cpus", "0", "--executable", str(EXECUTABLE)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path}/etc/systemd/system/litettsd.service.d/cpu.conf" in out
    assert main_install_units(["--root", str(tmp_path), "--cpus", "0-x"]) == 2
    assert "bad CPU list" in capsys.readouterr().err
    assert main_install_units(["--root", str(tmp_path), "--executable", str(tmp_path / "missing")]) == 2
    assert "is not an executable file" in capsys.readouterr().err


def test_cpus_this_machine_lacks_are_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_install_units(["--root", str(tmp_path), "--cpus", "0,4000", "--executable", str(EXECUTABLE)]) == 0
    assert "CPUs 4000 are not online" in capsys.readouterr().err
    assert main_install_units(["--root", str(tmp_path), "--cpus", "4000-4001", "--executable", str(EXECUTABLE)]) == 0
    assert "will fail to start" in capsys.readouterr().err
    assert main_install_units(["--root", str(tmp_path), "--cpus", "0", "--executable", str(EXECUTABLE)]) == 0
    assert "not online" not in capsys.readouterr().err


def test_make_install_user_service_writes_the_user_units(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    env = {
        "PATH": "/usr/bin:/bin",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_RUNTIME_DIR": str(tmp_path / "no-user-manager"),  # so systemctl --user cannot reach one
        "DBUS_SESSION_BUS_ADDRESS": "",
    }
    # -o: take the installed .venv as it is; this test is not the place to reinstall it.
    done = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "install-user-service", "CPUS=0"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    unit_dir = tmp_path / "config/systemd/user"
    assert (unit_dir / "litettsd.socket").is_file() and (unit_dir / "litettsd.service").is_file()
    assert "CPUAffinity=0\n" in (unit_dir / "litettsd.service.d/cpu.conf").read_text()
    assert "systemctl --user enable --now litettsd.socket litettsd.service" in done.stdout
