"""A synthetic project of N services for benchmarks and scale tests.

Copies the example project's stack files and writes N service files that
exercise every renderer path (ingress, autoscaling, config, secrets, workers,
per-environment overrides), so the numbers reflect a realistic mix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEAMS = ("storefront", "checkout", "catalog", "platform", "search", "growth", "data", "identity")


def service_yaml(i: int, name: str) -> str:
    team = TEAMS[i % len(TEAMS)]
    lines = [
        f"team: {team}",
        f"description: Synthetic service number {i}",
        "image:",
        f"  tag: \"1.{i % 50}.{i % 7}\"",
    ]
    worker = i % 10 == 9
    if not worker:
        lines += [
            "ports:",
            "  - {name: http, containerPort: 8080, servicePort: 80}",
            "health:",
            "  liveness: {path: /healthz}",
            "  readiness: {path: /ready}",
        ]
    else:
        lines += ["health:", "  liveness: {command: [/app/worker, healthcheck]}"]
    lines += [
        "resources:",
        "  requests: {cpu: 100m, memory: 128Mi}",
        "  limits: {cpu: 500m, memory: 256Mi}",
        "config:",
        "  LOG_LEVEL: info",
        f"  SERVICE_INDEX: \"{i}\"",
    ]
    if i % 4 == 0 and not worker:
        lines += ["ingress:", f"  host: {name[:63]}"]
    if i % 5 == 0:
        lines += ["autoscaling:", "  minReplicas: 2", "  maxReplicas: 6"]
    if i % 6 == 0:
        lines += ["secrets: [DATABASE_PASSWORD]"]
    lines += ["environments:", "  dev:", "    config: {LOG_LEVEL: debug}", "  prod:",
              "    resources:", "      requests: {cpu: 250m, memory: 256Mi}",
              "      limits: {cpu: \"1\", memory: 512Mi}"]
    if i % 5 == 0:
        lines += ["    autoscaling: {minReplicas: 3, maxReplicas: 12}"]
    return "\n".join(lines) + "\n"


def make_project(dest: Path, services: int, name_length: int = 0) -> Path:
    """A project directory with the example stacks and ``services`` synthetic services."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in ["Pulumi.yaml", *sorted(p.name for p in ROOT.glob("Pulumi.*.yaml"))]:
        shutil.copy(ROOT / f, dest / f)
    catalog = dest / "services"
    if catalog.exists():
        shutil.rmtree(catalog)
    catalog.mkdir()
    for i in range(services):
        name = f"svc-{i:04d}"
        if name_length:
            name = (name + "-" + "x" * name_length)[:name_length]
        (catalog / f"{name}.yaml").write_text(service_yaml(i, name), encoding="utf-8")
    return dest
