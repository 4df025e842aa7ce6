"""What the benchmarks share: the issue's goals, a measured child process, and a figure printed next to its goal.

The reference machine has 2 cores and is often shared, so every figure is
taken over several runs in fresh processes and reported as the best run (the
one least disturbed) and the median, with the CPU time (user + system) beside
the wall time: CPU time moves far less with the load than wall time does.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The goals of the performance issue, for 1000 services on the 2-core reference machine.
RENDER_SECONDS = 1.4        # `render --all`, three stacks, whole process
FLOOR_RATIO = 4.0           # ... at most this many times plain writes of the same files
NO_CHANGE_SECONDS = 0.3     # a re-render that finds nothing to do
DIFF_SECONDS = 3.0          # `diff` of one changed service
PROGRAM_SECONDS = 10.0      # the Pulumi program under mocks, one stack
PEAK_MB = 300.0             # peak memory (RSS) of each of those processes
CDK8S_SPEEDUP = 15.0        # `render --all` at least this many times faster than a cdk8s synth of the same
                            # services' Deployments and Services alone (bench_render.py --cdk8s)


@dataclass(frozen=True)
class Run:
    wall: float          # seconds
    cpu: float           # user + system seconds of the process (and its children)
    peak_mb: float       # max RSS, MB (10^6 bytes)
    stdout: str


def child_env() -> dict[str, str]:
    """The environment of a measured process: the project importable, bytecode cached as in a normal install."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_up() -> None:
    """Compile the project's modules once (a user's installation has them compiled), outside any measurement."""
    subprocess.run([sys.executable, "-c", "import gitops.cli, gitops.assemble, gitops.diff"], env=child_env(),
                   check=True, capture_output=True)


def run(cmd: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> Run:
    """One measured process; its output goes to files, not pipes (a full pipe would block it while we wait)."""
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=child_env(), stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    if os.waitstatus_to_exitcode(status) not in ok_codes:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    # ru_maxrss is in KiB on Linux.
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / 1e6, out)


def best(values: list[float]) -> float:
    return min(values)


def median(values: list[float]) -> float:
    return statistics.median(values)


def goal_line(name: str, value: float, goal: float, unit: str, detail: str = "",
              higher_is_better: bool = False) -> tuple[str, bool]:
    """``GOAL <name>: <value> (goal <= <goal>): met|NOT met``, and whether it is met.

    Most goals are ceilings (seconds, megabytes); ``higher_is_better`` makes the
    goal a floor (``>=``), for a speed-up over another tool.
    """
    met = value >= goal if higher_is_better else value <= goal
    op = ">=" if higher_is_better else "<="
    line = f"GOAL {name}: {value:.2f} {unit} (goal {op} {goal:g} {unit}): {'met' if met else 'NOT met'}"
    return (f"{line}; {detail}" if detail else line), met


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f})"
