"""Command line: ``python -m gitops <command>``; a thin layer over the core.

Exit codes: 0 success, 1 problems found, 2 bad input or usage (one message on
stderr, no traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import layout
from . import options as opts
from .errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, GitOpsError, InputError, OutputError, Problem
from .workflow import render_stacks


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except GitOpsError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Error: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gitops", description="Render, validate and inspect the GitOps repository.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser("render", help="write the stack's (or every stack's) part of the GitOps repository")
    render_defaults = opts.RenderOptions()
    which = render.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="one stack (Pulumi.<stack>.yaml)")
    which.add_argument("--all", action="store_true", help="every stack of the project")
    render.add_argument("--out", type=_tree_dir, default=render_defaults.out,
                        help=f"GitOps tree to write (default: {render_defaults.out})")
    render.add_argument("--project", type=Path, default=render_defaults.project,
                        help=f"project root holding Pulumi.yaml (default: {render_defaults.project})")
    render.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    render.add_argument("--force", action="store_true", help="overwrite owned files that were edited by hand")
    render.add_argument("--secrets", type=Path, metavar="FILE",
                        help="secret values for --stack, kept outside the project and the tree (see docs/secrets.md); "
                             f"{layout.SECRET_ENV_PREFIX}<SERVICE>__<NAME> variables also count")
    _output(render)
    render.set_defaults(func=cmd_render)

    defaults = opts.ValidateOptions()
    for name, func, text in (
        ("validate", cmd_validate, "build every kustomization, validate every object, check every Application"),
        ("apps", cmd_apps, "list the Applications the ApplicationSets generate, offline"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("dir", type=Path, help="the rendered GitOps tree")
        p.add_argument("--repo-path", help="where DIR sits in its Git repository (default: from the render records, else .)")
        p.add_argument("--kubectl", default=defaults.kubectl, help="kubectl binary (with kustomize v5)")
        p.add_argument("--jobs", type=int, default=defaults.jobs, help=f"parallel builds (default: {defaults.jobs})")
        if name == "validate":
            p.add_argument("--schemas", type=Path, metavar="DIR",
                           help="upstream CRDs (DIR/*.yaml, DIR/<vendor>/*.yaml) to check custom resources against "
                                "as well; the project's own schemas (gitops/crds) always apply, so an object must "
                                "pass both (default: the project's schemas only)")
            p.add_argument("--kubernetes-version", default=defaults.kubernetes_version,
                           help=f"Kubernetes schema version (default: {defaults.kubernetes_version})")
        _output(p)
        p.set_defaults(func=func)

    _seal_parser(sub)
    _drift_parser(sub)
    _diff_parser(sub)
    _promote_parser(sub)
    _new_cluster_parser(sub)
    _config_schema_parser(sub)
    return parser


def _tree_dir(value: str) -> Path:
    """A GitOps tree directory argument; an empty one would silently mean the current directory."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must name the GitOps tree's directory (an empty path would be the "
                                         "current directory, usually the project itself)")
    return Path(value)


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", choices=("text", "json"), default="text", help="text (default) or json on stdout")


def cmd_render(args: argparse.Namespace) -> int:
    options = opts.RenderOptions(project=args.project, out=args.out, stack=args.stack, dry_run=args.dry_run,
                                 force=args.force, secrets_file=args.secrets)
    outcome = render_stacks(options, os.environ)
    for s in outcome.stacks:
        if s.pending_secrets:
            print(f"{s.stack}: secrets of {_some(s.pending_secrets)} are not sealed yet: the tree has no "
                  f"certificate for this stack's cluster; `pulumi up --stack {s.stack}` publishes it", file=sys.stderr)
    if args.output == "json":
        _print_json({"out": str(args.out), "dryRun": args.dry_run,
                     "stacks": [{**s.report.as_json(), "pendingSecrets": list(s.pending_secrets)}
                                for s in outcome.stacks]})
    else:
        verb = "would write" if args.dry_run else "wrote"
        for r in (s.report for s in outcome.stacks):
            print(f"{r.stack}: {len(r.created)} created, {len(r.updated)} updated, {len(r.deleted)} deleted, "
                  f"{len(r.unchanged)} unchanged ({verb} {args.out})")
            for label, paths in (("created", r.created), ("updated", r.updated), ("deleted", r.deleted)):
                for path in paths if len(paths) <= 20 else []:
                    print(f"  {label}: {path}")
    return EXIT_OK


def _some(names: Sequence[str], shown: int = 8) -> str:
    """``a, b, c``, or ``a, b, c, d, e, f, g, h and 160 more``: a warning stays one line at any catalog size
    (``--output json`` lists every name)."""
    if len(names) <= shown + 1:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def _validate_options(args: argparse.Namespace, with_schemas: bool) -> opts.ValidateOptions:
    if args.jobs < 1:
        raise InputError(f"--jobs: {args.jobs} is not a positive number")
    schema_dir = None
    if with_schemas:
        from .k8sschema import kubernetes_version_problem

        version_problem = kubernetes_version_problem(args.kubernetes_version)
        if version_problem:   # before any build: nothing would be validated against that version
            raise InputError([Problem("--kubernetes-version", "", version_problem)])
        schema_dir = args.schemas
        if schema_dir is not None and not schema_dir.is_dir():
            raise InputError([Problem("--schemas", "", f"{schema_dir} is not a directory; give a directory of CRDs "
                                      "(*.yaml or <vendor>/*.yaml), or leave --schemas out")])
    return opts.ValidateOptions(
        schema_dir=schema_dir,
        kubernetes_version=getattr(args, "kubernetes_version", opts.KUBERNETES_VERSION),
        jobs=args.jobs,
        kubectl=args.kubectl,
    )


def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import validate_tree

    report = validate_tree(args.dir, _validate_options(args, True), args.repo_path)
    if args.output == "json":
        _print_json(report.as_json())
    else:
        for p in report.problems:
            print(f"FAIL {p}")
        status = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        also = f", {report.crd_checked} also against the CRDs of --schemas" if args.schemas is not None else ""
        print(f"{status}: {report.builds} kustomizations built, {report.objects} objects validated "
              f"({report.contract_checked} custom resources against the project's schemas{also}), "
              f"{len(report.applications)} Applications checked")
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def cmd_apps(args: argparse.Namespace) -> int:
    from .validate import list_applications

    apps, problems = list_applications(args.dir, _validate_options(args, False), args.repo_path)
    if args.output == "json":
        _print_json({"applications": [a.as_json() for a in apps],
                     "problems": [{"where": p.where, "message": p.message} for p in problems]})
    else:
        rows = [("NAME", "PROJECT", "DESTINATION", "NAMESPACE", "PATH/CHART")]
        rows += [(a.name, a.project, a.destination, a.namespace, a.path or a.chart) for a in apps]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        for p in problems:
            print(f"FAIL {p}", file=sys.stderr)
    return EXIT_PROBLEMS if problems else EXIT_OK


def _print_json(doc: Any) -> None:
    json.dump(doc, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


# --- seal ----------------------------------------------------------------------------------------
SEAL_SCOPES = ("strict", "namespace-wide", "cluster-wide")


def _seal_parser(sub: Any) -> None:
    seal = sub.add_parser(
        "seal", help="seal a Secret offline with the cluster's certificate (like kubeseal --cert)",
        description="Seal a v1 Secret into a SealedSecret that only the cluster's controller can open. "
                    "Only the public certificate is needed; the output is safe to commit.",
    )
    seal.add_argument("--cert", type=Path, required=True,
                      help="the cluster's sealing certificate (PEM), e.g. clusters/<cluster>/sealed-secrets-cert.pem")
    seal.add_argument("--scope", choices=SEAL_SCOPES,
                      help="where the values may be opened (default: the Secret's scope annotations, else strict)")
    seal.add_argument("-f", "--file", help="Secret YAML, one or more documents (default: stdin; - is stdin)")
    raw = seal.add_argument_group("raw mode (kubeseal --raw)")
    raw.add_argument("--raw", action="store_true",
                     help="seal one value and print only its base64, for spec.encryptedData.<key>")
    raw.add_argument("--name", help="the Secret's name (required for the strict scope)")
    raw.add_argument("--namespace", help="the Secret's namespace (required unless --scope cluster-wide)")
    raw.add_argument("--from-file", type=Path,
                     help="read the value from this file (default: stdin). The bytes are sealed exactly as given: "
                          "`echo` adds a newline that becomes part of the secret, `printf %%s` does not")
    seal.set_defaults(func=cmd_seal)


def cmd_seal(args: argparse.Namespace) -> int:
    """Sealing needs only the public certificate, so it runs offline and random like kubeseal.

    Deterministic sealing needs the derivation key from the private key; that
    is for the Pulumi program, not for this command.
    """
    from . import yamlio
    from .sealing import Scope, label_for, load_certificate, seal_secret, seal_value

    scope = Scope(args.scope) if args.scope else None
    if args.raw:
        _check_raw_flags(args, scope or Scope.STRICT)
    else:
        given = [flag for flag, value in (("--name", args.name), ("--namespace", args.namespace),
                                          ("--from-file", args.from_file)) if value is not None]
        if given:
            raise InputError(f"{given[0]}: only used with --raw; a Secret file carries its own metadata")
    cert = load_certificate(yamlio.read_input_bytes(args.cert, str(args.cert), expected="a PEM certificate"),
                            str(args.cert))

    if args.raw:
        value = (yamlio.read_input_bytes(args.from_file, str(args.from_file), expected="a file holding the value")
                 if args.from_file is not None else yamlio.read_stream_bytes(sys.stdin.buffer, "<stdin>"))
        chosen = scope or Scope.STRICT
        sealed = seal_value(cert.public_key, value, label_for(chosen, args.namespace or "", args.name or ""))
        sys.stdout.write(base64.b64encode(sealed).decode("ascii") + "\n")
        return EXIT_OK

    if args.file in (None, "-"):
        source, text = "<stdin>", yamlio.decode_text(yamlio.read_stream_bytes(sys.stdin.buffer, "<stdin>"), "<stdin>")
    else:
        source, text = args.file, yamlio.read_file_text(Path(args.file), args.file)
    docs = yamlio.parse_all(text, source, secret=True)
    if not docs:
        raise InputError([Problem(source, "", "holds no Secret to seal")])
    sealed_docs = [
        seal_secret(doc, cert, f"{source} (document {i})" if len(docs) > 1 else source, scope)
        for i, doc in enumerate(docs, 1)
    ]
    sys.stdout.write(yamlio.dump(sealed_docs[0]) if len(sealed_docs) == 1 else yamlio.dump_all(sealed_docs))
    return EXIT_OK


def _check_raw_flags(args: argparse.Namespace, scope: Any) -> None:
    if args.file is not None:
        raise InputError("-f: is for Secret YAML; with --raw the value comes from --from-file or stdin")
    if scope.value != "cluster-wide" and not args.namespace:
        raise InputError(f"--namespace: required with --raw and --scope {scope.value} "
                         "(the value can only be opened in that namespace)")
    if scope.value == "strict" and not args.name:
        raise InputError("--name: required with --raw and --scope strict "
                         "(the value can only be opened by a Secret of that name); or choose --scope namespace-wide")


# --- drift ---------------------------------------------------------------------------------------
def _drift_parser(sub: Any) -> None:
    defaults = opts.ValidateOptions()
    drift = sub.add_parser(
        "drift", help="report what differs between a service's environments that is not meant to",
        description="Build every overlay of every service with two or more environments and compare them,\n"
                    "every environment against the first in sorted order.\n"
                    "Exit 0: no unexpected drift, 1: drift found, 2: bad input or an overlay that does not build.",
        epilog="expected to differ (ignored):\n" + "\n".join(f"  - {e}" for e in opts.DRIFT_EXPECTED_DIFFERENCES)
               + "\nnor what the project (--project) declares: a difference a fresh render of it has too, with the\n"
                 "same values, is left out. Everything else that differs is drift: config values, env vars, probes,\n"
                 "ports, commands, security context, autoscaling targets, objects in one environment only",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    drift.add_argument("dir", type=Path, help="the rendered GitOps tree")
    drift.add_argument("--project", type=Path, default=None,
                       help="project root whose catalog and stack files declare what differs per environment "
                            "(default: . when it holds Pulumi.yaml); declared differences are not drift")
    drift.add_argument("--kubectl", default=defaults.kubectl, help="kubectl binary (with kustomize v5)")
    drift.add_argument("--jobs", type=int, default=defaults.jobs, help=f"parallel builds (default: {defaults.jobs})")
    _output(drift)
    drift.set_defaults(func=cmd_drift)


def cmd_drift(args: argparse.Namespace) -> int:
    """Compare against a fresh render of the project too, so what the project declares is not reported."""
    import tempfile

    from .drift import drift_tree, find_overlays, render_reference

    options = _validate_options(args, False)
    find_overlays(args.dir)   # a wrong DIR is said before the project is rendered
    project = args.project if args.project is not None else Path(".")
    if args.project is None and not (project / layout.PROJECT_FILE).is_file():
        print(f"note: no project here (no {layout.PROJECT_FILE}): differences the catalog and stack files declare "
              "are reported as drift too; give --project", file=sys.stderr)
        report = drift_tree(args.dir, options.kubectl, options.jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="gitops-drift-") as scratch:
            reference = render_reference(project, Path(scratch) / "tree")
            report = drift_tree(args.dir, options.kubectl, options.jobs, reference=reference)
    if args.output == "json":
        _print_json(report.as_json())
    else:
        print("\n".join(report.text_lines()))
    return EXIT_PROBLEMS if report.services else EXIT_OK


# --- promote -------------------------------------------------------------------------------------
def _promote_parser(sub: Any) -> None:
    promote = sub.add_parser(
        "promote", help="pin in one environment the image tags another environment runs (or ran: --tag)",
        description="Read the tag each service runs in --from (the Image Updater's override in the overlay when "
                    "there is one, else the overlay's pin) and pin it in the --to stack's "
                    "gitops-platform:imageTags, editing nothing else in that Pulumi.<stack>.yaml. With --tag, pin "
                    "that tag of one service instead (a rollback or a hotfix): it must have run in --from (default: "
                    "the target's promotion.from, or the target itself when it has none), as the GitOps "
                    "repository's history of that overlay shows.",
    )
    promote.add_argument("service", nargs="*", metavar="SERVICE", help="service(s) of the catalog to promote")
    promote.add_argument("--all", action="store_true", help="every service of the catalog")
    promote.add_argument("--from", dest="source", metavar="ENV",
                         help="environment the tags run in (required without --tag)")
    promote.add_argument("--to", dest="target", required=True, metavar="ENV", help="environment whose stack pins them")
    promote.add_argument("--tag", metavar="TAG",
                         help="pin this tag of one SERVICE (rollback, hotfix); it must have run in the source")
    promote.add_argument("--force", action="store_true",
                         help="promote even when the target's promotion.from names another environment (or none), "
                              "or a --tag never ran in the source")
    promote.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    promote.add_argument("--project", type=Path, default=Path("."),
                         help="project root holding Pulumi.yaml (default: .)")
    promote.add_argument("--out", type=_tree_dir, default=opts.DEFAULT_OUT,
                         help=f"the rendered GitOps tree to read running tags from (default: {opts.DEFAULT_OUT})")
    _output(promote)
    promote.set_defaults(func=cmd_promote)


def cmd_promote(args: argparse.Namespace) -> int:
    """Plan everything (environments, order, running tags, the edited file) before writing the one file."""
    from .project import load_project
    from .promote import plan_promotion, write_promotion

    if args.all and args.service:
        raise InputError([Problem("SERVICE", "", "give service names or --all, not both")])
    if not args.all and not args.service:
        raise InputError([Problem("SERVICE", "", "name the service(s) to promote, or --all for every service")])
    project = load_project(args.project)
    promotion = plan_promotion(project, args.out, args.source, args.target,
                               None if args.all else args.service, force=args.force, tag=args.tag)
    if not args.dry_run:
        write_promotion(args.project, promotion)
    for note in promotion.notes:
        print(f"note: {note}", file=sys.stderr)
    file = str(args.project / promotion.target.file)
    if args.output == "json":
        _print_json({"from": promotion.source.environment, "to": promotion.target.environment, "file": file,
                     "dryRun": args.dry_run, "changes": [c.as_json() for c in promotion.changes],
                     "unchanged": list(promotion.unchanged)})
    else:
        _print_promotion(args, promotion, file)
    return EXIT_OK


def _print_promotion(args: argparse.Namespace, promotion: Any, file: str) -> None:
    source, target = promotion.source.environment, promotion.target.environment
    for c in promotion.changes:
        if c.running:
            where = f"running in {source}, from {c.source}"
        elif c.source:
            where = f"ran in {source}: {c.source}" + (f" at {c.commit}" if c.commit else "")
        else:
            where = f"never ran in {source}: --force"
        print(f"{c.service}: {target} {c.old} -> {c.new} ({where})")
    if not promotion.changes:
        print(f"{target}: nothing to promote from {source}, {len(promotion.unchanged)} unchanged ({file} untouched)")
        return
    verb = "would write" if args.dry_run else "wrote"
    print(f"{target}: {len(promotion.changes)} promoted from {source}, {len(promotion.unchanged)} unchanged "
          f"({verb} {file})")
    if not args.dry_run:
        print(f"apply it: {_apply_hint(args, promotion.target.name)}")


def _apply_hint(args: argparse.Namespace, stack: str) -> str:
    """The commands that bring the new pin into the tree and the cluster, with the user's own paths."""
    where = "".join(f" --{flag} {value}" for flag, value, default in (
        ("project", args.project, Path(".")), ("out", args.out, opts.DEFAULT_OUT)) if value != default)
    return (f"python -m gitops render --stack {stack}{where} (the GitOps tree), "
            f"or pulumi up --stack {stack} (stack and tree)")


# --- new-cluster ---------------------------------------------------------------------------------
def _new_cluster_parser(sub: Any) -> None:
    p = sub.add_parser(
        "new-cluster", help="write Pulumi.<NAME>.yaml for one more cluster of an existing environment's kind",
        description="Copy the stack file of the stack serving --env into a new stack NAME: its own environment, "
                    "cluster and VPC, --region, profile = that environment's profile (same catalog overrides), "
                    "not the registry owner, no image tag pins, no secret config; with --hub a spoke of that hub. "
                    "The project must load with the new file, else nothing is written (exit 2).")
    p.add_argument("name", metavar="NAME", help="the new stack, environment and EKS cluster name (a DNS label, <= 40)")
    p.add_argument("--env", required=True, help="the existing environment to copy (e.g. prod)")
    p.add_argument("--region", required=True, help="AWS region of the new cluster (e.g. eu-central-1)")
    p.add_argument("--hub", metavar="STACK", help="register the new cluster as a spoke of this hub stack")
    p.add_argument("--project", type=Path, default=Path("."), help="project root holding Pulumi.yaml (default: .)")
    p.set_defaults(func=cmd_new_cluster)


def cmd_new_cluster(args: argparse.Namespace) -> int:
    from .newcluster import plan_new_cluster, write_new_cluster

    command = (f"python -m gitops new-cluster {args.name} --env {args.env} --region {args.region}"
               + (f" --hub {args.hub}" if args.hub else ""))
    plan = plan_new_cluster(args.project, args.name, args.env, args.region, args.hub, command)
    path = write_new_cluster(args.project, plan)
    print(f"wrote {path} (environment {plan.name}, profile {plan.source.profile}, from {plan.source.file})")
    print(f"next: {plan.next_command}")
    return EXIT_OK


# --- config-schema -------------------------------------------------------------------------------
def _config_schema_parser(sub: Any) -> None:
    p = sub.add_parser(
        "config-schema", help="regenerate (or check) Pulumi.yaml's config section and docs/configuration.md",
        description="Both are generated from the stack-config schema, gitops/configschema.py: --write rewrites the "
                    "ones that differ (only the config: section of Pulumi.yaml), --check lists them and exits 1.")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the generated files that are out of date")
    action.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date")
    p.add_argument("--project", type=Path, default=Path("."), help="project root holding Pulumi.yaml (default: .)")
    p.set_defaults(func=cmd_config_schema)


def cmd_config_schema(args: argparse.Namespace) -> int:
    from .configdocs import generated_files, stale_files, write_generated

    if not (args.project / layout.PROJECT_FILE).is_file():
        raise InputError([Problem(str(args.project / layout.PROJECT_FILE), "",
                                  "not a gitops-platform project (no Pulumi.yaml); run from the project root or "
                                  "pass --project")])
    files = generated_files(args.project)
    if args.check:
        stale = stale_files(args.project, files)
        for path in stale:
            print(f"{path}: out of date; run `python -m gitops config-schema --write`")
        return EXIT_PROBLEMS if stale else EXIT_OK
    changed = write_generated(args.project, files)
    for generated in files:
        print(f"{'wrote' if generated.path in changed else 'unchanged'} {generated.path}")
    return EXIT_OK


def _diff_parser(sub: Any) -> None:
    defaults = opts.ValidateOptions()
    p = sub.add_parser("diff", help="what a change does to the GitOps repository and to each Application, offline",
                       description="Render the project at two git revisions and report the GitOps files and the "
                                   "Applications (and their manifests) that change. Exit 0 when nothing changes, "
                                   "1 when something does, 2 on bad input.")
    p.add_argument("--base", required=True, help="the revision to compare against (e.g. origin/main)")
    p.add_argument("--head", help="the revision to compare (default: the working tree)")
    p.add_argument("--format", choices=("text", "markdown"), default="text", help="text (default) or GitHub Markdown")
    p.add_argument("--output-dir", type=Path, help="write the Markdown parts as diff-part-<n>.md here instead of stdout")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when something changes")
    p.add_argument("--project", type=Path, default=Path("."), help="project root holding Pulumi.yaml (default: .)")
    p.add_argument("--kubectl", default=defaults.kubectl, help="kubectl binary (with kustomize v5)")
    p.add_argument("--jobs", type=int, default=defaults.jobs, help=f"parallel builds (default: {defaults.jobs})")
    _output(p)
    p.set_defaults(func=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import diff_revisions
    from .diffreport import markdown_parts, text_report

    if args.output_dir is not None and args.format != "markdown":
        raise InputError([Problem("--output-dir", "", "writes Markdown parts; add --format markdown")])
    if args.output_dir is not None:
        _check_output_dir(args.output_dir)   # before the renders, which take a while
    report = diff_revisions(args.project, args.base, args.head, _validate_options(args, with_schemas=False))
    if args.output == "json":
        _print_json(report.as_json())
    elif args.format == "markdown":
        parts = markdown_parts(report)
        if args.output_dir is not None:
            _write_parts(args.output_dir, parts)
            print(f"{len(parts)} part(s) written to {args.output_dir}")
        else:
            sys.stdout.write("\n".join(parts))
    else:
        sys.stdout.write(text_report(report))
    return EXIT_OK if args.exit_zero or not report.changed else EXIT_PROBLEMS


def _check_output_dir(directory: Path) -> None:
    """Refuse an --output-dir the parts cannot be written to, naming the path that is in the way."""
    what = "--output-dir names the directory the Markdown parts are written to (created when missing)"
    for path in (directory, *directory.parents):
        if path.exists() and not path.is_dir():
            raise InputError([Problem(str(path), "", f"is a file, not a directory: {what}")])
        if path.is_dir():
            break
    for stale in sorted(directory.glob("diff-part-*.md")) if directory.is_dir() else []:
        if stale.is_dir() and not stale.is_symlink():
            raise InputError([Problem(str(stale), "", "is a directory where an earlier part would be replaced; "
                                      "remove it or choose another --output-dir")])


def _write_parts(directory: Path, parts: Sequence[str]) -> None:
    """Replace the earlier ``diff-part-<n>.md`` files with these parts; a failure is one message, not a traceback."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("diff-part-*.md"):
            stale.unlink()
        for n, part in enumerate(parts, start=1):
            (directory / f"diff-part-{n}.md").write_text(part, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{exc.filename or directory}: cannot write the Markdown parts ({exc.strerror}); "
                          "choose a writable --output-dir") from None
