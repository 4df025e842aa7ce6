"""The GitOps files as Pulumi resources: slices of a stack's render, written by the core writer.

The provider methods are called directly (as the engine would during ``pulumi
up``) against a temporary checkout; the registration side is covered by the
whole-program tests in test_program.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.gitops_repo import GitOpsFilesProvider, GitOpsRepo, GitOpsRepoArgs, files_digest, merge_files
from gitops.project import load_project
from gitops.render import RenderResult, render_stack
from gitops.slices import Slice, slice_render
from gitops.writer import write_render

STACK = "dev"


def _slices(project_root: Path, stack: str = STACK) -> tuple[RenderResult, dict[str, Slice]]:
    project = load_project(project_root)
    result = render_stack(project, project.stack(stack))
    services = tuple(s.name for s in project.catalog.services)
    pieces = slice_render(result, services, project.stack(stack).cluster.name)
    return result, {p.name: p for p in pieces}


def _props(result: RenderResult, piece: Slice, checkout: Path) -> dict[str, Any]:
    return {
        "checkout": str(checkout), "stack": result.stack, "environment": result.environment,
        "repoUrl": result.repo_url, "repoPath": result.repo_path, "prefixes": list(piece.prefixes),
        "files": {m.path: m.content.decode() for m in piece.files},
    }


def _record(checkout: Path, stack: str = STACK) -> dict[str, str]:
    return json.loads((checkout / ".gitops-platform" / f"{stack}.json").read_text())["files"]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return tmp_path / "gitops"


@pytest.fixture
def provider() -> GitOpsFilesProvider:
    return GitOpsFilesProvider()


def test_every_rendered_file_belongs_to_exactly_one_slice(project: Path) -> None:
    result, pieces = _slices(project)
    paths = [m.path for piece in pieces.values() for m in piece.files]
    assert sorted(paths) == [m.path for m in result.files]
    for piece in pieces.values():
        assert all(m.path.startswith(piece.prefixes) for m in piece.files)


def test_slices_are_one_per_service_plus_argocd_and_cluster(project: Path) -> None:
    _, pieces = _slices(project)
    services = sorted(p.stem for p in (project / "services").glob("*.yaml"))
    assert sorted(pieces) == sorted([f"service-{s}" for s in services] + ["argocd", "cluster"])


def test_writing_every_slice_gives_the_same_tree_and_record_as_a_full_render(
        project: Path, checkout: Path, tmp_path: Path, provider: GitOpsFilesProvider, snapshot) -> None:
    result, pieces = _slices(project)
    for piece in pieces.values():
        provider.create(_props(result, piece, checkout))
    reference = tmp_path / "reference"
    write_render(reference, result)
    assert snapshot(checkout) == snapshot(reference)


def test_create_returns_the_inputs_and_a_digest_of_the_files(project: Path, checkout: Path,
                                                              provider: GitOpsFilesProvider) -> None:
    result, pieces = _slices(project)
    props = _props(result, pieces["service-payments"], checkout)
    created = provider.create(props)
    assert created.id == "dev:apps/payments/"
    assert created.outs is not None
    assert created.outs["files"] == props["files"]
    assert created.outs["digest"] == files_digest(props["files"])


def test_updating_one_slice_leaves_other_slices_files_and_record_entries_alone(
        project: Path, checkout: Path, provider: GitOpsFilesProvider) -> None:
    result, pieces = _slices(project)
    for piece in pieces.values():
        provider.create(_props(result, piece, checkout))
    before = _record(checkout)
    old = _props(result, pieces["service-payments"], checkout)
    new = json.loads(json.dumps(old))
    config = "apps/payments/overlays/dev/config.json"
    new["files"][config] = new["files"][config].replace('"payments"', '"payments" ', 1)
    provider.update("id", old, new)
    after = _record(checkout)
    assert {p for p in after if after[p] != before[p]} == {config}
    assert (checkout / config).read_text() == new["files"][config]


def test_deleting_a_slice_removes_its_overlay_but_keeps_a_base_another_stack_records(
        project: Path, checkout: Path, provider: GitOpsFilesProvider) -> None:
    for stack in ("dev", "prod"):
        result, pieces = _slices(project, stack)
        provider.create(_props(result, pieces["service-payments"], checkout))
    result, pieces = _slices(project, "dev")
    provider.delete("id", _props(result, pieces["service-payments"], checkout))
    assert not (checkout / "apps/payments/overlays/dev").exists()
    assert (checkout / "apps/payments/overlays/prod/kustomization.yaml").is_file()
    assert (checkout / "apps/payments/base/deployment.yaml").is_file()
    assert not any(p.startswith("apps/payments/") for p in _record(checkout, "dev"))


def test_the_last_stack_deleting_a_service_removes_its_base(project: Path, checkout: Path,
                                                             provider: GitOpsFilesProvider) -> None:
    props = []
    for stack in ("dev", "prod"):
        result, pieces = _slices(project, stack)
        props.append(_props(result, pieces["service-payments"], checkout))
        provider.create(props[-1])
    for p in props:
        provider.delete("id", p)
    assert not (checkout / "apps/payments").exists()


def test_a_file_the_writer_did_not_write_is_never_overwritten(project: Path, checkout: Path,
                                                               provider: GitOpsFilesProvider) -> None:
    result, pieces = _slices(project)
    foreign = checkout / "apps/payments/base/deployment.yaml"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("kind: Deployment  # ours\n")
    with pytest.raises(RuntimeError, match="was not written by gitops-platform"):
        provider.create(_props(result, pieces["service-payments"], checkout))
    assert foreign.read_text() == "kind: Deployment  # ours\n"


def test_a_hand_edit_stops_the_update_and_survives(project: Path, checkout: Path,
                                                   provider: GitOpsFilesProvider) -> None:
    result, pieces = _slices(project)
    old = _props(result, pieces["service-payments"], checkout)
    provider.create(old)
    edited = checkout / "apps/payments/overlays/dev/kustomization.yaml"
    edited.write_text(edited.read_text() + "# tuned by hand\n")
    new = json.loads(json.dumps(old))
    new["files"]["apps/payments/overlays/dev/kustomization.yaml"] += "# changed\n"
    with pytest.raises(RuntimeError, match="edited by hand"):
        provider.update("id", old, new)
    assert edited.read_text().endswith("# tuned by hand\n")


@pytest.mark.parametrize("key", ["checkout", "stack", "prefixes"])
def test_moving_a_slice_replaces_the_resource(key: str, project: Path, checkout: Path,
                                             provider: GitOpsFilesProvider) -> None:
    result, pieces = _slices(project)
    old = _props(result, pieces["service-payments"], checkout)
    new = {**old, key: ["apps/other/"] if key == "prefixes" else "elsewhere"}
    diff = provider.diff("id", old, new)
    assert diff.changes is True and diff.replaces == [key]


def test_a_content_change_is_an_in_place_update_and_no_change_is_no_diff(
        project: Path, checkout: Path, provider: GitOpsFilesProvider) -> None:
    result, pieces = _slices(project)
    old = _props(result, pieces["service-payments"], checkout)
    changed = {**old, "files": {**old["files"], "apps/payments/base/service.yaml": "changed\n"}}
    assert provider.diff("id", old, changed).changes is True
    assert provider.diff("id", old, changed).replaces == []
    assert provider.diff("id", old, dict(old)).changes is False


def test_check_rejects_files_outside_the_slice(project: Path, checkout: Path, provider: GitOpsFilesProvider) -> None:
    result, pieces = _slices(project)
    props = _props(result, pieces["service-payments"], checkout)
    props["files"]["apps/cart/base/x.yaml"] = "x: 1\n"
    failures = provider.check({}, props).failures
    assert [f.property for f in failures] == ["files"]
    assert "apps/cart/base/x.yaml" in failures[0].reason


def test_refresh_reports_files_missing_from_a_fresh_checkout(project: Path, checkout: Path,
                                                             provider: GitOpsFilesProvider) -> None:
    result, pieces = _slices(project)
    props = _props(result, pieces["service-payments"], checkout)
    provider.create(props)
    (checkout / "apps/payments/base/service.yaml").unlink()
    read = provider.read("id", props)
    assert read.outs is not None
    assert "apps/payments/base/service.yaml" not in read.outs["files"]
    assert provider.diff("id", read.outs, props).changes is True



# --- more files in the cluster slice (a spoke's registration) --------------------------------------

REGISTRATION = "clusters/shop-dev/registration.yaml"


def test_extra_cluster_files_are_added_but_never_replace_rendered_ones() -> None:
    rendered = {"clusters/shop-dev/sealed-secrets-cert.pem": "PEM"}
    assert merge_files(rendered, {REGISTRATION: "kind: Secret\n"}) == {**rendered, REGISTRATION: "kind: Secret\n"}
    assert merge_files(rendered, None) == rendered
    with pytest.raises(ValueError, match=r"sealed-secrets-cert\.pem would replace"):
        merge_files(rendered, {"clusters/shop-dev/sealed-secrets-cert.pem": "other"})


@pytest.mark.parametrize("as_output", [False, True], ids=["plain", "output"])
def test_extra_cluster_files_land_in_the_cluster_slice_only(pulumi_mocks, project: Path, as_output: bool) -> None:
    mocks = pulumi_mocks()
    loaded = load_project(project)

    @pulumi.runtime.test
    def program() -> None:
        extra: Any = {REGISTRATION: "kind: Secret\n"}
        extra = pulumi.Output.from_input(extra) if as_output else extra
        GitOpsRepo("gitops", GitOpsRepoArgs(project=loaded, stack=loaded.stack(STACK), extra_cluster_files=extra))

    program()
    cluster = mocks.named("gitops-cluster").inputs["files"]
    assert cluster[REGISTRATION] == "kind: Secret\n"
    assert all(path.startswith("clusters/shop-dev/") for path in cluster)
    others = [r for r in mocks.of_type("pulumi-python:dynamic/gitops:Files") if r.name != "gitops-cluster"]
    assert others and not any(REGISTRATION in r.inputs["files"] for r in others)


# --- sealed services: one computation for the catalog, one resource changed per service ------------

FILES = "pulumi-python:dynamic/gitops:Files"


def _sealed_repo(pulumi_mocks, root: Path, values: dict[str, dict[str, str]]):
    """The GitOpsRepo of ``root``'s dev stack under the mocks, sealing ``values`` (a secret, as the program passes it)."""
    from gitops.sealing import stability_key
    from pulumi_harness import mock_key_pair, rsa_private_key

    key_pem, cert_pem = mock_key_pair()
    derivation = stability_key(rsa_private_key(key_pem)).hex()
    mocks = pulumi_mocks()
    loaded = load_project(root)

    @pulumi.runtime.test
    def program() -> None:
        GitOpsRepo("gitops", GitOpsRepoArgs(project=loaded, stack=loaded.stack(STACK), sealing_cert=cert_pem,
                                            stability_key=pulumi.Output.secret(derivation),
                                            secret_values=pulumi.Output.secret(values)))

    program()
    return mocks


def test_a_changed_secret_value_changes_only_its_services_resource(pulumi_mocks, project: Path) -> None:
    from pulumi_harness import secret_values

    values = secret_values(project)
    assert len(values) > 1
    before = {r.name: r.inputs for r in _sealed_repo(pulumi_mocks, project, values).of_type(FILES)}
    changed = {**values, "orders": {**values["orders"], "DATABASE_PASSWORD": "rotated"}}
    after = {r.name: r.inputs for r in _sealed_repo(pulumi_mocks, project, changed).of_type(FILES)}
    assert sorted(before) == sorted(after)
    assert [name for name in before if before[name] != after[name]] == ["gitops-service-orders"]
    assert "rotated" not in json.dumps(after)


def test_sealing_lifts_the_secret_values_once_for_the_catalog_not_once_per_service(
        pulumi_mocks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Outputs made per GitOps resource do not grow with the catalog.

    ``Output.from_input`` turns every key and value of a dict it is given into an
    Output of its own; lifting the whole values map once per sealed service made
    registration quadratic in the catalog (about 1,000 Outputs per sealed service
    at 1000 services). Counted here as calls of ``Output.from_input``.
    """
    from pulumi_harness import secret_values
    from synthetic import make_project

    lift = pulumi.Output.from_input
    per_resource = {}
    for services in (12, 96):   # every sixth synthetic service has a secret
        root = make_project(tmp_path / f"catalog-{services}", services)
        calls = [0]

        def counting(val, calls=calls):
            calls[0] += 1
            return lift(val)

        with monkeypatch.context() as patch:
            patch.setattr(pulumi.Output, "from_input", staticmethod(counting))
            mocks = _sealed_repo(pulumi_mocks, root, secret_values(root))
        per_resource[services] = calls[0] / len(mocks.of_type(FILES))
    assert per_resource[96] <= per_resource[12] * 1.1, per_resource
