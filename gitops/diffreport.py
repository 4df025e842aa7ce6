"""The ``diff`` report as text (terminals, logs) or GitHub-flavoured Markdown (pull-request comments).

Markdown must fit a GitHub comment (65,536 characters): the report is cut
into numbered parts of at most ``PART_LIMIT`` characters, the summary always
first in part 1, each diff in a collapsed ``<details>`` block, and a block too
large for one part is shortened with a note saying how to see it whole. Every
part starts with a marker comment so a workflow can update its comments in
place instead of adding new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .diff import DiffReport

PART_LIMIT = 60_000
MARKER = "<!-- gitops-platform-diff part {n}/{total} -->"
_RESERVE = 400   # room for the part header and marker


def text_report(report: DiffReport) -> str:
    lines = [f"GitOps diff: {report.base} -> {report.head}", ""]
    lines += _summary_rows(report, lambda row: "  ".join(f"{cell:<14}" for cell in row).rstrip())
    if not report.changed:
        return "\n".join([*lines, "", "No change."]) + "\n"
    for app in report.apps:
        lines += ["", f"== Application {app.name}: {app.change} ({app.info.applicationset}, {app.info.path or app.info.chart})"]
        if app.application_diff:
            lines += [app.application_diff.rstrip("\n")]
        if app.manifest_diff:
            lines += [app.manifest_diff.rstrip("\n")]
    for change in report.files:
        lines += ["", f"== {change.path}: {change.change}", change.diff.rstrip("\n")]
    return "\n".join(lines) + "\n"


def _summary_rows(report: DiffReport, fmt: Callable[[tuple[str, ...]], str]) -> list[str]:
    rows: list[tuple[str, ...]] = [("", "added", "removed", "changed")]
    for label, items in (("Applications", report.apps), ("files", report.files)):
        rows.append((label, *(str(report.count(items, c)) for c in ("added", "removed", "changed"))))
    return [fmt(row) for row in rows]


def markdown_parts(report: DiffReport, limit: int = PART_LIMIT) -> list[str]:
    """The report as Markdown parts, each at most ``limit`` characters, summary first."""
    summary = _markdown_summary(report)
    blocks = list(_markdown_blocks(report, limit - len(summary) - _RESERVE))
    parts: list[list[str]] = [[summary]]
    size = len(summary)
    for block in blocks:
        if size + len(block) > limit - _RESERVE:
            parts.append([])
            size = 0
        parts[-1].append(block)
        size += len(block)
    total = len(parts)
    out = []
    for n, body in enumerate(parts, start=1):
        header = MARKER.format(n=n, total=total)
        if n > 1:
            header += f"\n### GitOps diff (part {n} of {total})\n"
        out.append(header + "\n" + "".join(body))
    return out


def _markdown_summary(report: DiffReport) -> str:
    title = "### GitOps diff" + ("" if report.changed else ": no change")
    lines = [title, "", f"`{report.base}` → `{report.head}`", ""]
    lines += _summary_rows(report, lambda row: "| " + " | ".join(row) + " |")
    lines.insert(len(lines) - 2, "|---|---:|---:|---:|")
    if report.apps:
        lines += ["", "| Application | change | ApplicationSet | source |", "|---|---|---|---|"]
        lines += [f"| `{a.name}` | {a.change} | `{a.info.applicationset}` | `{a.info.path or a.info.chart}` |" for a in report.apps]
    return "\n".join(lines) + "\n\n"


def _markdown_blocks(report: DiffReport, budget: int) -> Iterable[str]:
    for app in report.apps:
        body = "".join(d for d in (app.application_diff, app.manifest_diff) if d)
        if body:
            yield _details(f"Application <code>{app.name}</code> ({app.change})", body, budget)
    for change in report.files:
        if change.diff:
            yield _details(f"<code>{change.path}</code> ({change.change})", change.diff, budget)


def _details(title: str, diff: str, budget: int) -> str:
    head = f"<details><summary>{title}</summary>\n\n```diff\n"
    tail = "```\n\n</details>\n\n"
    room = max(200, budget - len(head) - len(tail) - 200)
    if len(diff) > room:
        kept = diff[:room].rsplit("\n", 1)[0] + "\n"
        dropped = diff[len(kept):].count("\n")
        diff = kept + f"... {dropped} more lines; run `python -m gitops diff` locally for the whole diff\n"
    return head + diff.replace("```", "``\u200b`") + tail


__all__ = ["MARKER", "PART_LIMIT", "markdown_parts", "text_report"]
