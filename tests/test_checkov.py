"""Security scan of what the clusters run: checkov's Kubernetes checks over every
built overlay of the rendered example.

checkov lives in its own virtual environment (``.venv-checkov``, see the
Makefile): its pins (``packaging<24``) cannot be installed next to the
project's (Pulumi needs ``packaging>=26``). Without it this module is skipped.

One checkov run over all overlays (``apps/<service>/overlays/<env>``, each built
with ``kubectl kustomize`` into one file). ``argocd/<env>/`` holds only Argo CD
custom resources, which checkov has no checks for, so it is not scanned.

- Every failing check must be listed in ``JUSTIFIED`` with the reason it is
  accepted (docs/hardening.md lists the same reasons): a new failure fails the test,
  and so does an entry whose check no longer fails.
- The pass rate over the applicable checks must stay at or above 95 %.
  Applicable: every check except those about control-plane binaries
  (kube-apiserver, controller-manager, scheduler, etcd, kubelet flags), which
  look only at containers running those binaries and so pass vacuously on
  every workload; counting them would hide real failures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
MIN_PASS_RATE = 0.95

pytestmark = [
    pytest.mark.skipif(
        not CHECKOV.is_file(),
        reason=f"checkov is not installed: {CHECKOV.relative_to(REPO_ROOT)} is missing "
               "(`make checkov` creates .venv-checkov with the pinned checkov)",
    ),
    pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required"),
]

# check id -> why the failure is accepted. The same text goes into docs/hardening.md (Manifests).
JUSTIFIED: dict[str, str] = {
    "CKV_K8S_43": (
        "Images are pinned by release tag, not digest: the Image Updater (semver constraint) and "
        "`promote` write tags, and the registry's tags are immutable (`registry.immutableTags`, "
        "required by prod), so a tag names exactly one image."
    ),
    "CKV_K8S_35": (
        "Secrets reach containers as environment variables by contract (catalog `secrets[]`, read "
        "from the SealedSecret-managed `<service>-secrets`); no value is in the manifests, and files "
        "would change how every service reads its configuration."
    ),
}

# Checks of control-plane component flags (by checkov class name): never applicable to workloads.
CONTROL_PLANE_CHECK = re.compile(
    r"\.(ApiServer|KubeController|ControllerManager|Scheduler|Etcd|PeerClientCertAuth|Kubelet|Kublet"
    r"|RotateKubeletServerCertificate)\w*$"
)


def _build(overlay: Path) -> tuple[Path, str]:
    proc = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    assert proc.returncode == 0, f"kubectl kustomize {overlay} failed:\n{proc.stderr}"
    return overlay, proc.stdout


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example rendered, every overlay built into one file, and checkov's report over all of them."""
    from gitops.cli import main

    root = tmp_path_factory.mktemp("checkov")
    tree, built = root / "repo", root / "built"
    assert main(["render", "--all", "--out", str(tree), "--project", str(REPO_ROOT)]) == 0
    overlays = sorted(tree.glob("apps/*/overlays/*"))
    assert overlays, "the example rendered no overlay"
    built.mkdir()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for overlay, manifest in pool.map(_build, overlays):
            # <service>.<environment>.yaml: neither name can contain a dot.
            (built / f"{overlay.parent.parent.name}.{overlay.name}.yaml").write_text(manifest)

    proc = subprocess.run(
        [str(CHECKOV), "--framework", "kubernetes", "--directory", str(built), "--output", "json",
         "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=600, check=False, cwd=root,
        # Offline: no update check (--skip-download covers the platform's mappings).
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    # 0: everything passed, 1: some check failed; anything else is checkov itself failing.
    assert proc.returncode in (0, 1), f"checkov exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout)
    if isinstance(report, list):  # one entry per framework when there are several
        report = next(r for r in report if r.get("check_type") == "kubernetes")
    return {"report": report, "files": sorted(p.name for p in built.iterdir())}


def _checks(scan: dict[str, Any], outcome: str) -> list[dict[str, Any]]:
    return scan["report"].get("results", {}).get(f"{outcome}_checks", [])


def _applicable(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in checks if not CONTROL_PLANE_CHECK.search(c.get("check_class") or "")]


def _describe(failed: list[dict[str, Any]], ids: set[str]) -> str:
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in failed:
        if c["check_id"] in ids:
            by_id[c["check_id"]].append(c)
    lines = []
    for check_id, checks in sorted(by_id.items()):
        # Pod resources carry their labels in the name: kind.namespace.name is enough.
        resources = sorted({f"{Path(c['file_path']).name}: {'.'.join(c['resource'].split('.')[:3])}"
                            for c in checks})
        lines.append(f"{check_id} {checks[0]['check_name']} ({len(checks)} failures), e.g. "
                     + "; ".join(resources[:3]))
    return "\n".join(lines)


def test_every_overlay_passes_checkov_or_the_failure_is_justified(scan: dict[str, Any]) -> None:
    """One test, so that one checkov run serves it even when pytest-xdist spreads the suite."""
    report = scan["report"]
    version = report["summary"].get("checkov_version")
    assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")
    passed, failed = _checks(scan, "passed"), _checks(scan, "failed")
    scanned = {Path(c["file_path"]).name for c in passed + failed}
    assert scanned == set(scan["files"]), f"checkov did not scan: {sorted(set(scan['files']) - scanned)}"

    problems = []
    unjustified = {c["check_id"] for c in failed} - JUSTIFIED.keys()
    if unjustified:
        problems.append("failing checks with no entry in JUSTIFIED (fix the renderer, or justify the check "
                        f"here and in docs/hardening.md):\n{_describe(failed, unjustified)}")
    stale = JUSTIFIED.keys() - {c["check_id"] for c in failed}
    if stale:
        problems.append(f"justified checks that pass now (remove them here and in docs/hardening.md): {sorted(stale)}")
    applicable_passed, applicable_failed = _applicable(passed), _applicable(failed)
    assert applicable_passed or applicable_failed, "checkov ran no applicable check"
    rate = len(applicable_passed) / (len(applicable_passed) + len(applicable_failed))
    if rate < MIN_PASS_RATE:
        counts = Counter(c["check_id"] for c in applicable_failed)
        problems.append(
            f"pass rate over applicable checks {rate:.2%} < {MIN_PASS_RATE:.0%} ({len(applicable_passed)} passed, "
            f"{len(applicable_failed)} failed: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()) + ")")
    assert not problems, f"checkov {version}:\n" + "\n".join(problems)
