"""``diff`` on the example catalog with one changed service, as CI runs it (fresh process each time).

    .venv/bin/python benchmarks/bench_diff.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
                   check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "project"
        repo.mkdir()
        for f in ROOT.glob("Pulumi*.yaml"):
            shutil.copyfile(f, repo / f.name)
        shutil.copytree(ROOT / "services", repo / "services")
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "base")
        service = repo / "services" / "catalog.yaml"
        service.write_text(service.read_text().replace('CACHE_TTL_SECONDS: "300"', 'CACHE_TTL_SECONDS: "600"'))
        times, report = [], {}
        for _ in range(args.runs):
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "gitops", "diff", "--base", "HEAD", "--project", str(repo),
                                   "--output", "json"], cwd=ROOT, capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - started)
            if proc.returncode not in (0, 1):
                raise SystemExit(proc.stderr)
            report = json.loads(proc.stdout)
    print(json.dumps({
        "runs": args.runs,
        "seconds_median": round(statistics.median(times), 2),
        "seconds_max": round(max(times), 2),
        "applications_changed": sum(1 for a in report["applications"] if a["change"] == "changed"),
        "files_changed": len(report["files"]),
    }, indent=1))


if __name__ == "__main__":
    main()
