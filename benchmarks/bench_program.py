"""The Pulumi program under the SDK's mocks for one stack with N synthetic services.

Each measurement runs in a fresh process: build the stack config as the engine
would, install the mocks, run ``__main__.py`` to completion (config, render,
every registration and output). Reports the wall time of the run (imports
reported apart), the registrations in all, and the registrations per service,
measured as the difference between N services and a small catalog so the
fixed part (cluster, network, charts) is not counted against services.

    .venv/bin/python benchmarks/bench_program.py --services 1000 --stack dev --runs 3

The default stack is dev because it owns the registry: 3 ECR resources per
service plus the service's GitOps resource, the most any stack registers.

The goal (docs/benchmarks.md): at most 10 s median for 1000 services on the
2-core reference machine; the figure is printed next to it. The run's CPU time
and the load average are reported too, since the machine is often shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import PEAK_MB, goal_line  # noqa: E402

SMALL = 10
GOAL_SERVICES = 1000
GOAL_SECONDS = 10.0   # median run time for GOAL_SERVICES services


def child(project: Path, stack: str) -> dict[str, float]:
    """Runs in the measured process."""
    started = time.perf_counter()
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    import runpy

    import pulumi

    from pulumi_harness import RecordingMocks, RecordingMonitor, engine_config, secret_values

    imported = time.perf_counter()
    cpu_started = time.process_time()
    config, secret = engine_config(project, stack)
    # A value for every declared secret, as `pulumi config set --secret --path` would give them: every
    # sixth synthetic service has one, so the run includes sealing.
    config["gitops-platform:secrets"] = json.dumps(secret_values(project))
    pulumi.runtime.set_all_config(config, [*secret, "gitops-platform:secrets"])
    mocks = RecordingMocks(account_id=config["gitops-platform:awsAccountId"])
    pulumi.runtime.set_mocks(mocks, project="gitops-platform", stack=stack, preview=False,
                             monitor=RecordingMonitor(mocks))

    def run() -> None:
        runpy.run_path(str(project / "__main__.py"), run_name="__main__")

    pulumi.runtime.test(run)()   # runs the program and waits for every registration
    done = time.perf_counter()
    return {"imports": imported - started, "run": done - imported, "run_cpu": time.process_time() - cpu_started,
            "registrations": len(mocks.registrations),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6}   # ru_maxrss: KiB


def measure(services: int, stack: str) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from synthetic import make_project

    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp) / "project", services)
        shutil.copyfile(ROOT / "__main__.py", project / "__main__.py")
        proc = subprocess.run([sys.executable, __file__, "--child", str(project), "--stack", stack],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"program failed for {services} services:\n{proc.stderr[-3000:]}")
        result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.stack)))
        return
    load_before = os.getloadavg()[0]
    small = measure(SMALL, args.stack)
    runs = [measure(args.services, args.stack) for _ in range(args.runs)]
    total = runs[0]["registrations"]
    per_service = (total - small["registrations"]) / (args.services - SMALL)
    median = statistics.median(r["run"] for r in runs)
    print(json.dumps({
        "stack": args.stack,
        "services": args.services,
        "runs": args.runs,
        "run_seconds_median": round(median, 2),
        "run_seconds_max": round(max(r["run"] for r in runs), 2),
        "run_seconds_all": [round(r["run"], 2) for r in runs],
        "run_cpu_seconds_median": round(statistics.median(r["run_cpu"] for r in runs), 2),
        "import_seconds_median": round(statistics.median(r["imports"] for r in runs), 2),
        "registrations": total,
        "fixed_registrations": round(small["registrations"] - SMALL * per_service),
        "registrations_per_service": round(per_service, 2),
        "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }, indent=1))
    goal = f"goal <= {GOAL_SECONDS:g}" if args.services == GOAL_SERVICES else f"goal <= {GOAL_SECONDS:g} at {GOAL_SERVICES} services"
    print(f"run_seconds_median {median:.1f} ({goal})")
    best = min(r["run"] for r in runs)
    for line, _ in (goal_line("program", best, GOAL_SECONDS, "s", f"best of {args.runs} (median {median:.2f} s), "
                              f"CPU {min(r['run_cpu'] for r in runs):.2f} s, {args.services} services, stack {args.stack}"),
                    goal_line("program peak memory", max(r["peak_mb"] for r in runs), PEAK_MB, "MB")):
        print(line)


if __name__ == "__main__":
    main()
