"""Render benchmark: N synthetic services x every stack, measured as a user runs it.

Reports, for ``render --all`` in a fresh process: files, bytes, wall and CPU
time, peak memory (max RSS of the process), the floor (plain writes of the
same bytes, no rendering), and a no-change re-render (wall time, files
written), each next to the issue's goal (``measure``): the best of --runs
runs and the median. Each run writes new directories, so a previous run's
deletions do not slow the file system under the next.

With --cdk8s (on by default once ``make bench-cdk8s-setup`` has installed
benchmarks/cdk8s/node_modules and ``node`` is on the PATH), each run also
synthesizes the same services' Deployments and Services with cdk8s
(benchmarks/cdk8s/synth.js) right after the render, and reports the speed-up
of the render over it, for both chart layouts of synth.js (one Chart per
stack, cdk8s's fastest; one Chart per service and stack, a file per service per
environment as our tree has). The goal is checked against the faster one.

    .venv/bin/python benchmarks/bench_render.py --services 1000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure
from measure import goal_line
from synthetic import make_project

sys.path.insert(0, str(measure.ROOT))
from gitops import layout
from gitops.errors import InputError
from gitops.model import Service, Stack
from gitops.project import load_project
from gitops.render import workloads
from gitops.render.labels import is_label_value, overlay_labels

CDK8S_DIR = Path(__file__).resolve().parent / "cdk8s"
CDK8S_SETUP = "make bench-cdk8s-setup, or npm ci --prefix benchmarks/cdk8s"
# synth.js's chart layouts, the goal's (the fastest) first.
CDK8S_LAYOUTS = ("stack", "service")
CDK8S_LAYOUT_NAMES = {"stack": "a Chart per stack", "service": "a Chart per service and stack"}


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


def cdk8s_missing() -> str | None:
    """Why the cdk8s side cannot run here (None: it can): it needs node and the pinned packages installed."""
    if shutil.which("node") is None:
        return f"node is not on the PATH (install Node.js 20 or later, then {CDK8S_SETUP})"
    if not (CDK8S_DIR / "node_modules" / "cdk8s" / "package.json").is_file():
        return f"{CDK8S_DIR.relative_to(measure.ROOT)}/node_modules is not installed ({CDK8S_SETUP})"
    return None


def cdk8s_versions() -> dict[str, str]:
    """The node and cdk8s versions the figures were taken with, for the --json record."""
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    package = json.loads((CDK8S_DIR / "node_modules" / "cdk8s" / "package.json").read_text(encoding="utf-8"))
    return {"node": node, "cdk8s": str(package["version"])}


def cdk8s_spec(project_dir: Path) -> dict[str, Any]:
    """Per stack, every service's Deployment and Service as that stack deploys them, for synth.js to synthesize.

    Built by the renderer's own functions (the base's objects, the base's and
    overlay's kustomize labels), then given what the overlay sets in each
    environment: namespace, image with the stack's registry and tag, replica
    count (none when an autoscaler owns it) and the profile's resources. So
    both sides emit the same objects and nothing of the renderer is copied here.
    """
    try:
        project = load_project(project_dir)
    except InputError as exc:
        raise SystemExit(f"the synthetic project in {project_dir} does not load: {exc}") from exc
    return {"stacks": [
        {"name": stack.name, "environment": stack.environment,
         "services": [_deployed_objects(service, stack) for service in project.catalog.services]}
        for stack in project.stacks
    ]}


def _deployed_objects(service: Service, stack: Stack) -> dict[str, Any]:
    labels = [*workloads.base_labels(service), *overlay_labels(service, stack, sealed=False)]
    tag = stack.image_tag(service)
    if is_label_value(tag):   # labels.version_replacements: the tag as the version, on objects and pods
        labels.append({"pairs": {layout.LABEL_VERSION: tag}, "includeTemplates": True})
    deployment = workloads.deployment(service)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = f"{stack.registry.image(service.image_repository)}:{tag}"
    container["resources"] = service.resources.merged(service.override(stack.profile).resources).as_k8s()
    if service.autoscaling is None:
        deployment["spec"]["replicas"] = stack.replicas(service)
    objects = [deployment, *([workloads.k8s_service(service)] if service.ports else [])]
    for obj in objects:
        obj["metadata"]["namespace"] = service.namespace
        for entry in labels:   # as kustomize's labels transformer applies them
            obj["metadata"].setdefault("labels", {}).update(entry["pairs"])
            if entry["includeTemplates"] and "template" in obj["spec"]:
                obj["spec"]["template"]["metadata"]["labels"].update(entry["pairs"])
    return {"name": service.name, "objects": objects}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="where the project and trees go (default: the temporary "
                        "directory); the trees are removed at the end unless --keep")
    parser.add_argument("--keep", action="store_true", help="keep the project and the trees")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--cdk8s", action=argparse.BooleanOptionalAction, default=None,
                        help="also synthesize the same Deployments and Services with cdk8s in each run and report "
                        f"the speed-up (default: on when node and benchmarks/cdk8s/node_modules are there; {CDK8S_SETUP})")
    args = parser.parse_args()
    missing = cdk8s_missing()
    if args.cdk8s and missing:
        parser.error(f"--cdk8s: {missing}")
    with_cdk8s = missing is None if args.cdk8s is None else args.cdk8s
    if args.cdk8s is None and missing:
        print(f"cdk8s comparison skipped: {missing}")

    work = Path(tempfile.mkdtemp(prefix="gitops-bench-", dir=args.workdir))
    try:
        result = measure_render(work, args.services, args.runs, with_cdk8s)
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
    if "cdk8s" in result:
        versions = result["cdk8s"]["versions"]
        layouts = result["cdk8s"]["layouts"]
        for name, c in layouts.items():
            print(f"  cdk8s {versions['cdk8s']} (node {versions['node']}) synth of the Deployments and Services, "
                  f"{CDK8S_LAYOUT_NAMES[name]}: {c['seconds']:.2f} s ({c['seconds_median']:.2f}), "
                  f"CPU {c['cpu_seconds']:.2f} s, peak RSS {c['peak_mb']:.0f} MB, {c['files']:,} files, "
                  f"{c['bytes']:,} bytes; cdk8s / render {c['speedup']:.1f}x")
        fastest = min(layouts, key=lambda name: layouts[name]["seconds"])
        c = layouts[fastest]
        lines.append(goal_line("speed-up vs cdk8s", c["speedup"], measure.CDK8S_SPEEDUP, "x",
                               f"cdk8s ({CDK8S_LAYOUT_NAMES[fastest]}) best {c['seconds']:.2f} s / render best "
                               f"{result['render_seconds']:.2f} s", higher_is_better=True))
    for line, _ in lines:
        print(line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def measure_render(work: Path, services: int, runs: int, with_cdk8s: bool = False) -> dict[str, Any]:
    """Per run: a render into a new tree, a no-change re-render of it, plain writes of its files into another.

    Each run writes new directories (a previous run's deletions would slow the
    file system under the next); the three are interleaved so that the render
    and the floor see the file system in the same state. ``with_cdk8s``: a cdk8s
    synth of the same services' Deployments and Services follows each render,
    into a new directory too, so both sides see the same load.
    """
    project = make_project(work / "project", services)
    measure.warm_up()
    spec = work / "cdk8s-spec.json"
    synth_cmd = ["node", str(CDK8S_DIR / "synth.js"), str(spec)]
    if with_cdk8s:
        spec.write_text(json.dumps(cdk8s_spec(project)), encoding="utf-8")
        # Outside any measurement, as warm_up is for Python: node and cdk8s read once into the page cache.
        measure.run(["node", "-e", "require('cdk8s')"], CDK8S_DIR)
    synths: dict[str, list[measure.Run]] = {name: [] for name in CDK8S_LAYOUTS}
    renders: list[measure.Run] = []
    again: list[measure.Run] = []
    floors: list[float] = []
    written: list[int] = []
    files: dict[str, bytes] = {}
    for i in range(runs):
        out = work / f"out-{i}"
        cmd = [sys.executable, "-m", "gitops", "render", "--all", "--out", str(out), "--output", "json"]
        renders.append(measure.run(cmd, project))
        if with_cdk8s:
            for name in CDK8S_LAYOUTS:
                synths[name].append(measure.run([*synth_cmd, str(work / f"cdk8s-{name}-{i}"), name], CDK8S_DIR))
        again.append(measure.run(cmd, project))
        report = json.loads(again[-1].stdout)
        written.append(sum(len(s["created"]) + len(s["updated"]) + len(s["deleted"]) for s in report["stacks"]))
        files = tree_files(out)
        floors.append(floor(files, work / f"floor-{i}"))
    render_walls = [r.wall for r in renders]
    result: dict[str, Any] = {
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
    if with_cdk8s:
        result["cdk8s"] = {"versions": cdk8s_versions(), "layouts": {
            name: _synth_result(synths[name], tree_files(work / f"cdk8s-{name}-{runs - 1}"), render_walls)
            for name in CDK8S_LAYOUTS}}
    return result


def _synth_result(runs: list[measure.Run], files: dict[str, bytes], render_walls: list[float]) -> dict[str, Any]:
    walls = [r.wall for r in runs]
    return {
        "seconds": round(measure.best(walls), 3),
        "seconds_median": round(measure.median(walls), 3),
        "cpu_seconds": round(measure.best([r.cpu for r in runs]), 3),
        "peak_mb": round(max(r.peak_mb for r in runs), 1),
        "files": len(files),
        "bytes": sum(len(b) for b in files.values()),
        # Best over best, as for the floor: each side at its least disturbed.
        "speedup": round(measure.best(walls) / measure.best(render_walls), 2),
    }


if __name__ == "__main__":
    main()
