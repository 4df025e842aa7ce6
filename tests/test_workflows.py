"""The GitHub Actions workflows: their security properties (token permissions, allow-listed
actions, secrets only where trusted code runs, no script injection, who may trigger a deploy
or a comment, the cluster-access check before credentials) and that every command they run
exists (CLI subcommands and options, make targets, scripts). Settings that a test could only
restate (option values, trigger paths, runner labels) are the workflow files' own business.

GitHub itself is not reachable here, so these tests read the YAML, and run the scripts the
workflows embed where that is possible offline: the comment workflow's JavaScript with Node
against a fake GitHub API (skipped without Node), the stack-settings step against the stack
files, and the GitOps commit-and-push step against a local bare repository.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops import cli

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
WORKFLOW_NAMES = sorted(p.name for p in WORKFLOWS.glob("*.y*ml"))

CI, DIFF, COMMENT, PREVIEW, UP = (
    "ci.yml", "gitops-diff.yml", "gitops-diff-comment.yml", "pulumi-preview.yml", "pulumi-up.yml")

# Every action a workflow may use, at the major version its inputs were checked against.
# A typo, another action or another major fails here rather than on GitHub.
ALLOWED_ACTIONS = frozenset({
    "actions/checkout@v6",
    "actions/setup-python@v6",
    "actions/upload-artifact@v7",
    "actions/download-artifact@v7",
    "actions/github-script@v9",
    "aws-actions/configure-aws-credentials@v6",
    "azure/setup-kubectl@v5",
    "pulumi/actions@v7",
})

# The only write scopes each workflow's token may have (workflow and job level together).
WRITE_SCOPES = {
    CI: set(),
    DIFF: set(),
    COMMENT: {"pull-requests"},
    PREVIEW: {"id-token", "pull-requests"},
    UP: {"id-token"},
}

STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in REPO_ROOT.glob("Pulumi.*.yaml"))
PART_MARKER = "<!-- gitops-platform-diff part {n}/{m} -->"


@cache
def load(name: str) -> dict[str, Any]:
    """The workflow as data. YAML 1.1 reads the key ``on`` as True; it is put back as "on"."""
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{name}: not a YAML mapping"
    if True in data:
        data["on"] = data.pop(True)
    return data


def jobs(name: str) -> dict[str, dict[str, Any]]:
    return load(name)["jobs"]


def steps(name: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for job_name, job in jobs(name).items():
        for index, step in enumerate(job.get("steps") or []):
            yield job_name, index, step


def steps_using(name: str, action: str, job: str | None = None) -> list[dict[str, Any]]:
    return [s for j, _, s in steps(name)
            if (job is None or j == job) and str(s.get("uses", "")).split("@")[0] == action]


def on(name: str) -> dict[str, Any]:
    trigger = load(name)["on"]
    if isinstance(trigger, str):
        return {trigger: None}
    if isinstance(trigger, list):
        return dict.fromkeys(trigger)
    return trigger


def truthy(value: Any) -> bool:
    return value is True or value == "true"


# Shell commands of the `run:` steps ---------------------------------------------------------

_OPERATORS = {";", "&&", "||", "|", "&", "(", ")", ";;", "|&"}
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


def shell_commands(script: str) -> Iterator[list[str]]:
    """The simple commands of a script, as argv lists (heredoc bodies skipped, ``\\`` joined)."""
    lines = script.replace("\\\n", " ").splitlines()
    heredoc_end = None
    for line in lines:
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        marker = _HEREDOC.search(line)
        if marker:
            heredoc_end = marker.group(2)
            line = line[:marker.start()]
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:
            tokens = line.split()
        command: list[str] = []
        redirect_target = False
        for token in [*tokens, ";"]:
            if redirect_target:
                redirect_target = False
            elif token in _OPERATORS or set(token) <= set(";&|()"):
                if command:
                    yield command
                command = []
            elif set(token) <= set("<>&"):  # a redirection: drop it, its fd number and its target
                if command and command[-1].isdigit():
                    command.pop()
                redirect_target = True
            else:
                command.append(token)


def run_steps(name: str) -> Iterator[tuple[str, int, str]]:
    for job_name, index, step in steps(name):
        if "run" in step:
            yield job_name, index, str(step["run"])


def all_commands(name: str) -> Iterator[list[str]]:
    for _, _, script in run_steps(name):
        yield from shell_commands(script)


_PYTHON = re.compile(r"(^|/)python(3(\.\d+)?)?$")


def gitops_invocations(name: str) -> list[list[str]]:
    """The argv after ``python -m gitops`` of every invocation in the workflow."""
    found = []
    for argv in all_commands(name):
        for i in range(len(argv) - 2):
            if _PYTHON.search(argv[i]) and argv[i + 1] == "-m" and argv[i + 2] == "gitops":
                found.append(argv[i + 3:])
    return found


def cli_subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    targets: set[str] = set()
    for match in re.finditer(r"^([A-Za-z0-9_./$() -]+?)\s*::?(?!=)", text, flags=re.MULTILINE):
        targets.update(t for t in match.group(1).split() if not t.startswith((".", "$")))
    return targets


def make_goals(argv: list[str]) -> list[str]:
    goals, skip = [], False
    for token in argv[1:]:
        if skip:
            skip = False
        elif token in {"-C", "-f", "-I", "-j", "-o", "-W", "--directory", "--file"}:
            skip = True
        elif not token.startswith("-") and "=" not in token:
            goals.append(token)
    return goals


# Every workflow ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_workflow_has_name_trigger_jobs_and_permissions(name: str) -> None:
    data = load(name)
    assert isinstance(data.get("name"), str) and data["name"], f"{name}: no name"
    assert on(name), f"{name}: no trigger (on)"
    assert isinstance(data.get("jobs"), dict) and data["jobs"], f"{name}: no jobs"
    assert "permissions" in data and isinstance(data["permissions"], dict), \
        f"{name}: no workflow-level permissions block (the default token may write everything)"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_job_has_a_timeout_and_steps(name: str) -> None:
    for job_name, job in jobs(name).items():
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and 0 < timeout <= 360, f"{name}: job {job_name} has no timeout-minutes"
        assert job.get("steps"), f"{name}: job {job_name} has no steps"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_action_is_allow_listed(name: str) -> None:
    used = [str(s["uses"]) for _, _, s in steps(name) if "uses" in s]
    used += [str(j["uses"]) for j in jobs(name).values() if "uses" in j]
    assert used, f"{name}: uses no action"
    unknown = sorted(set(used) - ALLOWED_ACTIONS)
    assert not unknown, f"{name}: {unknown} not in the allow-list {sorted(ALLOWED_ACTIONS)}"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_permissions_grant_only_the_expected_writes(name: str) -> None:
    blocks = [load(name)["permissions"]] + [j["permissions"] for j in jobs(name).values() if "permissions" in j]
    writes = set()
    for block in blocks:
        assert isinstance(block, dict), f"{name}: permissions must list scopes, not {block!r}"
        assert set(block.values()) <= {"read", "write", "none"}, f"{name}: {block}"
        writes |= {scope for scope, level in block.items() if level == "write"}
    assert writes <= WRITE_SCOPES.get(name, set()), f"{name}: writes {sorted(writes)}"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_run_scripts_take_values_from_env_not_expressions(name: str) -> None:
    """`${{ }}` inside a script is pasted into the shell (script injection); env is not."""
    for job_name, index, script in run_steps(name):
        assert "${{" not in script, f"{name}: job {job_name} step {index} interpolates an expression into its script"


def _invocation_cases() -> list[Any]:
    cases = []
    for name in WORKFLOW_NAMES:
        try:
            invocations = gitops_invocations(name)
        except Exception:
            continue
        for argv in invocations:
            command = argv[0] if argv else "<none>"
            cases.append(pytest.param(name, argv, id=f"{name}:{command}"))
    return cases


@pytest.mark.parametrize(("name", "argv"), _invocation_cases())
def test_gitops_invocations_use_an_existing_command_and_options(name: str, argv: list[str]) -> None:
    commands = cli_subcommands()
    assert argv and argv[0] in commands, \
        f"{name}: `python -m gitops {' '.join(argv)}`: the CLI has no such command (it has {sorted(commands)})"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            cli._parser().parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"{name}: `python -m gitops {' '.join(argv)}` does not parse: {stderr.getvalue().strip()} ({exc})")


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_make_targets_and_scripts_exist(name: str) -> None:
    targets = make_targets()
    for argv in all_commands(name):
        if Path(argv[0]).name in ("make", "gmake"):
            missing = [g for g in make_goals(argv) if g not in targets]
            assert not missing, f"{name}: make {missing}: no such Makefile target (there are {sorted(targets)})"
        if argv[0] in ("bash", "sh") and len(argv) > 1 and not argv[1].startswith("-"):
            assert (REPO_ROOT / argv[1]).is_file(), f"{name}: {argv[1]} does not exist"


def test_the_helpers_find_commands() -> None:
    """The command scanner itself: continuations, operators, redirections and heredocs."""
    script = ("make venv && .venv/bin/python -m gitops render \\\n  --all --out x > log 2>&1\n"
              "python3 - >> out <<'EOF'\nmake nothing\nEOF\nbash .ci/run; echo done # make nothing\n")
    assert list(shell_commands(script)) == [
        ["make", "venv"], [".venv/bin/python", "-m", "gitops", "render", "--all", "--out", "x"],
        ["python3", "-"], ["bash", ".ci/run"], ["echo", "done"]]
    assert {"venv", "test", "render"} <= make_targets()


def test_every_workflow_downloads_one_pinned_kubectl_release() -> None:
    """The runner fetches the kubectl binary: "latest" or a range would run whatever is published that day."""
    versions = {str(s["with"]["version"]) for name in WORKFLOW_NAMES for s in steps_using(name, "azure/setup-kubectl")}
    assert len(versions) == 1, f"kubectl versions across workflows: {sorted(versions)}"
    [version] = versions
    assert re.fullmatch(r"v1\.\d+\.\d+", version), f"kubectl {version} is not a pinned release"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_pulumi_cli_matches_the_sdk_pin(name: str) -> None:
    pin = re.search(r"^pulumi==(\S+)$", (REPO_ROOT / "requirements.txt").read_text(), flags=re.MULTILINE)
    assert pin, "requirements.txt pins no pulumi"
    for step in steps_using(name, "pulumi/actions"):
        assert str(step["with"].get("pulumi-version")) == pin.group(1)
        assert "secrets.PULUMI_ACCESS_TOKEN" in str(step.get("env", {}).get("PULUMI_ACCESS_TOKEN"))


# GitOps diff (pull request, untrusted) ---------------------------------------------------------

def test_diff_workflow_runs_without_secrets_or_write_access() -> None:
    text = (WORKFLOWS / DIFF).read_text(encoding="utf-8")
    assert "secrets." not in text and "secrets[" not in text
    assert set(on(DIFF)) == {"pull_request"}, "pull_request only: never pull_request_target"
    blocks = [load(DIFF)["permissions"]] + [j.get("permissions", {}) for j in jobs(DIFF).values()]
    assert all(level in ("read", "none") for block in blocks for level in block.values())
    for step in steps_using(DIFF, "actions/checkout"):
        assert step["with"]["fetch-depth"] == 0, "the base revision needs the full history"
        assert step["with"]["persist-credentials"] is False


# GitOps diff comment (workflow_run, trusted) ---------------------------------------------------

def test_comment_workflow_follows_the_diff_workflow() -> None:
    trigger = on(COMMENT)
    assert set(trigger) == {"workflow_run"}
    assert trigger["workflow_run"]["workflows"] == [load(DIFF)["name"]]
    assert trigger["workflow_run"]["types"] == ["completed"]
    for job in jobs(COMMENT).values():
        assert "workflow_run.conclusion == 'success'" in job["if"]
        assert "workflow_run.event == 'pull_request'" in job["if"]


def test_comment_workflow_never_runs_the_artifact() -> None:
    assert not steps_using(COMMENT, "actions/checkout"), "nothing of the pull request is checked out"
    assert not list(run_steps(COMMENT)), "no shell step: the artifact is only read by the script"
    [download] = steps_using(COMMENT, "actions/download-artifact")
    [upload] = steps_using(DIFF, "actions/upload-artifact")
    assert download["with"]["name"] == upload["with"]["name"]
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"


def comment_script() -> str:
    [step] = steps_using(COMMENT, "actions/github-script")
    return str(step["with"]["script"])


def test_comment_script_expects_the_cli_marker_and_part_size() -> None:
    diffreport = pytest.importorskip("gitops.diffreport")
    assert diffreport.MARKER.format(n=1, total=2) == PART_MARKER.format(n=1, m=2)
    script = comment_script()
    assert "gitops-platform-diff part" in script
    found = re.search(r"const MAX_BODY = (\d+);", script)
    assert found is not None, "the script declares MAX_BODY"
    limit = int(found.group(1))
    assert diffreport.PART_LIMIT <= limit <= 65536
    assert "eval(" not in script and "child_process" not in script and "new Function" not in script


# A fake of the GitHub API the script uses; prints what the script did as JSON.
_HARNESS = r"""
const fs = require('fs');
const scenario = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const script = fs.readFileSync(process.argv[3], 'utf8');
process.env.REPORT_DIR = scenario.reportDir;
const calls = [];
const messages = [];
let comments = scenario.comments;
let nextId = 1000;
const notFound = () => Object.assign(new Error('Not Found'), { status: 404 });
const github = {
  paginate: async (method, params) => (await method(params)).data,
  rest: {
    pulls: {
      get: async ({ pull_number }) => {
        calls.push(['get', pull_number]);
        const pr = scenario.pulls[String(pull_number)];
        if (!pr) throw notFound();
        return { data: pr };
      },
    },
    issues: {
      listComments: async ({ issue_number }) => ({ data: comments.filter((c) => c.issue === issue_number) }),
      createComment: async ({ issue_number, body }) => {
        calls.push(['create', issue_number, body]);
        comments.push({ id: nextId++, issue: issue_number, user: { login: 'github-actions[bot]' }, body });
      },
      updateComment: async ({ comment_id, body }) => {
        calls.push(['update', comment_id, body]);
        comments.find((c) => c.id === comment_id).body = body;
      },
      deleteComment: async ({ comment_id }) => {
        calls.push(['delete', comment_id]);
        comments = comments.filter((c) => c.id !== comment_id);
      },
    },
  },
};
const core = {
  info: () => {}, notice: (m) => messages.push(m), warning: (m) => messages.push(m),
  summary: { addRaw() { return this; }, async write() {} },
};
const context = { repo: { owner: 'o', repo: 'r' }, payload: { workflow_run: scenario.run } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
(async () => {
  let error = null;
  try {
    await new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, core);
  } catch (e) {
    error = String(e && e.message);
  }
  process.stdout.write(JSON.stringify({ error, calls, messages, comments }));
})();
"""

BOT = {"login": "github-actions[bot]", "type": "Bot"}
HUMAN = {"login": "someone", "type": "User"}
HEAD = "a" * 40
RUN = {"id": 7, "head_sha": HEAD, "head_repository": {"full_name": "fork/r"}}
OPEN_PR = {"number": 12, "state": "open", "head": {"sha": HEAD, "repo": {"full_name": "fork/r"}}}


def part(n: int, m: int, text: str = "") -> str:
    return PART_MARKER.format(n=n, m=m) + f"\n{text or f'part {n} of {m}'}\n"


@pytest.fixture
def post(tmp_path: Path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    harness = tmp_path / "harness.js"
    harness.write_text(_HARNESS, encoding="utf-8")
    script = tmp_path / "script.js"
    script.write_text(comment_script(), encoding="utf-8")

    def _post(files: dict[str, str], comments: Sequence[dict[str, Any]] = (), pulls: dict[str, Any] | None = None,
              run: dict[str, Any] = RUN) -> dict[str, Any]:
        report = tmp_path / "report"
        shutil.rmtree(report, ignore_errors=True)
        report.mkdir()
        for name, content in files.items():
            if content.startswith("->"):
                (report / name).symlink_to(content[2:])
            else:
                (report / name).write_text(content, encoding="utf-8")
        scenario = tmp_path / "scenario.json"
        scenario.write_text(json.dumps({
            "reportDir": str(report), "run": run, "pulls": {"12": OPEN_PR} if pulls is None else pulls,
            "comments": [{"issue": 12, **c} for c in comments],
        }), encoding="utf-8")
        done = subprocess.run([node, str(harness), str(scenario), str(script)],
                              capture_output=True, text=True, timeout=30, check=True)
        return json.loads(done.stdout)

    return _post


def writes(result: dict[str, Any]) -> list[list[Any]]:
    return [c for c in result["calls"] if c[0] != "get"]


def test_comment_creates_one_comment_per_part(post) -> None:
    result = post({"pr-number": "12\n", "diff-part-1.md": part(1, 2), "diff-part-2.md": part(2, 2)})
    assert result["error"] is None
    assert writes(result) == [["create", 12, part(1, 2)], ["create", 12, part(2, 2)]]


def test_comment_updates_in_place_and_deletes_parts_the_report_no_longer_has(post) -> None:
    comments = [
        {"id": 1, "user": BOT, "body": part(1, 3, "old")},
        {"id": 2, "user": HUMAN, "body": part(2, 3, "a reviewer quoting the marker")},
        {"id": 3, "user": BOT, "body": part(2, 3)},
        {"id": 4, "user": BOT, "body": "another bot comment"},
        {"id": 5, "user": BOT, "body": part(3, 3)},
    ]
    result = post({"pr-number": "12", "diff-part-1.md": part(1, 2, "new"), "diff-part-2.md": part(2, 2)},
                  comments=comments)
    assert result["error"] is None
    # Part 2 changed only in its marker (2/3 → 2/2): an update too. The human's comment stays.
    assert writes(result) == [["update", 1, part(1, 2, "new")], ["update", 3, part(2, 2)], ["delete", 5]]
    assert sorted(c["id"] for c in result["comments"]) == [1, 2, 3, 4]


def test_comment_leaves_unchanged_parts_alone_and_removes_duplicates(post) -> None:
    comments = [
        {"id": 1, "user": BOT, "body": part(1, 1)},
        {"id": 2, "user": BOT, "body": part(1, 1, "a duplicate from an earlier race")},
    ]
    result = post({"pr-number": "12", "diff-part-1.md": part(1, 1)}, comments=comments)
    assert result["error"] is None
    assert writes(result) == [["delete", 2]]


@pytest.mark.parametrize("number", ["0", "12abc", "-12", "../12", "1e3", "", "12345678901"])
def test_comment_refuses_a_malformed_pr_number(post, number: str) -> None:
    result = post({"pr-number": number, "diff-part-1.md": part(1, 1)})
    assert result["error"] and "pr-number" in result["error"]
    assert result["calls"] == []


def test_comment_posts_nothing_when_the_pull_request_moved_on_or_is_another(post) -> None:
    moved = {"12": {**OPEN_PR, "head": {"sha": "b" * 40, "repo": {"full_name": "fork/r"}}}}
    result = post({"pr-number": "12", "diff-part-1.md": part(1, 1)}, pulls=moved)
    assert result["error"] is None and writes(result) == [] and result["messages"]
    result = post({"pr-number": "13", "diff-part-1.md": part(1, 1)})
    assert result["error"] and writes(result) == []


@pytest.mark.parametrize("files", [
    {"diff-part-1.md": part(1, 2)},                                    # says 2 parts, has 1
    {"diff-part-1.md": part(1, 2), "diff-part-3.md": part(2, 2)},        # a gap
    {"diff-part-1.md": "no marker\n"},
    {"diff-part-1.md": "->/etc/hostname"},                              # a link, not a file
    {"diff-part-1.md": part(1, 1, "x" * 70000)},                        # over a comment's size
    {},                                                                 # no part at all
], ids=["count", "gap", "marker", "symlink", "size", "empty"])
def test_comment_refuses_a_malformed_report(post, files: dict[str, str]) -> None:
    result = post({"pr-number": "12", **files})
    assert result["error"]
    assert writes(result) == []


# Pulumi preview (pull request, with credentials) -----------------------------------------------

def test_preview_skips_forks_and_covers_every_stack() -> None:
    [job] = jobs(PREVIEW).values()
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS
    assert set(on(PREVIEW)) == {"pull_request"}


# Pulumi up (main) ------------------------------------------------------------------------------

def test_up_chains_dev_staging_prod_each_in_its_environment() -> None:
    up = jobs(UP)
    assert list(up) == ["dev", "staging", "prod"] and sorted(up) == STACKS
    assert "needs" not in up["dev"]
    assert up["staging"]["needs"] in ("dev", ["dev"])
    assert up["prod"]["needs"] in ("staging", ["staging"])
    for stack, job in up.items():
        environment = job["environment"]
        assert (environment if isinstance(environment, str) else environment["name"]) == stack
        assert job["env"]["STACK"] == stack
        assert job["concurrency"]["cancel-in-progress"] is False
    groups = [job["concurrency"]["group"] for job in up.values()]
    assert len(set(groups)) == len(groups) and all(stack in g for stack, g in zip(up, groups, strict=True))


def test_up_runs_only_on_pushes_to_main() -> None:
    """The deploy roles are assumed only for reviewed code: no pull_request, workflow_dispatch or other branch."""
    assert set(on(UP)) == {"push"} and on(UP)["push"]["branches"] == ["main"]


def test_every_stack_runs_the_same_steps_up_then_commit() -> None:
    up = jobs(UP)
    assert up["dev"]["steps"] == up["staging"]["steps"] == up["prod"]["steps"]
    stack_steps = up["dev"]["steps"]
    uses = [str(s.get("uses", "")).split("@")[0] for s in stack_steps]
    [pulumi] = [s for s in stack_steps if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "up" and truthy(pulumi["with"]["refresh"])
    assert "env.STACK" in pulumi["with"]["stack-name"]
    [gitops_checkout] = [s for s in stack_steps if s.get("with", {}).get("repository")]
    assert gitops_checkout["with"]["repository"] == "${{ vars.GITOPS_REPOSITORY }}"
    assert "secrets.GITOPS_REPO_TOKEN" in gitops_checkout["with"]["token"]
    # Clone the GitOps repository, then up, then commit and push that clone.
    commit_index = next(i for i, s in enumerate(stack_steps) if "git push" in str(s.get("run", "")))
    assert stack_steps.index(gitops_checkout) < uses.index("pulumi/actions") < commit_index
    commit = stack_steps[commit_index]
    assert commit["working-directory"] == gitops_checkout["with"]["path"]
    assert "${STACK}" in commit["run"] and "${SOURCE}" in commit["run"], "the message names the stack and commit"
    assert "github.sha" in commit["env"]["SOURCE"]


def _stack_settings_code(name: str, job: str) -> str:
    [step] = [s for s in jobs(name)[job]["steps"] if s.get("id") == "stack"]
    heredoc = re.search(r"<<'EOF'\n(.*?)\nEOF", step["run"], flags=re.DOTALL)
    assert heredoc is not None, f"{step.get('name')}: no <<'EOF' script"
    return heredoc.group(1)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_settings_step_reads_each_stack_file(stack: str) -> None:
    code = _stack_settings_code(UP, "dev")
    assert code == _stack_settings_code(PREVIEW, "preview")
    env = {"PATH": "/usr/bin:/bin", "STACK": stack, "ROLE_ARN": "arn:aws:iam::1:role/r", "GITOPS_REPOSITORY": "o/g"}
    done = subprocess.run([sys.executable, "-"], input=code, text=True, capture_output=True, cwd=REPO_ROOT,
                          env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    outputs = dict(line.split("=", 1) for line in done.stdout.splitlines())
    config = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    assert outputs == {"region": config["aws:region"], "revision": "main", "checkout": "gitops-repo"}
    env.update(ROLE_ARN="", GITOPS_REPOSITORY="")
    done = subprocess.run([sys.executable, "-"], input=code, text=True, capture_output=True, cwd=REPO_ROOT,
                          env=env, timeout=30)
    assert done.returncode != 0 and f"AWS_ROLE_ARN_{stack.upper()}, GITOPS_REPOSITORY" in done.stderr


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def gitops_clone(tmp_path: Path) -> tuple[Path, Path]:
    """A bare 'GitOps repository' with one commit on main, and a clone of it."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    remote, clone = tmp_path / "remote.git", tmp_path / "clone"
    _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    _git(tmp_path, "clone", "--quiet", str(remote), str(clone))
    _git(clone, "config", "user.name", "t")
    _git(clone, "config", "user.email", "t@example.com")
    (clone / "README").write_text("gitops\n")
    _git(clone, "add", "-A")
    _git(clone, "commit", "--quiet", "-m", "init")
    _git(clone, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    return remote, clone


def _commit_step(clone: Path) -> subprocess.CompletedProcess[str]:
    [step] = [s for s in jobs(UP)["dev"]["steps"] if "git push" in str(s.get("run", ""))]
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(clone.parent), "STACK": "dev", "REVISION": "main",
           "SOURCE": "acme/platform@" + "c" * 40, "RUN_URL": "https://github.com/acme/platform/actions/runs/1",
           "GITOPS_REPO_TOKEN": "not-a-token", "GITHUB_SERVER_URL": "https://github.com"}
    # As the runner runs it (bash -e), without the back-off pauses.
    return subprocess.run(["bash", "-e", "-c", "sleep() { :; }\n" + step["run"]], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=60)


def test_commit_step_does_nothing_without_changes(gitops_clone: tuple[Path, Path]) -> None:
    remote, clone = gitops_clone
    before = _git(remote, "rev-parse", "main")
    done = _commit_step(clone)
    assert done.returncode == 0, done.stderr
    assert _git(remote, "rev-parse", "main") == before


def test_commit_step_commits_and_rebases_onto_concurrent_pushes(gitops_clone: tuple[Path, Path], tmp_path: Path) -> None:
    remote, clone = gitops_clone
    other = tmp_path / "other"  # another stack pushed first
    _git(tmp_path, "clone", "--quiet", str(remote), str(other))
    (other / "staging.txt").write_text("staging\n")
    _git(other, "add", "-A")
    _git(other, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "staging")
    _git(other, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    (clone / "dev.txt").write_text("dev\n")

    done = _commit_step(clone)
    assert done.returncode == 0, done.stderr
    log = _git(remote, "log", "--format=%s%n%b", "main")
    assert log.startswith("dev: pulumi up of acme/platform@" + "c" * 40 + "\n"
                          "https://github.com/acme/platform/actions/runs/1")
    files = _git(remote, "ls-tree", "--name-only", "main").split()
    assert {"README", "dev.txt", "staging.txt"} <= set(files)
    assert "not-a-token" not in (clone / ".git" / "config").read_text()


# Cluster access: the role and the runner, checked before anything touches a stack ---------------

ACCESS_STEP = "Cluster access from this job"


def _access_step(name: str, job: str) -> dict[str, Any]:
    [step] = [s for s in jobs(name)[job]["steps"] if s.get("name") == ACCESS_STEP]
    return step


def _access_check(stack: str, purpose: str, role: str, runner: str = "github-hosted",
                  egress: str = "") -> subprocess.CompletedProcess[str]:
    """The step's script as the runner runs it, for one stack of the repository."""
    heredoc = re.search(r"<<'EOF'\n(.*?)\nEOF", _access_step(UP, "dev")["run"], flags=re.DOTALL)
    assert heredoc is not None, "the access step runs a <<'EOF' script"
    code = heredoc.group(1)
    env = {"PATH": "/usr/bin:/bin", "STACK": stack, "PURPOSE": purpose, "ROLE_ARN": role,
           "RUNNER_ENVIRONMENT": runner, "RUNNER_CIDRS": egress}
    return subprocess.run([sys.executable, "-"], input=code, text=True, capture_output=True, cwd=REPO_ROOT,
                          env=env, timeout=30)


def _roles(stack: str) -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"][
        "gitops-platform:cluster"]


def test_the_access_check_runs_before_credentials_with_the_role_that_will_be_assumed() -> None:
    for name, job, purpose in ((UP, "dev", "up"), (PREVIEW, "preview", "preview")):
        stack_steps = jobs(name)[job]["steps"]
        step = _access_step(name, job)
        [aws] = steps_using(name, "aws-actions/configure-aws-credentials", job)
        assert stack_steps.index(step) < stack_steps.index(aws)
        assert step["env"]["ROLE_ARN"] == aws["with"]["role-to-assume"]
        assert step["env"]["PURPOSE"] == purpose
        assert step["env"]["RUNNER_ENVIRONMENT"] == "${{ runner.environment }}"
    assert _access_step(UP, "dev")["run"] == _access_step(PREVIEW, "preview")["run"]


def test_a_restricted_endpoint_stops_a_github_hosted_runner_naming_the_file_key_and_variable() -> None:
    done = _access_check("prod", "up", _roles("prod")["deployRoleArn"])
    assert done.returncode != 0
    assert "Pulumi.prod.yaml: the cluster's API endpoint admits only 203.0.113.0/24 (cluster.publicAccessCidrs)" \
        in done.stdout
    assert "set the repository variable PULUMI_RUNNER_PROD" in done.stdout
    assert "prod: stopped before touching the stack" in done.stderr


def test_a_self_hosted_runner_may_reach_a_restricted_endpoint() -> None:
    done = _access_check("prod", "up", _roles("prod")["deployRoleArn"], runner="self-hosted")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_hosted_runner_whose_static_egress_is_allowed_may_reach_a_restricted_endpoint() -> None:
    done = _access_check("prod", "preview", _roles("prod")["previewRoleArn"], egress="203.0.113.10/32,203.0.113.11/32")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_hosted_runner_whose_egress_is_not_allowed_is_stopped() -> None:
    done = _access_check("prod", "up", _roles("prod")["deployRoleArn"], egress="203.0.113.10/32 198.51.100.7/32")
    assert done.returncode != 0
    assert "whose egress 198.51.100.7/32 (PULUMI_RUNNER_CIDRS_PROD) is outside it" in done.stdout


@pytest.mark.parametrize("stack", [s for s in STACKS if not _roles(s).get("publicAccessCidrs")])
def test_an_endpoint_open_to_everyone_needs_no_runner_setting(stack: str) -> None:
    done = _access_check(stack, "up", _roles(stack)["deployRoleArn"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_up_stops_when_the_assumed_role_is_not_the_stacks_deploy_role() -> None:
    done = _access_check("dev", "up", _roles("dev")["previewRoleArn"])
    assert done.returncode != 0
    assert (f"AWS_ROLE_ARN_DEV is '{_roles('dev')['previewRoleArn']}', but Pulumi.dev.yaml gives cluster access only "
            f"to {_roles('dev')['deployRoleArn']} (cluster.deployRoleArn, cluster.adminRoleArns)") in done.stdout


def test_previews_may_run_as_the_stacks_preview_role() -> None:
    done = _access_check("dev", "preview", _roles("dev")["previewRoleArn"])
    assert done.returncode == 0, done.stdout + done.stderr
