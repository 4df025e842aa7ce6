"""Render benchmark: N synthetic services x every stack, measured as a user runs it.

Reports, for ``render --all`` in a fresh process: files, bytes, wall time,
peak memory (max RSS of the process), the floor (plain writes of the same
bytes, no rendering), and a no-change re-render (wall time, files written).
Each figure is the median of --runs runs, each into a new directory so a
previous run's deletions do not slow the file system under the next.

    .venv/bin/python benchmarks/bench_render.py --services 1000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import make_project

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in KiB, stdout of one process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Output goes to files, not pipes: a full pipe would block the child while we wait for it.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return wall, usage.ru_maxrss, out


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
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gitops-bench-"))
    project = make_project(work / "project", args.services)
    python = sys.executable
    first, rss, again, written = [], [], [], []
    files: dict[str, bytes] = {}
    for i in range(args.runs):
        out = work / f"out-{i}"
        cmd = [python, "-m", "gitops", "render", "--all", "--out", str(out), "--output", "json"]
        wall, peak, _ = run(cmd, project)
        first.append(wall)
        rss.append(peak)
        wall2, _, report = run(cmd, project)
        again.append(wall2)
        written.append(sum(len(s["created"]) + len(s["updated"]) + len(s["deleted"]) for s in json.loads(report)["stacks"]))
        files = tree_files(out)
    floors = [floor(files, work / f"floor-{i}") for i in range(args.runs)]
    stacks = len(list(project.glob("Pulumi.*.yaml")))
    result = {
        "services": args.services,
        "stacks": stacks,
        "files": len(files),
        "bytes": sum(len(b) for b in files.values()),
        "render_seconds": round(statistics.median(first), 3),
        "peak_rss_mib": round(max(rss) / 1024, 1),
        "floor_write_seconds": round(statistics.median(floors), 3),
        "no_change_seconds": round(statistics.median(again), 3),
        "no_change_files_written": max(written),
        "no_change_speedup": round(statistics.median(first) / statistics.median(again), 1),
        "cpus": os.cpu_count(),
    }
    print(f"{args.services} services x {stacks} stacks: {result['files']} files, {result['bytes']:,} bytes")
    print(f"  render --all (whole process):  {result['render_seconds']:.2f} s, peak RSS {result['peak_rss_mib']} MiB")
    print(f"  floor (plain writes of the same bytes): {result['floor_write_seconds']:.2f} s")
    print(f"  no-change re-render: {result['no_change_seconds']:.2f} s ({result['no_change_speedup']}x faster), "
          f"{result['no_change_files_written']} files written")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
