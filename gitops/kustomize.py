"""``kubectl kustomize`` as a function: the builds every check relies on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import InputError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BUILD_TIMEOUT_SECONDS = 120
_KLOG = re.compile(r'"command failed" err="(.*)"\s*$', re.S)


@dataclass(frozen=True)
class Build:
    directory: str     # relative to the tree root
    ok: bool
    output: str        # the YAML stream on success, the error text otherwise


def find_roots(tree: Path) -> list[str]:
    """Every directory with a kustomization, hidden directories skipped (Argo CD does the same)."""
    roots = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if any(name in filenames for name in KUSTOMIZATION_FILES):
            rel = Path(dirpath).relative_to(tree).as_posix()
            roots.append(rel)
    return sorted(roots)


def kubectl_path(kubectl: str) -> str:
    found = shutil.which(kubectl)
    if not found:
        raise InputError(f"{kubectl!r} not found on PATH; install kubectl (with kustomize v5) or pass --kubectl")
    return found


def build(tree: Path, directory: str, kubectl: str) -> Build:
    try:
        proc = subprocess.run(
            [kubectl, "kustomize", str(tree / directory)],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False,
            env={**os.environ, "KUBECONFIG": os.devnull},
        )
    except subprocess.TimeoutExpired:
        return Build(directory, False, f"timed out after {BUILD_TIMEOUT_SECONDS}s")
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().replace(str(tree) + "/", "")
        # kubectl wraps the kustomize error in a klog line: keep the error itself.
        match = _KLOG.search(message)
        return Build(directory, False, match.group(1).replace('\\"', '"') if match else message)
    return Build(directory, True, proc.stdout)


def build_many(tree: Path, directories: Sequence[str], kubectl: str, jobs: int) -> list[Build]:
    """Builds in parallel (each is a separate process), results in input order."""
    path = kubectl_path(kubectl)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda d: build(tree, d, path), directories))
