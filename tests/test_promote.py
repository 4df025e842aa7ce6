"""`promote`: pin in one stack file the image tag another environment runs.

The project is a temporary git repository, so `git diff` shows exactly which
lines of the stack files a promotion changed. In the released example, dev
pins payments 1.5.0 and orders 6.1.0; staging pins payments 1.4.9 (with a
comment on the line); prod pins nothing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CliResult
from gitops.errors import InputError
from gitops.promote import pin_tags
from gitops.running import parse_image_entry, running_tag
from gitops.yamledit import guess_indent

REGISTRY = "999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop"
DEV_UPDATER = "apps/payments/overlays/dev/.argocd-source-payments-dev.yaml"
STAGING_UPDATER = "apps/payments/overlays/staging/.argocd-source-payments-staging.yaml"
TAGS = "gitops-platform:imageTags"


# --- fixtures ----------------------------------------------------------------------------------------
def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


def diff_lines(repo: Path) -> tuple[list[str], list[str]]:
    """(removed, added) lines of the working tree against the last commit."""
    removed, added = [], []
    for line in git(repo, "diff", "-U0", "--no-color").splitlines():
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:])
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
    return removed, added


def changed_files(repo: Path) -> list[str]:
    return git(repo, "status", "--porcelain").splitlines()


def append_config(project: Path, stack: str, text: str) -> None:
    """Add lines at the end of a stack file's ``config:`` (the last top-level key of the shipped files)."""
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text() + text)


def stack_config(project: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]


def write_updater_file(out: Path, service: str, env: str, *entries: str) -> Path:
    """What the Image Updater's git write-back commits next to the overlay."""
    path = out / f"apps/{service}/overlays/{env}/.argocd-source-{service}-{env}.yaml"
    path.write_text("kustomize:\n  images:\n" + "".join(f"  - {e}\n" for e in entries))
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "gitops-repo"


@pytest.fixture
def released(project: Path, out: Path, run: Callable[..., CliResult]) -> Path:
    """The example with dev ahead of staging, rendered, and committed in a git repository; returns the tree."""
    append_config(project, "dev", f'  {TAGS}:\n    payments: "1.5.0"\n    orders: "6.1.0"\n')
    append_config(project, "staging", f'  {TAGS}:\n    payments: "1.4.9"  # hotfix release\n')
    result = run("render", "--all", "--project", project, "--out", out)
    assert result.code == 0, result.err
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "example")
    return out


@pytest.fixture
def promote(run: Callable[..., CliResult], project: Path, released: Path) -> Callable[..., CliResult]:
    """``promote("payments", "--from", "dev", "--to", "staging")`` against the released example."""
    return lambda *args: run("promote", *args, "--project", project, "--out", released)


# --- where the running tag comes from --------------------------------------------------------------
def test_promotes_the_tag_pinned_in_the_source_overlay(promote, project):
    result = promote("payments", "--from", "dev", "--to", "staging")

    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == ("payments: staging 1.4.9 -> 1.5.0 (running in dev, "
                                          "from apps/payments/overlays/dev/kustomization.yaml)")
    assert stack_config(project, "staging")[TAGS] == {"payments": "1.5.0"}


def test_the_image_updater_file_overrides_the_overlay_pin(promote, project, released):
    write_updater_file(released, "payments", "dev", f"payments={REGISTRY}/payments:1.5.3")

    result = promote("payments", "--from", "dev", "--to", "staging")

    assert result.code == 0, result.err
    assert f"-> 1.5.3 (running in dev, from {DEV_UPDATER})" in result.out
    assert stack_config(project, "staging")[TAGS]["payments"] == "1.5.3"


@pytest.mark.parametrize("entry, name, tag, digest", [
    (f"payments={REGISTRY}/payments:1.4.3", "payments", "1.4.3", None),
    (f"payments={REGISTRY}/payments@sha256:abc", "payments", None, "sha256:abc"),
    (f"{REGISTRY}/payments:1.4.3", "payments", "1.4.3", None),
    ("payments:1.4.3", "payments", "1.4.3", None),
    ("registry.local:5000/shop/payments", "payments", None, None),
])
def test_updater_entries_are_read_in_kustomize_set_image_syntax(entry, name, tag, digest):
    parsed = parse_image_entry(entry)

    assert (parsed.name, parsed.tag, parsed.digest) == (name, tag, digest)


def test_an_updater_entry_for_another_image_leaves_the_overlay_pin_running(released):
    write_updater_file(released, "payments", "dev", f"ledger={REGISTRY}/ledger:9.9.9")

    running = running_tag(released, "payments", "dev")

    assert (running.tag, running.by_updater) == ("1.5.0", False)


def test_a_digest_in_the_updater_file_is_refused(promote, project, released):
    write_updater_file(released, "payments", "dev", f"payments={REGISTRY}/payments@sha256:{'a' * 64}")

    result = promote("payments", "--from", "dev", "--to", "staging")

    assert result.code == 2
    assert "pins the image by digest" in result.err and DEV_UPDATER in result.err
    assert changed_files(project) == []


@pytest.mark.parametrize("entry", [
    "payments 1.5.3", "payments=", "payments:", "", "payments@", "payments=:1.5.3", f"={REGISTRY}/payments:1.5.3",
    f"payments={REGISTRY}/pay ments:1.5.3", f"payments={REGISTRY}/payments:1.5.3:2", f"payments={REGISTRY}/payments:",
    "p" * 100_000,
])
def test_an_updater_entry_kustomize_cannot_read_is_an_error_naming_file_and_entry(promote, project, released, entry):
    """Skipping it would pin the overlay's tag while Argo CD fails on (or applies) the entry."""
    write_updater_file(released, "payments", "dev", json.dumps(entry))

    result = promote("payments", "--from", "dev", "--to", "staging")

    assert (result.code, result.out) == (2, ""), result.out + result.err
    assert result.err.startswith(f"Error: {released / DEV_UPDATER}: kustomize.images[0]: ") and result.err.count("\n") == 1
    assert "is not an image reference kustomize can apply" in result.err and len(result.err) < 500
    assert changed_files(project) == []


@pytest.mark.parametrize("images", ["5", "payments", "{name: payments, newTag: '1.5.3'}"])
def test_a_malformed_images_list_in_the_source_overlay_is_an_error_naming_it(promote, project, released, images):
    kustomization = released / "apps/payments/overlays/dev/kustomization.yaml"
    text = kustomization.read_text()
    start = text.index("images:\n")
    end = text.index("\n", text.index("newTag:", start)) + 1
    kustomization.write_text(text[:start] + f"images: {images}\n" + text[end:])

    result = promote("payments", "--from", "dev", "--to", "staging")

    assert (result.code, result.out) == (2, ""), result.out + result.err
    assert result.err.startswith(f"Error: {kustomization}: images: expected a list of images") and result.err.count("\n") == 1
    assert changed_files(project) == []


def test_an_unrendered_tree_is_an_error_naming_the_missing_overlay(run, project, tmp_path):
    result = run("promote", "payments", "--from", "dev", "--to", "staging",
                 "--project", project, "--out", tmp_path / "elsewhere")

    assert result.code == 2
    assert "no GitOps tree here" in result.err


# --- what changes in the stack file ----------------------------------------------------------------
def test_moving_a_pin_changes_only_that_line(promote, project):
    promote("payments", "--from", "dev", "--to", "staging")

    assert changed_files(project) == [" M Pulumi.staging.yaml"]
    assert diff_lines(project) == (['    payments: "1.4.9"  # hotfix release'],
                                   ['    payments: "1.5.0"  # hotfix release'])


def test_the_stack_file_keeps_its_comments(promote, project):
    promote("payments", "--from", "dev", "--to", "staging")

    text = (project / "Pulumi.staging.yaml").read_text()
    assert text.startswith("# Staging: two replicas, manual sync (a person approves each change in Argo CD).\n")


def test_a_new_pin_is_added_to_the_existing_image_tags(promote, project):
    promote("orders", "--from", "dev", "--to", "staging")

    assert diff_lines(project) == ([], ['    orders: "6.1.0"'])


def test_the_image_tags_mapping_is_created_at_the_end_of_config(promote, project):
    promote("payments", "--from", "staging", "--to", "prod")

    assert diff_lines(project) == ([], [f"  {TAGS}:", '    payments: "1.4.9"'])
    assert (project / "Pulumi.prod.yaml").read_text().endswith(
        f'    mode: "off"\n  {TAGS}:\n    payments: "1.4.9"\n')


def test_a_tag_that_looks_like_a_number_stays_a_string(promote, project, released):
    write_updater_file(released, "payments", "dev", f"payments={REGISTRY}/payments:1.10")

    promote("payments", "--from", "dev", "--to", "staging")

    assert stack_config(project, "staging")[TAGS]["payments"] == "1.10"
    assert '    payments: "1.10"' in diff_lines(project)[1][0]


def test_render_after_promote_deploys_the_new_pin(promote, run, project, released):
    promote("payments", "--from", "dev", "--to", "staging")

    result = run("render", "--stack", "staging", "--project", project, "--out", released)

    assert result.code == 0, result.err
    overlay = yaml.safe_load((released / "apps/payments/overlays/staging/kustomization.yaml").read_text())
    assert overlay["images"] == [{"name": "payments", "newName": f"{REGISTRY}/payments", "newTag": "1.5.0"}]


# --- order of environments -------------------------------------------------------------------------
def test_skipping_an_environment_is_refused(promote, project):
    result = promote("payments", "--from", "dev", "--to", "prod")

    assert result.code == 2
    assert result.err == (
        "Error: Pulumi.prod.yaml: config.gitops-platform:promotion.from: prod is promoted from staging; "
        "promoting from dev skips staging: run `python -m gitops promote payments --from staging --to prod`, "
        "or add --force\n")
    assert changed_files(project) == []


def test_force_promotes_out_of_order(promote, project):
    result = promote("payments", "--from", "dev", "--to", "prod", "--force")

    assert result.code == 0, result.err
    assert "because of --force" in result.err
    assert stack_config(project, "prod")[TAGS] == {"payments": "1.5.0"}


def test_an_environment_without_a_promotion_source_is_refused(promote, project):
    result = promote("payments", "--from", "staging", "--to", "dev")

    assert result.code == 2
    assert "Pulumi.dev.yaml: config.gitops-platform:promotion.from: dev names no environment" in result.err
    assert changed_files(project) == []


# --- choosing services and environments ------------------------------------------------------------
def test_all_promotes_every_service_whose_tag_differs(promote, project):
    result = promote("--all", "--from", "dev", "--to", "staging")

    assert result.code == 0, result.err
    assert stack_config(project, "staging")[TAGS] == {"payments": "1.5.0", "orders": "6.1.0"}
    assert "staging: 2 promoted from dev, 10 unchanged (wrote " in result.out


def test_a_service_already_at_the_running_tag_is_unchanged(promote, project):
    result = promote("cart", "--from", "dev", "--to", "staging")

    assert result.code == 0, result.err
    assert "staging: nothing to promote from dev, 1 unchanged" in result.out
    assert changed_files(project) == []


def test_an_unknown_service_is_an_error_with_a_suggestion(promote, project):
    result = promote("paymnts", "--from", "dev", "--to", "staging")

    assert result.code == 2
    assert result.err.startswith("Error: services/paymnts.yaml: no such service in the catalog "
                                 "(did you mean 'payments'?); services: api-gateway, cart,")
    assert changed_files(project) == []


def test_an_unknown_environment_is_an_error_listing_the_environments(promote):
    result = promote("payments", "--from", "dev", "--to", "stagign")

    assert result.code == 2
    assert result.err == ("Error: --to: 'stagign' is not an environment of this project (did you mean 'staging'?); "
                          "environments: dev, prod, staging\n")


def test_services_and_all_together_are_refused(promote):
    result = promote("payments", "--all", "--from", "dev", "--to", "staging")

    assert result.code == 2
    assert "not both" in result.err


# --- reporting ---------------------------------------------------------------------------------------
def test_dry_run_reports_and_writes_nothing(promote, project):
    result = promote("payments", "--from", "dev", "--to", "staging", "--dry-run")

    assert result.code == 0, result.err
    assert "payments: staging 1.4.9 -> 1.5.0" in result.out and "(would write " in result.out
    assert changed_files(project) == []


def test_the_output_names_the_commands_that_apply_the_pin(promote):
    result = promote("payments", "--from", "dev", "--to", "staging")

    assert "python -m gitops render --stack staging" in result.out
    assert "pulumi up --stack staging" in result.out


def test_json_output_lists_changes_and_unchanged_services(promote, project):
    result = promote("payments", "cart", "--from", "dev", "--to", "staging", "--output", "json")

    assert json.loads(result.out) == {
        "from": "dev", "to": "staging", "file": str(project / "Pulumi.staging.yaml"), "dryRun": False,
        "changes": [{"service": "payments", "from": "1.4.9", "to": "1.5.0",
                     "source": "apps/payments/overlays/dev/kustomization.yaml"}],
        "unchanged": ["cart"],
    }


def test_an_updater_file_left_where_no_updater_runs_is_refused_because_it_would_override_the_pin(
        promote, project, released):
    """Staging has no Image Updater: nothing would ever rewrite the file, and Argo CD applies it over any pin."""
    write_updater_file(released, "payments", "staging", f"payments={REGISTRY}/payments:1.6.0")

    result = promote("payments", "--from", "dev", "--to", "staging")

    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"Error: {released / STAGING_UPDATER}: kustomize.images: ")
    assert "no Image Updater manages payments in staging" in result.err
    assert f"git rm {STAGING_UPDATER}" in result.err and result.err.count("\n") == 1
    assert changed_files(project) == []


def test_a_pin_already_in_place_but_overridden_by_a_leftover_updater_file_is_refused_too(promote, project, released):
    """Staging pins 1.4.9, which now runs in dev too: nothing to change in the stack file, yet 1.6.0 runs."""
    write_updater_file(released, "payments", "dev", f"payments={REGISTRY}/payments:1.4.9")
    write_updater_file(released, "payments", "staging", f"payments={REGISTRY}/payments:1.6.0")

    result = promote("payments", "--from", "dev", "--to", "staging")

    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"Error: {released / STAGING_UPDATER}: kustomize.images: ")
    assert changed_files(project) == []


def test_in_the_updaters_environment_a_pin_is_written_and_the_updater_file_pointed_out(promote, project, released):
    """Dev's updater holds a pinned service at the pin, so it rewrites its own file: a note, not an error."""
    write_updater_file(released, "payments", "dev", f"payments={REGISTRY}/payments:1.6.0")

    result = promote("payments", "--from", "staging", "--to", "dev", "--force")

    assert result.code == 0, result.err
    assert stack_config(project, "dev")[TAGS]["payments"] == "1.4.9"
    assert (f"note: payments: dev runs 1.6.0 from the Image Updater's {DEV_UPDATER}; the updater writes 1.4.9 "
            "there once the rendered argocd/dev/image-updater.yaml (constraint 1.4.9) is synced") in result.err


# --- editing stack files that look different from the shipped ones ----------------------------------
def test_comments_introducing_the_next_key_stay_above_it():
    text = 'config:\n  gitops-platform:imageTags:\n    cart: "1.0"\n  # delivery\n  gitops-platform:delivery: {}\n'

    edited = pin_tags(text, {"payments": "2.0"}, "Pulumi.x.yaml")

    assert edited == text.replace('"1.0"\n', '"1.0"\n    payments: "2.0"\n')


def test_the_files_own_indentation_is_kept():
    text = "config:\n    gitops-platform:cluster:\n        instanceTypes:\n        - m6i.large\n"

    edited = pin_tags(text, {"payments": "2.0"}, "Pulumi.x.yaml")

    assert guess_indent(text) == (4, 2, 0)
    assert edited == text + '    gitops-platform:imageTags:\n        payments: "2.0"\n'


def test_windows_line_endings_are_kept():
    text = "config:\r\n  gitops-platform:environment: dev\r\n"

    edited = pin_tags(text, {"payments": "2.0"}, "Pulumi.x.yaml")

    assert edited == text + '  gitops-platform:imageTags:\r\n    payments: "2.0"\r\n'


def test_an_edit_that_would_rewrite_other_lines_is_refused():
    text = "config:\n  gitops-platform:sealing: ~\n"  # a round-trip dump drops the "~"

    with pytest.raises(InputError, match=r"cannot be set without rewriting other lines .* line 2"):
        pin_tags(text, {"payments": "2.0"}, "Pulumi.x.yaml")


# --- rollback and hotfix: --tag --------------------------------------------------------------------
def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()[:12]


def overlay_tag(out: Path, service: str, env: str) -> str:
    """The tag the overlay pins (what runs where no updater file overrides it)."""
    doc = yaml.safe_load((out / f"apps/{service}/overlays/{env}/kustomization.yaml").read_text())
    return next(i["newTag"] for i in doc["images"] if i["name"] == service)


def updater_image(out: Path, env: str, service: str) -> dict[str, Any] | None:
    """The rendered ImageUpdater's image entry for ``service`` in ``env``; None when no updater serves it."""
    path = out / f"argocd/{env}/image-updater.yaml"
    if not path.exists():
        assert "image-updater.yaml" not in (out / f"argocd/{env}/kustomization.yaml").read_text()
        return None
    refs = yaml.safe_load(path.read_text())["spec"]["applicationRefs"]
    return next((r["images"][0] for r in refs if r["namePattern"] == f"{service}-{env}"), None)


@pytest.fixture
def history(released: Path) -> Path:
    """``released`` with its tree in a git repository of its own, where dev's Image Updater then wrote
    payments 1.5.3 and later 1.5.4 over dev's pin 1.5.0 (staging runs its pin 1.4.9)."""
    git(released, "init", "-q")
    commit_all(released, "render")
    write_updater_file(released, "payments", "dev", f"payments={REGISTRY}/payments:1.5.3")
    commit_all(released, "image updater: payments 1.5.3")
    write_updater_file(released, "payments", "dev", f"payments={REGISTRY}/payments:1.5.4")
    commit_all(released, "image updater: payments 1.5.4")
    return released


def test_a_rollback_pins_a_tag_that_ran_in_the_source_before(promote, project, history):
    ran_at = git(history, "log", "--format=%H", "-1", "--skip=1").strip()[:12]

    result = promote("payments", "--to", "staging", "--tag", "1.5.3")

    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == f"payments: staging 1.4.9 -> 1.5.3 (ran in dev: {DEV_UPDATER} at {ran_at})"
    assert stack_config(project, "staging")[TAGS]["payments"] == "1.5.3"


def test_a_tag_that_never_ran_in_the_source_is_refused_listing_those_that_did(promote, project, history):
    result = promote("payments", "--to", "staging", "--tag", "1.5.2")

    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("Error: --tag: 1.5.2 never ran in dev: ")
    assert "tags that ran there, newest first: 1.5.4, 1.5.3, 1.5.0." in result.err
    assert result.err.endswith("or add --force\n") and result.err.count("\n") == 1
    assert changed_files(project) == []


def test_what_ran_is_the_updater_files_tag_where_it_sets_one_else_the_overlays_pin(promote, history):
    """Dev pinned 1.5.0 all along, but 1.5.3 and 1.5.4 ran over it: 1.5.0 ran only before the updater wrote."""
    write_updater_file(history, "payments", "dev", f"payments={REGISTRY}/payments:1.6.0")
    git(history, "commit", "-q", "-am", "image updater: 1.6.0")

    assert promote("payments", "--to", "staging", "--tag", "1.5.0").code == 0
    assert promote("payments", "--to", "staging", "--tag", "1.4.2").code == 2   # the catalog's tag never ran in dev


def test_force_pins_a_tag_that_never_ran_and_says_so(promote, project, history):
    result = promote("payments", "--to", "staging", "--tag", "1.5.2", "--force")

    assert result.code == 0, result.err
    assert "note: payments: 1.5.2 never ran in dev (tags that did: 1.5.4, 1.5.3, 1.5.0); pinning it because of --force" \
        in result.err
    assert result.out.splitlines()[0] == "payments: staging 1.4.9 -> 1.5.2 (never ran in dev: --force)"
    assert stack_config(project, "staging")[TAGS]["payments"] == "1.5.2"


def test_tag_needs_the_git_history_of_the_gitops_tree(promote, project, released):
    result = promote("payments", "--to", "staging", "--tag", "1.5.0")

    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"Error: {released}: cannot read its git history (")
    assert "give --out the clone of the GitOps repository" in result.err and result.err.count("\n") == 1
    assert changed_files(project) == []


@pytest.mark.parametrize("args, message", [
    (("--all", "--to", "staging", "--tag", "1.5.3"), "Error: --tag: pins one service's tag: name exactly one SERVICE"),
    (("payments", "cart", "--to", "staging", "--tag", "1.5.3"), "Error: --tag: pins one service's tag"),
    (("payments", "--to", "staging", "--tag", "latest"), "Error: --tag: 'latest': "),
    (("payments", "--to", "staging"), "Error: --from: name the environment whose running tags to pin (--from ENV)"),
    (("payments", "--from", "staging", "--to", "staging", "--tag", "1.5.3"), "Error: --to: 'staging' is also --from"),
])
def test_a_tag_promotion_that_cannot_be_done_is_one_error_naming_the_flag(promote, project, history, args, message):
    result = promote(*args)

    assert (result.code, result.out) == (2, ""), result.err
    assert result.err.startswith(message) and result.err.count("\n") == 1
    assert changed_files(project) == []


def test_a_rollback_in_dev_holds_the_image_updater_at_the_pinned_tag(promote, run, project, history):
    """Dev has no promotion source: the tag must have run in dev itself. The pin becomes the updater's exact
    constraint, so the updater writes 1.5.3 over its own file (which says 1.5.4) and the rollback holds."""
    result = promote("payments", "--to", "dev", "--tag", "1.5.3")

    assert result.code == 0, result.err
    assert result.out.splitlines()[0].startswith("payments: dev 1.5.4 -> 1.5.3 (ran in dev: ")
    assert "the updater writes 1.5.3 there once the rendered argocd/dev/image-updater.yaml" in result.err
    assert run("render", "--all", "--project", project, "--out", history).code == 0
    image = updater_image(history, "dev", "payments")
    assert image is not None
    assert image["imageName"] == f"{REGISTRY}/payments:1.5.3"
    assert image["commonUpdateSettings"] == {"updateStrategy": "semver", "allowTags": "regexp:^1\\.5\\.3$"}


# --- the whole path: dev -> staging -> prod, and back ---------------------------------------------
def test_a_tag_walks_from_dev_through_staging_to_prod_and_back(run, project, tmp_path):
    """Dev follows new images by itself; staging and prod run only what ran before them, and only by ``promote``:
    they have no Image Updater. A rollback is a ``promote --tag`` of a tag the source environment ran."""
    out = tmp_path / "gitops-repo"
    cli = lambda *args: run(*args, "--project", project, "--out", out)  # noqa: E731
    promote = lambda *args: cli("promote", "payments", *args)  # noqa: E731

    def render() -> None:
        result = cli("render", "--all")
        assert result.code == 0, result.err
        commit_all(out, "render")

    out.mkdir()
    git(out, "init", "-q")
    render()
    assert [overlay_tag(out, "payments", env) for env in ("dev", "staging", "prod")] == ["1.4.2"] * 3
    assert (updater_image(out, "dev", "payments") or {}).get("imageName") == f"{REGISTRY}/payments:^1.4.2"
    assert updater_image(out, "staging", "payments") is None and updater_image(out, "prod", "payments") is None

    # Dev's Image Updater moves payments on twice; nothing else changes.
    for tag in ("1.5.0", "1.5.1"):
        write_updater_file(out, "payments", "dev", f"payments={REGISTRY}/payments:{tag}")
        commit_all(out, f"image updater: payments {tag}")
    assert running_tag(out, "payments", "dev").tag == "1.5.1"

    # Forward: what runs in dev, then what runs in staging. Skipping staging is refused.
    assert promote("--from", "dev", "--to", "prod").code == 2
    assert promote("--from", "dev", "--to", "staging").code == 0
    render()
    assert overlay_tag(out, "payments", "staging") == "1.5.1" and updater_image(out, "staging", "payments") is None
    assert promote("--from", "staging", "--to", "prod").code == 0
    render()
    assert overlay_tag(out, "payments", "prod") == "1.5.1" and updater_image(out, "prod", "payments") is None
    assert running_tag(out, "payments", "prod").tag == "1.5.1"

    # Back in prod: only to a tag staging ran. 1.5.0 ran in dev but never in staging.
    refused = promote("--to", "prod", "--tag", "1.5.0")
    assert refused.code == 2 and "1.5.0 never ran in staging" in refused.err and "1.5.1, 1.4.2" in refused.err
    assert promote("--to", "prod", "--tag", "1.4.2").code == 0
    render()
    assert running_tag(out, "payments", "prod").tag == "1.4.2"

    # Back in staging, to a tag dev ran.
    assert promote("--to", "staging", "--tag", "1.5.0").code == 0
    render()
    assert running_tag(out, "payments", "staging").tag == "1.5.0"

    # Back in dev: the pin holds the updater at 1.5.0, which it then writes over its own 1.5.1.
    assert promote("--to", "dev", "--tag", "1.5.0").code == 0
    render()
    assert overlay_tag(out, "payments", "dev") == "1.5.0"
    assert (updater_image(out, "dev", "payments") or {}).get("imageName") == f"{REGISTRY}/payments:1.5.0"
    write_updater_file(out, "payments", "dev", f"payments={REGISTRY}/payments:1.5.0")
    commit_all(out, "image updater: payments 1.5.0")
    assert running_tag(out, "payments", "dev").tag == "1.5.0"
    again = promote("--from", "dev", "--to", "staging")
    assert again.code == 0 and "staging: nothing to promote from dev, 1 unchanged" in again.out
