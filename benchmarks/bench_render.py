"""Render benchmark: N synthetic services x every stack, measured as a user runs it.

Reports, for ``render --all`` in a fresh process: files, bytes, wall and CPU
time, peak memory (max RSS of the process), the floor (plain writes of the
same bytes, no rendering), and a no-change re-render (wall time, files
written), each next to the issue's goal (``measure``): the best of --runs
runs and the median. Each run writes new directories, so a previous run's
deletions do not slow the file system under the next.

    .venv/bin/python benchmarks/bench_render.py --services 1000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure
from measure import goal_line
from synthetic import make_project


def tree_files(root: Path) -> dict[str, bytes]:
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".gitops-platform"]
        for name in filenames:
            path = Path(dirpath) / name
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


def floor(files: dict[str, bytes], dest: Path) -> float:
    start = time.perf_counter()
    for rel, data in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="where the project and trees go (default: the temporary "
                        "directory); the trees are removed at the end unless --keep")
    parser.add_argument("--keep", action="store_true", help="keep the project and the trees")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gitops-bench-", dir=args.workdir))
    try:
        result = measure_render(work, args.services, args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{args.services} services x {result['stacks']} stacks: {result['files']:,} files, {result['bytes']:,} bytes; "
          f"best of {args.runs} runs (median), {result['load']}")
    print(f"  render --all (whole process): {result['render_seconds']:.2f} s ({result['render_seconds_median']:.2f}), "
          f"CPU {result['render_cpu_seconds']:.2f} s, peak RSS {result['peak_mb']:.0f} MB")
    print(f"  floor (plain writes of the same files): {result['floor_seconds']:.2f} s "
          f"({result['floor_seconds_median']:.2f}); render / floor {result['floor_ratio']:.1f}x")
    print(f"  no-change re-render: {result['no_change_seconds']:.2f} s ({result['no_change_seconds_median']:.2f}), "
          f"CPU {result['no_change_cpu_seconds']:.2f} s, {result['no_change_files_written']} files written")
    lines = [
        goal_line("render", result["render_seconds"], measure.RENDER_SECONDS, "s",
                  f"{result['files']:,} files, CPU {result['render_cpu_seconds']:.2f} s"),
        goal_line("render/floor", result["floor_ratio"], measure.FLOOR_RATIO, "x",
                  f"plain writes of the same files {result['floor_seconds']:.2f} s"),
        goal_line("no-change render", result["no_change_seconds"], measure.NO_CHANGE_SECONDS, "s",
                  f"{result['no_change_files_written']} files written"),
        goal_line("render peak memory", result["peak_mb"], measure.PEAK_MB, "MB"),
    ]
    for line, _ in lines:
        print(line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def measure_render(work: Path, services: int, runs: int) -> dict[str, Any]:
    """Per run: a render into a new tree, a no-change re-render of it, plain writes of its files into another.

    Each run writes new directories (a previous run's deletions would slow the
    file system under the next); the three are interleaved so that the render
    and the floor see the file system in the same state.
    """
    project = make_project(work / "project", services)
    measure.warm_up()
    renders: list[measure.Run] = []
    again: list[measure.Run] = []
    floors: list[float] = []
    written: list[int] = []
    files: dict[str, bytes] = {}
    for i in range(runs):
        out = work / f"out-{i}"
        cmd = [sys.executable, "-m", "gitops", "render", "--all", "--out", str(out), "--output", "json"]
        renders.append(measure.run(cmd, project))
        again.append(measure.run(cmd, project))
        report = json.loads(again[-1].stdout)
        written.append(sum(len(s["created"]) + len(s["updated"]) + len(s["deleted"]) for s in report["stacks"]))
        files = tree_files(out)
        floors.append(floor(files, work / f"floor-{i}"))
    render_walls = [r.wall for r in renders]
    return {
        "services": services,
        "stacks": len(list(project.glob("Pulumi.*.yaml"))),
        "files": len(files),
        "bytes": sum(len(b) for b in files.values()),
        "runs": runs,
        "render_seconds": round(measure.best(render_walls), 3),
        "render_seconds_median": round(measure.median(render_walls), 3),
        "render_cpu_seconds": round(measure.best([r.cpu for r in renders]), 3),
        "peak_mb": round(max(r.peak_mb for r in [*renders, *again]), 1),
        "floor_seconds": round(measure.best(floors), 3),
        "floor_seconds_median": round(measure.median(floors), 3),
        # The best render over the best floor: both at their least disturbed.
        "floor_ratio": round(measure.best(render_walls) / measure.best(floors), 2),
        "no_change_seconds": round(measure.best([r.wall for r in again]), 3),
        "no_change_seconds_median": round(measure.median([r.wall for r in again]), 3),
        "no_change_cpu_seconds": round(measure.best([r.cpu for r in again]), 3),
        "no_change_files_written": max(written),
        "cpus": os.cpu_count(),
        "load": measure.load_average(),
    }


if __name__ == "__main__":
    main()
