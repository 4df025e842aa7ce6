"""``diff`` of one changed service in an N-service project, as CI runs it (a fresh process each time).

A synthetic project (``synthetic.make_project``) is committed to a new Git
repository, one service's config is changed in the working tree, and
``diff --base HEAD`` compares the two: both revisions rendered, the
Applications expanded, the changed ones built with kustomize. The figure is
the best of --runs runs (and the median) next to the goal, with its CPU time
and peak memory.

    .venv/bin/python benchmarks/bench_diff.py --services 1000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure
from measure import goal_line
from synthetic import make_project

CHANGED = "svc-0001"   # a service with ports and config, in every stack


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
                   check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="where the project goes (default: the temporary directory)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gitops-bench-diff-", dir=args.workdir))
    try:
        repo = make_project(work / "project", args.services)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "base")
        service = repo / "services" / f"{CHANGED}.yaml"
        service.write_text(service.read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: warn"))
        measure.warm_up()
        cmd = [sys.executable, "-m", "gitops", "diff", "--base", "HEAD", "--project", str(repo), "--output", "json"]
        runs = [measure.run(cmd, measure.ROOT, ok_codes=(0, 1)) for _ in range(args.runs)]
        report = json.loads(runs[-1].stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = measure.best([r.wall for r in runs])
    applications = sum(1 for a in report["applications"] if a["change"] == "changed")
    print(f"diff, {args.services} services, {CHANGED} changed: {seconds:.2f} s best of {args.runs} "
          f"(median {measure.median([r.wall for r in runs]):.2f} s), CPU {measure.best([r.cpu for r in runs]):.2f} s; "
          f"{applications} Applications and {len(report['files'])} files changed; {measure.load_average()}")
    for line, _ in (goal_line("diff", seconds, measure.DIFF_SECONDS, "s", f"{args.services} services"),
                    goal_line("diff peak memory", max(r.peak_mb for r in runs), measure.PEAK_MB, "MB")):
        print(line)


if __name__ == "__main__":
    main()
