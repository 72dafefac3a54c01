"""Which CPUs the daemon runs on, and how many threads onnxruntime may use there.

Speech synthesis is a burst of dense matrix work that someone is waiting to hear, so two
machine facts matter:

- On hybrid CPUs (Intel P/E cores, ARM big.LITTLE) an inference split across fast and slow
  cores runs at the pace of the slow ones: each operator waits for its last thread. Pinning
  to one class of core (``[cpu] affinity``) avoids that.
- SMT siblings share one core's vector units, so a second thread per core adds contention,
  not throughput, for this kind of work. The thread count is therefore the number of
  physical cores, capped by the cgroup's CPU quota (threads beyond the quota get the whole
  cgroup throttled mid-inference, the worst case for latency).

Detection reads sysfs and cgroupfs under roots passed as parameters, so tests can describe
machines they do not run on (tests/fixtures/sysfs). The affinity the process started with
(``taskset``, systemd's ``CPUAffinity=``) is an upper bound: the plan never widens it.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError

_SAME_SPEED = 0.85
"""Cores within 15% of the fastest maximum frequency count as performance cores.

Exact equality would call two favoured cores of an Intel part (Turbo Boost Max 3.0, about
2% faster) the only performance cores; real little cores run 25-50% slower.
"""


MAX_CPU = 8191
"""The highest CPU number Linux supports (NR_CPUS is at most 8192)."""
AFFINITY_CLASSES = ("all", "performance", "efficiency")
"""``[cpu] affinity`` values that name a class of core rather than list CPUs."""


def parse_cpu_list(text: str) -> frozenset[int]:
    """CPU numbers from the kernel's list format, e.g. ``0-3,8`` (also used by taskset -c)."""
    cpus: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"bad CPU list {text!r}: {part!r} is not a number or a range like 0-3")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"bad CPU list {text!r}: range {part!r} runs backwards")
        if last > MAX_CPU:
            raise ValueError(f"bad CPU list {text!r}: {last} is beyond the highest CPU number Linux has, {MAX_CPU}")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def format_cpu_list(cpus: Iterable[int]) -> str:
    """The kernel's compact list format, e.g. ``{0, 1, 2, 3, 8}`` -> ``0-3,8``."""
    ranges: list[list[int]] = []
    for cpu in sorted(cpus):
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges) or "(none)"


@dataclass(frozen=True)
class Topology:
    """What the machine offers: online CPUs, their speed classes, cores and cgroup quota."""

    online: frozenset[int]
    performance: frozenset[int]
    """The fastest class of CPUs; all online CPUs on a uniform machine."""
    efficiency: frozenset[int]
    """The slower CPUs; empty on a uniform machine."""
    cores: tuple[frozenset[int], ...]
    """One entry per physical core: its logical CPUs (SMT siblings)."""
    classified_by: str
    """How the classes were told apart, for the explanation."""
    quota: float | None
    """How many CPUs' worth of time the cgroup allows (cpu.max), None when unlimited."""

    def physical_cores(self, cpus: Iterable[int]) -> int:
        """How many distinct physical cores ``cpus`` touch; a CPU sysfs did not describe counts as one."""
        wanted = set(cpus)
        touched = [core for core in self.cores if core & wanted]
        return len(touched) + len(wanted.difference(*touched))


@dataclass(frozen=True)
class CpuPlan:
    """Where the daemon runs and with how many intra-op threads, and why."""

    cpus: frozenset[int]
    threads: int
    reasons: tuple[str, ...]
    topology: Topology
    started_with: frozenset[int]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def online_cpus(cpu_dir: Path = Path("/sys/devices/system/cpu")) -> frozenset[int]:
    listed = _read(cpu_dir / "online")
    if listed:
        return parse_cpu_list(listed)
    return frozenset(
        int(entry.name[3:]) for entry in cpu_dir.glob("cpu[0-9]*") if entry.name[3:].isdigit()
    )


def _cores(cpu_dir: Path, online: frozenset[int]) -> tuple[frozenset[int], ...]:
    """Group logical CPUs into physical cores.

    ``core_cpus_list`` (kernel >= 5.7) and its older name ``thread_siblings_list`` list a
    core's siblings directly; failing both, siblings share ``physical_package_id`` and
    ``core_id`` (core ids repeat across sockets, so the package is part of the key). A CPU
    with no topology at all counts as its own core.
    """
    groups: dict[object, set[int]] = {}
    for cpu in sorted(online):
        topology = cpu_dir / f"cpu{cpu}" / "topology"
        siblings = _read(topology / "core_cpus_list") or _read(topology / "thread_siblings_list")
        key: object
        if siblings:
            key = parse_cpu_list(siblings) & online
        else:
            package, core = _read(topology / "physical_package_id"), _read(topology / "core_id")
            key = (package, core) if package is not None and core is not None else ("cpu", cpu)
        groups.setdefault(key, set()).add(cpu)
    return tuple(sorted((frozenset(group) for group in groups.values()), key=min))


def _classes(sysfs_root: Path, cpu_dir: Path, online: frozenset[int]) -> tuple[frozenset[int], frozenset[int], str]:
    """Split online CPUs into (performance, efficiency, how we knew)."""
    if not online:
        return online, frozenset(), f"unknown: no CPUs listed under {cpu_dir}"
    core_cpus = _read(sysfs_root / "devices" / "cpu_core" / "cpus")
    atom_cpus = _read(sysfs_root / "devices" / "cpu_atom" / "cpus")
    if core_cpus and atom_cpus:
        performance = parse_cpu_list(core_cpus) & online
        if performance:
            return performance, online - performance, "Intel hybrid core types (/sys/devices/cpu_core, cpu_atom)"
    speeds: dict[int, int] = {}
    for cpu in online:
        value = _read(cpu_dir / f"cpu{cpu}" / "cpufreq" / "cpuinfo_max_freq")
        if value is None or not value.isdigit():
            return online, frozenset(), "no cpufreq data: all CPUs treated alike"
        speeds[cpu] = int(value)
    fastest = max(speeds.values(), default=0)
    performance = frozenset(cpu for cpu, speed in speeds.items() if speed >= fastest * _SAME_SPEED)
    if performance == online:
        return online, frozenset(), "all CPUs have about the same maximum frequency"
    return performance, online - performance, "maximum frequencies (cpufreq/cpuinfo_max_freq)"


def _own_cgroup() -> str:
    """Our cgroup v2 path relative to the hierarchy's root, from /proc/self/cgroup."""
    for line in (_read(Path("/proc/self/cgroup")) or "").splitlines():
        if line.startswith("0::"):
            return line[3:]
    return "/"


def cgroup_quota(cgroup_root: Path, cgroup_path: str) -> float | None:
    """CPUs' worth of time allowed by cgroup v2 ``cpu.max`` (systemd's CPUQuota=), or None.

    Every ancestor's limit applies too, so the tightest one along the path counts.
    """
    directories = [cgroup_root]
    for part in filter(None, cgroup_path.split("/")):
        directories.append(directories[-1] / part)
    limits = []
    for directory in directories:
        fields = (_read(directory / "cpu.max") or "").split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit() and int(fields[1]) > 0:
            limits.append(int(fields[0]) / int(fields[1]))
    return min(limits) if limits else None


def detect_topology(
    sysfs_root: Path = Path("/sys"), cgroup_root: Path = Path("/sys/fs/cgroup"), cgroup_path: str | None = None
) -> Topology:
    """Read the machine's CPU topology and our cgroup's CPU quota."""
    cpu_dir = sysfs_root / "devices" / "system" / "cpu"
    online = online_cpus(cpu_dir)
    performance, efficiency, classified_by = _classes(sysfs_root, cpu_dir, online)
    return Topology(
        online=online,
        performance=performance,
        efficiency=efficiency,
        cores=_cores(cpu_dir, online),
        classified_by=classified_by,
        quota=cgroup_quota(cgroup_root, _own_cgroup() if cgroup_path is None else cgroup_path),
    )


def _choose_cpus(topology: Topology, allowed: frozenset[int], affinity: str, reasons: list[str]) -> frozenset[int]:
    setting = affinity.strip().lower()
    if setting == "all":
        reasons.append(f'affinity = "all": every CPU the process started with ({format_cpu_list(allowed)})')
        return allowed
    if setting in AFFINITY_CLASSES[1:]:
        wanted = topology.performance if setting == "performance" else topology.efficiency
        chosen = wanted & allowed
        if chosen:
            shown = format_cpu_list(chosen)
            reasons.append(f'affinity = "{setting}": the {setting} CPUs {shown} ({topology.classified_by})')
            return chosen
        why = "none of them is in the starting affinity" if wanted else f"no {setting} cores were detected"
        reasons.append(f'affinity = "{setting}": {why}; using every allowed CPU ({format_cpu_list(allowed)})')
        return allowed
    try:
        listed = parse_cpu_list(setting)
    except ValueError as exc:
        raise ConfigError(
            f"[cpu] affinity = {affinity!r}: expected all, performance, efficiency or a CPU list like 0-3,8 ({exc})"
        ) from None
    chosen = listed & allowed
    if not chosen:
        raise ConfigError(
            f"[cpu] affinity = {affinity!r}: none of these CPUs is available "
            f"(the process may run on {format_cpu_list(allowed)})"
        )
    reasons.append(f"affinity = {format_cpu_list(listed)!r}: CPUs {format_cpu_list(chosen)}")
    if listed - chosen:
        reasons.append(f"  left out {format_cpu_list(listed - chosen)}: offline or outside the starting affinity")
    return chosen


def _choose_threads(topology: Topology, cpus: frozenset[int], threads: str, reasons: list[str]) -> int:
    setting = str(threads).strip().lower()
    if setting != "auto":
        if not setting.isdigit() or int(setting) < 1:
            raise ConfigError(f'[cpu] threads = {threads!r}: expected "auto" or a whole number of at least 1')
        count = int(setting)
        note = f"; more than the {len(cpus)} pinned CPUs, so threads will take turns" if count > len(cpus) else ""
        reasons.append(f"threads = {count}: as configured{note}")
        return count
    physical = topology.physical_cores(cpus)
    if physical < len(cpus):
        reasons.append(
            f"threads = auto: {physical} physical cores among the {len(cpus)} pinned CPUs "
            "(SMT siblings share a core's vector units, a second thread per core only contends)"
        )
    else:
        reasons.append(f"threads = auto: one per pinned CPU, {physical} (no SMT siblings among them)")
    count = max(1, physical)
    if topology.quota is not None and topology.quota < count:
        count = max(1, math.floor(topology.quota))
        reasons.append(
            f"  capped at {count}: the cgroup allows {topology.quota:g} CPUs' worth of time (cpu.max); "
            "more threads would get the daemon throttled mid-inference"
        )
    return count


def make_plan(topology: Topology, allowed: Iterable[int], affinity: str, threads: str) -> CpuPlan:
    """Decide CPUs and thread count from the settings, within ``allowed`` (the starting affinity).

    Raises ConfigError for settings that cannot be satisfied or parsed.
    """
    started_with = frozenset(allowed)
    usable = (started_with & topology.online) or started_with
    reasons: list[str] = []
    cpus = _choose_cpus(topology, usable, affinity, reasons)
    count = _choose_threads(topology, cpus, threads, reasons)
    return CpuPlan(cpus=cpus, threads=count, reasons=tuple(reasons), topology=topology, started_with=started_with)


def plan_cpus(
    affinity: str,
    threads: str,
    sysfs_root: Path = Path("/sys"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    allowed: Iterable[int] | None = None,
) -> CpuPlan:
    """Detect the topology and make the plan; ``allowed`` defaults to our current affinity.

    Call it before ``apply_affinity`` narrows the affinity: a second plan made afterwards
    would start from the narrowed set.
    """
    start = os.sched_getaffinity(0) if allowed is None else allowed
    return make_plan(detect_topology(sysfs_root, cgroup_root), start, affinity, threads)


def apply_affinity(plan: CpuPlan) -> None:
    """Pin every thread of this process to ``plan.cpus``.

    sched_setaffinity() changes one thread, and new threads inherit their creator's mask.
    Pinning each thread listed in /proc/self/task therefore covers threads that already
    exist (the inference scheduler, executors) as well as onnxruntime's pools created later.
    """
    for entry in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(entry), plan.cpus)
        except ProcessLookupError:
            pass  # the thread ended since the listing


def format_plan(plan: CpuPlan) -> str:
    """The plan and the facts behind it, for ``litettsd cpu-plan``."""
    topology = plan.topology
    lines = [f"online CPUs:       {format_cpu_list(topology.online)}"]
    if topology.efficiency:
        lines.append(f"performance CPUs:  {format_cpu_list(topology.performance)}")
        lines.append(f"efficiency CPUs:   {format_cpu_list(topology.efficiency)}")
    lines.append(f"core classes:      {topology.classified_by}")
    smt = [core for core in topology.cores if len(core) > 1]
    lines.append(
        f"physical cores:    {len(topology.cores)}"
        + (f" ({len(smt)} with SMT siblings, e.g. {format_cpu_list(smt[0])})" if smt else " (no SMT)")
    )
    quota = "none" if topology.quota is None else f"{topology.quota:g} CPUs (cgroup cpu.max)"
    lines.append(f"CPU quota:         {quota}")
    lines.append(f"started on CPUs:   {format_cpu_list(plan.started_with)}")
    lines.append(f"pin to CPUs:       {format_cpu_list(plan.cpus)}")
    lines.append(f"inference threads: {plan.threads}")
    lines.append("why:")
    lines.extend(f"  {reason}" for reason in plan.reasons)
    return "\n".join(lines)


def plan_summary(plan: CpuPlan) -> str:
    """The plan in one log line; ``litettsd cpu-plan`` prints the facts behind it."""
    reasons = "; ".join(reason.strip() for reason in plan.reasons)
    return (
        f"CPU plan: pinned to {format_cpu_list(plan.cpus)} (started on {format_cpu_list(plan.started_with)}), "
        f"{plan.threads} inference thread{'s' if plan.threads != 1 else ''} ({reasons})"
    )


def main_cpu_plan(settings_affinity: str, settings_threads: str) -> int:
    """``litettsd cpu-plan``: print the plan for the configured settings; 2 if they are invalid."""
    try:
        plan = plan_cpus(settings_affinity, settings_threads)
    except ConfigError as exc:
        print(f"litettsd: {exc}", file=sys.stderr)
        return 2
    print(format_plan(plan))
    return 0
