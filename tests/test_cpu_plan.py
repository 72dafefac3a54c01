"""The CPU plan on machines described by fabricated sysfs trees, and once on this machine.

tests/fixtures/sysfs holds only the files litettsd.cpu reads, laid out as the kernel does:
a hybrid 6P+8E laptop (P cores with SMT: CPUs 0-11, E cores 12-19), a two-socket server
with 2x8 SMT cores (first threads 0-15, siblings 16-31, core ids repeating per socket), a
two-vCPU VM without cpufreq or SMT, and a cgroup v2 tree with CPU quotas.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from litettsd.config import ConfigError
from litettsd.cpu import (
    CpuPlan,
    detect_topology,
    format_cpu_list,
    format_plan,
    plan_summary,
    main_cpu_plan,
    make_plan,
    parse_cpu_list,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sysfs"
LAPTOP = FIXTURES / "hybrid-laptop"
SERVER = FIXTURES / "two-socket-server"
VM = FIXTURES / "vm-2core"
CGROUP = FIXTURES / "cgroup-v2"
SERVICE_CGROUP = "/system.slice/litettsd.service"  # CPUQuota=250%
USER_CGROUP = "/user.slice/user-1000.slice/user@1000.service/app.slice/litettsd.service"  # user.slice: 150%


def plan(
    machine: Path,
    affinity: str = "all",
    threads: str = "auto",
    allowed: set[int] | None = None,
    cgroup_path: str = "/",
) -> CpuPlan:
    topology = detect_topology(machine, CGROUP, cgroup_path)
    return make_plan(topology, topology.online if allowed is None else allowed, affinity, threads)


def test_hybrid_laptop_topology() -> None:
    topology = detect_topology(LAPTOP, CGROUP, "/")
    assert topology.online == frozenset(range(20))
    assert topology.performance == frozenset(range(12))
    assert topology.efficiency == frozenset(range(12, 20))
    assert len(topology.cores) == 14
    assert frozenset({4, 5}) in topology.cores and frozenset({15}) in topology.cores
    assert topology.quota is None
    assert "cpu_core" in topology.classified_by


@pytest.mark.parametrize(
    ("affinity", "cpus", "threads"),
    [
        ("performance", set(range(12)), 6),
        ("efficiency", set(range(12, 20)), 8),
        ("all", set(range(20)), 14),
        ("0-3,8", {0, 1, 2, 3, 8}, 3),
    ],
)
def test_hybrid_laptop_plans(affinity: str, cpus: set[int], threads: int) -> None:
    result = plan(LAPTOP, affinity)
    assert result.cpus == cpus
    assert result.threads == threads


def test_two_socket_server() -> None:
    topology = detect_topology(SERVER, CGROUP, "/")
    assert topology.online == frozenset(range(32))
    assert topology.efficiency == frozenset()
    assert len(topology.cores) == 16
    assert frozenset({3, 19}) in topology.cores and frozenset({11, 27}) in topology.cores
    result = plan(SERVER, "performance")
    assert result.cpus == set(range(32)) and result.threads == 16
    # Pinning to one socket's first threads: one thread per physical core.
    assert plan(SERVER, "0-7,16-23").threads == 8


def test_efficiency_on_a_uniform_machine_falls_back_to_all() -> None:
    result = plan(SERVER, "efficiency")
    assert result.cpus == set(range(32))
    assert "no efficiency cores were detected" in result.reasons[0]


def test_vm_without_cpufreq_or_smt() -> None:
    topology = detect_topology(VM, CGROUP, "/")
    assert topology.performance == {0, 1} and not topology.efficiency
    assert "no cpufreq" in topology.classified_by
    for affinity in ("all", "performance", "efficiency"):
        result = plan(VM, affinity)
        assert result.cpus == {0, 1} and result.threads == 2


def test_cpufreq_tells_the_classes_apart_without_hybrid_sysfs(tmp_path: Path) -> None:
    """Without cpu_core/cpu_atom, maximum frequencies give the same split.

    Two P cores boost to 4.8 GHz and four to 4.7 GHz: all six are performance cores; the
    3.5 GHz E cores are not.
    """
    machine = tmp_path / "laptop"
    shutil.copytree(LAPTOP, machine)
    shutil.rmtree(machine / "devices" / "cpu_core")
    shutil.rmtree(machine / "devices" / "cpu_atom")
    topology = detect_topology(machine, CGROUP, "/")
    assert topology.performance == frozenset(range(12))
    assert topology.efficiency == frozenset(range(12, 20))
    assert "cpuinfo_max_freq" in topology.classified_by


def test_cores_from_package_and_core_id(tmp_path: Path) -> None:
    """Without sibling lists, core ids (which repeat on each socket) plus the package pair siblings."""
    machine = tmp_path / "server"
    shutil.copytree(SERVER, machine)
    for name in ("core_cpus_list", "thread_siblings_list"):
        for path in machine.glob(f"devices/system/cpu/cpu*/topology/{name}"):
            path.unlink()
    cores = detect_topology(machine, CGROUP, "/").cores
    assert len(cores) == 16
    assert frozenset({0, 16}) in cores and frozenset({8, 24}) in cores


@pytest.mark.parametrize(
    ("cgroup_path", "quota", "threads"),
    [("/", None, 6), (SERVICE_CGROUP, 2.5, 2), (USER_CGROUP, 1.5, 1), ("/init.scope", None, 6)],
)
def test_cgroup_quota_caps_threads(cgroup_path: str, quota: float | None, threads: int) -> None:
    result = plan(LAPTOP, "performance", cgroup_path=cgroup_path)
    assert result.topology.quota == quota
    assert result.threads == threads
    assert result.cpus == set(range(12))  # the quota limits time, not placement


def test_unreadable_sysfs_trusts_the_starting_affinity(tmp_path: Path) -> None:
    """Without /sys (a bare chroot, a foreign kernel) each allowed CPU counts as a core."""
    topology = detect_topology(tmp_path / "no-sysfs", tmp_path / "no-cgroup", "/")
    result = make_plan(topology, {0, 1, 2}, "performance", "auto")
    assert result.cpus == {0, 1, 2}
    assert result.threads == 3
    assert topology.classified_by.startswith("unknown")


def test_missing_cgroup_hierarchy_means_no_quota(tmp_path: Path) -> None:
    assert detect_topology(VM, tmp_path / "absent", SERVICE_CGROUP).quota is None


def test_quota_never_drops_below_one_thread() -> None:
    topology = detect_topology(VM, CGROUP, "/")
    limited = dataclasses.replace(topology, quota=0.2)
    assert make_plan(limited, {0, 1}, "all", "auto").threads == 1


def test_explicit_threads_ignore_the_quota() -> None:
    result = plan(LAPTOP, "performance", threads="4", cgroup_path=SERVICE_CGROUP)
    assert result.threads == 4
    assert "take turns" in plan(VM, threads="3").reasons[-1]


def test_restricted_starting_affinity_is_an_upper_bound() -> None:
    """As under `taskset -c 1`: every setting stays on CPU 1."""
    for affinity in ("all", "performance", "efficiency", "0-19"):
        result = plan(LAPTOP, affinity, allowed={1})
        assert result.cpus == {1}
        assert result.threads == 1
    assert "none of them is in the starting affinity" in plan(LAPTOP, "efficiency", allowed={1}).reasons[0]
    # Two siblings of one server core are one physical core.
    assert plan(SERVER, allowed={5, 21}).threads == 1


def test_cpu_list_drops_unavailable_cpus() -> None:
    result = plan(VM, "1,5-6")
    assert result.cpus == {1}
    assert any("left out 5-6" in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("affinity", "threads", "message"),
    [
        ("fastest", "auto", "expected all, performance, efficiency or a CPU list"),
        ("3-1", "auto", "runs backwards"),
        ("40-47", "auto", "none of these CPUs is available"),
        ("all", "0", "whole number of at least 1"),
        ("all", "many", "whole number of at least 1"),
    ],
)
def test_bad_settings(affinity: str, threads: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan(VM, affinity, threads)


def test_cpu_lists() -> None:
    assert parse_cpu_list("0-3,8") == {0, 1, 2, 3, 8}
    assert parse_cpu_list(" 0, 2-3 ,") == {0, 2, 3}
    assert parse_cpu_list("") == set()
    assert format_cpu_list({8, 0, 1, 2, 3, 10, 11}) == "0-3,8,10-11"
    assert format_cpu_list(set()) == "(none)"
    for bad in ("a", "1-", "-1", "1-2-3"):
        with pytest.raises(ValueError):
            parse_cpu_list(bad)


def test_format_plan() -> None:
    text = format_plan(plan(LAPTOP, "performance", cgroup_path=SERVICE_CGROUP))
    assert "performance CPUs:  0-11" in text
    assert "efficiency CPUs:   12-19" in text
    assert "physical cores:    14 (6 with SMT siblings, e.g. 0-1)" in text
    assert "CPU quota:         2.5 CPUs" in text
    assert "pin to CPUs:       0-11" in text
    assert "inference threads: 2" in text


def test_plan_summary_is_one_line_for_the_log() -> None:
    summary = plan_summary(plan(LAPTOP, "performance", cgroup_path=SERVICE_CGROUP))
    assert "\n" not in summary and "  " not in summary
    assert summary.startswith("CPU plan: pinned to 0-11 (started on ") and ", 2 inference threads (" in summary


def test_main_cpu_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_cpu_plan("all", "auto") == 0
    assert "inference threads:" in capsys.readouterr().out
    assert main_cpu_plan("fastest", "auto") == 2
    assert "[cpu] affinity" in capsys.readouterr().err


def _run(code: str, prefix: list[str] | None = None) -> dict[str, object]:
    result = subprocess.run(
        [*(prefix or []), sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_real_machine_under_taskset() -> None:
    """This machine's real /sys, started like `taskset -c 0 litettsd`."""
    taskset = shutil.which("taskset")
    if taskset is None:
        pytest.skip("taskset is not installed")
    report = _run(
        """
        import json
        from litettsd.cpu import plan_cpus
        plan = plan_cpus("all", "auto")
        print(json.dumps({"cpus": sorted(plan.cpus), "threads": plan.threads}))
        """,
        [taskset, "-c", "0"],
    )
    assert report == {"cpus": [0], "threads": 1}


def test_apply_affinity_pins_existing_and_later_threads() -> None:
    report = _run(
        """
        import json, os, threading
        from litettsd.cpu import apply_affinity, plan_cpus
        hold = threading.Event()
        early = threading.Thread(target=hold.wait)
        early.start()
        plan = plan_cpus(str(min(os.sched_getaffinity(0))), "auto")
        apply_affinity(plan)
        masks = {int(t): sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")}
        late = []
        later = threading.Thread(target=lambda: late.append(sorted(os.sched_getaffinity(0))))
        later.start(); later.join(); hold.set(); early.join()
        pinned = sorted(map(tuple, masks.values()))
        print(json.dumps({"plan": sorted(plan.cpus), "threads": len(masks), "masks": pinned, "late": late[0]}))
        """
    )
    assert report["threads"] == 2  # the main thread and the early one
    assert report["masks"] == [report["plan"], report["plan"]]
    assert report["late"] == report["plan"]
