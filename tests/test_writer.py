"""Rendering into a directory through the CLI: ``render --all --out DIR --project PROJ``.

The tree is a repository people also edit, so the writer must write only what
it owns, never touch what it did not write, and change nothing on a no-change
render or on any error.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

STATE = ".gitops-platform/"
CACHE = ".gitops-platform/cache/"   # local render cache, git-ignored: not part of the tree's content
STACKS = ("dev", "prod", "staging")

FOREIGN = {
    "README.md": b"# Our GitOps repository\n",
    "apps/payments/overlays/dev/.argocd-source-payments-dev.yaml": b"helm:\n  parameters: []\n",
    "apps/notes.txt": b"written by a person\n",
}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "gitops-repo"


@pytest.fixture
def render(run, project: Path, out: Path):
    """``render("--all", ...)`` into ``out``; asserts the exit code (``code=``, default 0)."""
    def _render(*argv: str, code: int = 0):
        result = run("render", *argv, "--project", project, "--out", out)
        assert result.code == code, result.err
        return result
    return _render


@pytest.fixture
def render_json(render):
    """The ``--output json`` report as {stack: {"created": [...], "updated": [...], "deleted": [...], ...}}."""
    def _render_json(*argv: str) -> dict[str, dict[str, Any]]:
        doc = json.loads(render(*argv, "--output", "json").out)
        return {s["stack"]: s for s in doc["stacks"]}
    return _render_json


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: {old!r} is not there exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def stat_tree(root: Path, snapshot, exclude: str | None = None) -> dict[str, tuple[bytes, int]]:
    """{path: (bytes, mtime_ns)} of every file, leaving out paths starting with ``exclude``."""
    return {p: (data, (root / p).stat().st_mtime_ns) for p, data in snapshot(root).items()
            if exclude is None or not p.startswith(exclude)}


def add_foreign_files(out: Path) -> None:
    for path, data in FOREIGN.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(data)


def under(snapshot: dict[str, bytes], prefix: str) -> list[str]:
    return sorted(p for p in snapshot if p.startswith(prefix))


def remove_payments(project: Path) -> None:
    (project / "services/payments.yaml").unlink()


def changes(report: dict[str, dict[str, Any]]) -> dict[str, tuple[list[str], list[str], list[str]]]:
    return {s: (r["created"], r["updated"], r["deleted"]) for s, r in report.items()}


def changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


# --- determinism and no-change renders ------------------------------------------------------------
def test_rendering_twice_gives_byte_identical_trees(run, project, tmp_path, snapshot) -> None:
    trees = []
    for name in ("first", "second"):
        assert run("render", "--all", "--project", project, "--out", tmp_path / name).code == 0
        trees.append({p: d for p, d in snapshot(tmp_path / name).items() if not p.startswith(CACHE)})
    assert len(trees[0]) > 100
    assert trees[0] == trees[1]


def test_a_no_change_rerender_reports_nothing_created_updated_or_deleted(render, render_json) -> None:
    render("--all")
    report = render_json("--all")
    assert sorted(report) == list(STACKS)
    assert changes(report) == {s: ([], [], []) for s in STACKS}
    assert all(r["unchanged"] > 0 for r in report.values())


def test_a_no_change_rerender_modifies_no_file(render, out, snapshot) -> None:
    render("--all")
    before = stat_tree(out, snapshot)
    render("--all")
    assert stat_tree(out, snapshot) == before


def test_a_no_change_rerender_without_the_render_cache_modifies_no_file_of_the_tree(render, out, snapshot) -> None:
    render("--all")
    shutil.rmtree(out / CACHE, ignore_errors=True)  # force the full plan-and-compare path
    before = stat_tree(out, snapshot, exclude=CACHE)
    render("--all")
    assert stat_tree(out, snapshot, exclude=CACHE) == before


# --- files the tool did not write ---------------------------------------------------------------------
def test_files_the_tool_did_not_write_survive_a_render(render, render_json, project, out, snapshot) -> None:
    render("--all")
    add_foreign_files(out)
    edit(project / "services/payments.yaml", 'tag: "1.4.2"', 'tag: "1.4.3"')
    assert any(r["updated"] for r in render_json("--all").values())
    tree = snapshot(out)
    assert {p: tree.get(p) for p in FOREIGN} == FOREIGN


def test_files_the_tool_did_not_write_survive_removing_a_service(render, project, out, snapshot) -> None:
    render("--all")
    add_foreign_files(out)
    remove_payments(project)
    render("--all")
    tree = snapshot(out)
    assert {p: tree.get(p) for p in FOREIGN} == FOREIGN


# --- removing a service ----------------------------------------------------------------------------------
def test_removing_a_service_deletes_its_overlay_files(render, project, out, snapshot) -> None:
    render("--all")
    assert len(under(snapshot(out), "apps/payments/overlays/")) > 3
    remove_payments(project)
    render("--all")
    assert under(snapshot(out), "apps/payments/overlays/") == []


def test_removing_a_service_removes_the_directories_it_emptied(render, project, out) -> None:
    render("--all")
    remove_payments(project)
    render("--all")
    assert not (out / "apps/payments/overlays").exists()


def test_removing_a_service_keeps_a_directory_holding_a_foreign_file(render, project, out, snapshot) -> None:
    render("--all")
    add_foreign_files(out)
    remove_payments(project)
    render("--all")
    assert under(snapshot(out), "apps/payments/overlays/") == ["apps/payments/overlays/dev/.argocd-source-payments-dev.yaml"]
    assert sorted(p.name for p in (out / "apps/payments/overlays").iterdir()) == ["dev"]


def test_a_removed_services_base_is_kept_while_another_stack_still_records_it(render, project, out, snapshot) -> None:
    render("--all")
    base = under(snapshot(out), "apps/payments/base/")
    remove_payments(project)
    render("--stack", "dev")
    render("--stack", "staging")
    assert under(snapshot(out), "apps/payments/base/") == base
    assert "apps/payments/base/deployment.yaml" in json.loads((out / STATE / "prod.json").read_text())["files"]


def test_the_last_stack_recording_a_removed_services_base_deletes_it(render, project, out) -> None:
    render("--all")
    remove_payments(project)
    for stack in STACKS:
        render("--stack", stack)
    assert not (out / "apps/payments").exists()


def test_removing_a_service_and_rendering_all_stacks_deletes_its_base_files(render, project, out, snapshot) -> None:
    render("--all")
    remove_payments(project)
    render("--all")
    render("--all")
    assert under(snapshot(out), "apps/payments/") == []


# --- hand edits and foreign files at owned paths ------------------------------------------------------------
HAND_EDITED = "apps/payments/overlays/prod/kustomization.yaml"


@pytest.fixture
def hand_edited(render, project, out) -> bytes:
    """A rendered tree with one owned file edited by hand and a pending catalog change; the file's rendered bytes."""
    render("--all")
    rendered = (out / HAND_EDITED).read_bytes()
    (out / HAND_EDITED).write_bytes(rendered + b"# tuned by hand\n")
    edit(project / "services/cart.yaml", 'tag: "4.1.0"', 'tag: "4.1.1"')
    return rendered


def test_a_hand_edited_owned_file_stops_the_render_naming_the_file(render, hand_edited, out) -> None:
    result = render("--all", code=2)
    assert result.err.startswith(f"Error: {out / HAND_EDITED}: was edited by hand"), result.err
    assert "--force" in result.err


def test_a_render_stopped_by_a_hand_edit_changes_nothing(render, hand_edited, out, snapshot) -> None:
    before = stat_tree(out, snapshot)
    render("--all", code=2)
    assert stat_tree(out, snapshot) == before


def test_a_hand_edit_stops_the_render_even_when_no_input_changed(render, out) -> None:
    render("--all")
    (out / HAND_EDITED).write_bytes((out / HAND_EDITED).read_bytes() + b"# tuned by hand\n")
    result = render("--all", code=2)
    assert f"{out / HAND_EDITED}: was edited by hand" in result.err


def test_an_owned_file_deleted_by_hand_is_restored_by_a_no_change_render(render, out) -> None:
    render("--all")
    rendered = (out / HAND_EDITED).read_bytes()
    (out / HAND_EDITED).unlink()
    render("--all")
    assert (out / HAND_EDITED).read_bytes() == rendered


def test_force_overwrites_a_hand_edited_owned_file(render, hand_edited, out) -> None:
    render("--all", "--force")
    assert (out / HAND_EDITED).read_bytes() == hand_edited


FOREIGN_AT_OWNED_PATH = "apps/payments/base/deployment.yaml"


@pytest.fixture
def foreign_at_owned_path(out: Path) -> bytes:
    data = b"# a person's own deployment\nkind: Deployment\n"
    (out / FOREIGN_AT_OWNED_PATH).parent.mkdir(parents=True)
    (out / FOREIGN_AT_OWNED_PATH).write_bytes(data)
    return data


def test_a_foreign_file_at_a_path_the_tool_writes_stops_the_render_and_survives(
        render, out, snapshot, foreign_at_owned_path) -> None:
    result = render("--all", code=2)
    assert result.err.startswith(f"Error: {out / FOREIGN_AT_OWNED_PATH}: exists but was not written by gitops-platform")
    assert snapshot(out) == {FOREIGN_AT_OWNED_PATH: foreign_at_owned_path}


def test_force_does_not_overwrite_a_foreign_file(render, out, snapshot, foreign_at_owned_path) -> None:
    result = render("--all", "--force", code=2)
    assert str(out / FOREIGN_AT_OWNED_PATH) in result.err
    assert snapshot(out) == {FOREIGN_AT_OWNED_PATH: foreign_at_owned_path}


def test_a_hand_edit_that_keeps_size_and_mtime_is_still_detected(render, out) -> None:
    render("--all")
    path = out / HAND_EDITED
    stat = path.stat()
    data = path.read_bytes()
    assert b"payments" in data
    path.write_bytes(data.replace(b"payments", b"paymentz", 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    render("--all", code=2)


# --- dry run -----------------------------------------------------------------------------------------------
def test_a_dry_run_does_not_create_the_output_directory(render, out) -> None:
    render("--all", "--dry-run")
    assert not out.exists()


def test_a_dry_run_leaves_an_existing_tree_untouched(render, project, out, snapshot) -> None:
    render("--all")
    remove_payments(project)
    edit(project / "services/cart.yaml", 'tag: "4.1.0"', 'tag: "4.1.1"')
    before = stat_tree(out, snapshot)
    render("--all", "--dry-run")
    assert stat_tree(out, snapshot) == before


def test_a_dry_run_reports_what_the_render_then_does(render, render_json, project) -> None:
    render("--all")
    remove_payments(project)
    edit(project / "services/cart.yaml", 'tag: "4.1.0"', 'tag: "4.1.1"')
    would = changes(render_json("--all", "--dry-run"))
    did = changes(render_json("--all"))
    assert would == did
    assert all(updated and deleted for _, updated, deleted in did.values())


# --- what a change touches -------------------------------------------------------------------------------
def test_changing_a_prod_override_changes_only_that_services_prod_overlay(render, project, out, snapshot) -> None:
    render("--all")
    before = stat_tree(out, snapshot, exclude=STATE)
    edit(project / "services/payments.yaml", "autoscaling: {minReplicas: 3, maxReplicas: 12}",
         "autoscaling: {minReplicas: 3, maxReplicas: 14}")
    render("--all")
    touched = changed(before, stat_tree(out, snapshot, exclude=STATE))
    assert touched
    # Besides payments' prod overlay, only its namespace's quota (held in cart's overlay, first by name) changes.
    assert sorted(p for p in touched if not p.startswith("apps/payments/overlays/prod/")) == [
        "apps/cart/overlays/prod/resourcequota.yaml"]


def test_rendering_one_stack_writes_only_the_base_its_overlays_and_its_argocd_directory(render, out, snapshot) -> None:
    render("--stack", "dev")
    written = snapshot(out)

    def area(path: str) -> str:
        parts = path.split("/")
        if path.startswith(STATE):
            return "state"
        if parts[0] == "apps" and parts[2:3] == ["base"]:
            return "base"
        if parts[0] == "apps" and parts[2:4] == ["overlays", "dev"]:
            return "overlays/dev"
        if parts[:2] == ["argocd", "dev"]:
            return "argocd/dev"
        return path

    assert {area(p) for p in written} == {"state", "base", "overlays/dev", "argocd/dev"}


# --- ownership records -------------------------------------------------------------------------------------
def record_files(out: Path, stack: str) -> dict[str, str]:
    return json.loads((out / STATE / f"{stack}.json").read_text(encoding="utf-8"))["files"]


def test_the_ownership_record_lists_exactly_the_files_the_stack_wrote(render, out, snapshot) -> None:
    render("--stack", "dev")
    tree = {p: d for p, d in snapshot(out).items() if not p.startswith(STATE)}
    assert record_files(out, "dev") == {p: hashlib.sha256(d).hexdigest() for p, d in tree.items()}


def test_with_all_stacks_each_record_lists_exactly_that_stacks_files(run, render, project, out, tmp_path, snapshot) -> None:
    render("--all")
    for stack in STACKS:
        alone = tmp_path / f"only-{stack}"
        assert run("render", "--stack", stack, "--project", project, "--out", alone).code == 0
        assert sorted(record_files(out, stack)) == sorted(p for p in snapshot(alone) if not p.startswith(STATE)), stack
