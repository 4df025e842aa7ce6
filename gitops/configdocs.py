"""What is generated from ``gitops.configschema``: ``Pulumi.yaml``'s ``config:`` section and docs/configuration.md.

``python -m gitops config-schema --write`` (``make config-docs``) rewrites both
from the schema, ``--check`` reports the ones that differ, and the tests fail
while either is out of date, so the Pulumi CLI's project-config validation, the
reader and the documentation cannot drift apart. The renderers are pure (text
in, text out); ``write_generated`` is the only function that touches the disk.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from . import layout, yamlio
from .configschema import REGENERATE_COMMAND, STACK_CONFIG, Copy, Field
from .errors import OutputError

NS = layout.CONFIG_NAMESPACE
DOCS_FILE: Final = "docs/configuration.md"
GENERATED_NOTE: Final = f"Generated from gitops/configschema.py by `{REGENERATE_COMMAND}`"
# Why the two secret keys carry no `secret: true` (written above the first of them in Pulumi.yaml).
SECRET_NOTE: Final = (
    "The secret keys carry no `secret: true`: the CLI would then demand them in every stack (a default",
    "is not encrypted), yet a stack with no secrets needs neither. The program refuses them unencrypted instead.",
)


@dataclass(frozen=True)
class Generated:
    """One generated file: its path relative to the project and the content the schema gives it."""

    path: str
    content: str


# --- Pulumi.yaml -----------------------------------------------------------------------------------------
def pulumi_declarations() -> dict[str, dict[str, Any]]:
    """The ``config:`` declarations of ``Pulumi.yaml``: every top-level key with its type and description.

    A key the stack must set has no default, so the Pulumi CLI asks every stack
    for it; every other key has the schema's default. An object's default is
    ``{}``: Pulumi replaces a default wholesale when the stack sets the key, so
    field defaults inside it would apply only while the whole key is left out;
    the reader applies them either way (docs/configuration.md lists them).
    """
    out: dict[str, dict[str, Any]] = {}
    for field in STACK_CONFIG:
        declaration: dict[str, Any] = {"type": field.type, "description": _pulumi_description(field)}
        if not field.required:
            declaration["default"] = field.default
        out[field.key] = declaration
    return out


def _pulumi_description(field: Field) -> str:
    if field.fields:
        return f"{field.description} Fields: {', '.join(field.field_keys)}; see {DOCS_FILE}."
    if field.type == "object":
        return f"{field.description} See {DOCS_FILE}."
    valid = field.valid or field.describe
    return f"{field.description} Valid: {valid}." if valid else field.description


def render_pulumi_config() -> str:
    """The ``config:`` section of ``Pulumi.yaml``, comments included, ending in a newline."""
    lines = ["config:", f"  # {GENERATED_NOTE}: edit the schema, not this section."]
    noted = False
    for key, declaration in pulumi_declarations().items():
        if key in {f.key for f in STACK_CONFIG if f.secret} and not noted:
            lines += [f"  # {line}" for line in SECRET_NOTE]
            noted = True
        text = yaml.safe_dump({key: declaration}, sort_keys=False, default_flow_style=False, allow_unicode=True,
                              width=1_000_000)
        lines += [f"  {line}" for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def with_pulumi_config(text: str) -> str:
    """``Pulumi.yaml``'s text with its ``config:`` section replaced by the schema's (appended when it has none).

    Only that section is replaced: the project's name, runtime and anything
    after the section stay as written.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("config:")), None)
    if start is None:
        return text + ("\n" if text and not text.endswith("\n") else "") + render_pulumi_config()
    end = next((j for j in range(start + 1, len(lines)) if lines[j][:1] not in (" ", "\t", "#", "\n", "\r")),
               len(lines))
    return "".join(lines[:start]) + render_pulumi_config() + "".join(lines[end:])


# --- docs/configuration.md ----------------------------------------------------------------------------
_INTRO = f"""\
# Stack configuration

One stack is one environment's cluster. Its `Pulumi.<stack>.yaml` sets the keys below as
`{NS}:<key>`, plus the AWS provider's `aws:region` (required, e.g. `eu-west-1`). Any other
namespace than `{NS}` and the providers' (`aws`, `kubernetes`, `tls`, `pulumi`) is an error, and so
is a key or field not listed here: the message names the closest valid one. Every key and field is
declared once, in `gitops/configschema.py`; the reader, `Pulumi.yaml`'s declarations, this page and
`new-cluster` are derived from it (after editing it, run `{REGENERATE_COMMAND}` or `make config-docs`).

**Defaults.** A key the stack leaves out gets the default listed; a section's fields get theirs
whether the section is left out or set in part. (`Pulumi.yaml` declares `{{}}` for each optional section:
Pulumi would replace a fuller default wholesale as soon as the stack sets the key.) The keys marked
required have no default, and the Pulumi CLI refuses a stack that does not set them.

**Secrets.** `secrets` and `gitopsCredentials` are set only with `pulumi config set --secret --path ...`;
an unencrypted value is refused, naming its key path and never the value.

**new-cluster.** `python -m gitops new-cluster` copies a stack of an existing environment. What it does
with each field: *{Copy.COPY.value}*; *{Copy.OMIT.value}* (the source cluster's own, or secret);
*{Copy.NEW.value}* (the new cluster's own value: environment, profile = the source's profile, cluster name
and a free VPC, the source's registry account and region, never the registry's owner);
*{Copy.NOT_TO_SPOKE.value}* (left out with `--hub`). With `--hub` the new cluster is a spoke:
`argocd.topology` and `argocd.hub` are set, and when the hub is a stack of this project `argocd.namespace`
and `gitops.repoURL`, `revision` and `path` are the hub's and `notifications` keeps only the hub's
notifiers. `aws:region` is set from `--region`; other provider keys are copied.
"""


def render_markdown() -> str:
    """docs/configuration.md: an overview of the top-level keys, then one table per section."""
    out = [f"<!-- {GENERATED_NOTE}; edit the schema, not this file. -->", _INTRO.rstrip("\n"), "", "## Keys", "",
           "| key | type | default | valid values | new-cluster | description |",
           "|---|---|---|---|---|---|"]
    for field in STACK_CONFIG:
        name = f"[`{field.key}`](#{field.key.lower()})" if _has_table(field) else f"`{field.key}`"
        if field.secret:
            name += " (secret)"
        out.append(_row(name, field, _top_copy(field)))
    for field in STACK_CONFIG:
        if not _has_table(field):
            continue
        out += ["", f"## {field.key}", "", _markdown(field.description), "",
                "| field | type | default | valid values | new-cluster | description |",
                "|---|---|---|---|---|---|"]
        decided = field.copy is not Copy.OMIT
        for path, sub, depth in _rows(field):
            out.append(_row(f"`{path}`", sub, sub.copy.value if decided and depth == 1 else ""))
    return "\n".join(out) + "\n"


def _has_table(field: Field) -> bool:
    return bool(field.fields) or (field.items is not None and bool(field.items.fields))


def _top_copy(field: Field) -> str:
    if field.fields and field.copy is not Copy.OMIT:
        return "per field"
    return field.copy.value


def _rows(section: Field) -> list[tuple[str, Field, int]]:
    """Each field below a section with its path relative to it and its depth (1 = a field of the section)."""
    out: list[tuple[str, Field, int]] = []

    def visit(fields: tuple[Field, ...], prefix: str, depth: int) -> None:
        for field in fields:
            path = f"{prefix}{field.key}"
            out.append((path, field, depth))
            visit(field.fields, f"{path}.", depth + 1)
            if field.items is not None and field.items.fields:
                item_prefix = f"{path}[]." if field.type == "array" else f"{path}.{field.keys}."
                visit(field.items.fields, item_prefix, depth + 1)

    visit(section.fields, "", 1)
    if section.items is not None:   # a mapping of user-chosen keys whose values have fields
        visit(section.items.fields, f"{section.keys}.", 1)
    return out


def _row(name: str, field: Field, copy: str) -> str:
    cells = (name, _type_text(field), _default_text(field), _valid_text(field), copy, field.description)
    return "| " + " | ".join(_cell(c) if i else c for i, c in enumerate(cells)) + " |"


def _type_text(field: Field) -> str:
    if field.type == "array":
        return f"list of {_plural(field.items)}"
    if field.type == "object" and field.items is not None:
        return f"mapping {field.keys} → {_type_text(field.items)}"
    if field.type == "object":
        return "mapping"
    return field.type


def _plural(items: Field | None) -> str:
    if items is None or items.type == "object":
        return "mappings"
    return {"string": "strings", "integer": "integers", "boolean": "booleans"}.get(items.type, items.type)


def _default_text(field: Field) -> str:
    if field.required:
        return "required"
    if field.default_text:
        return field.default_text
    if field.default is None or (field.type == "object" and field.default == {}):
        return ""
    if isinstance(field.default, str):
        return f"`{field.default}`" if field.default else '`""`'
    return f"`{json.dumps(field.default)}`"


def _valid_text(field: Field) -> str:
    spec = field.items if field.type == "array" and field.items is not None else field
    if field.type == "object" and field.items is not None and not field.items.fields:
        spec = field.items
    text = ", ".join(f"`{choice}`" for choice in spec.choices) if spec.choices else spec.valid or spec.describe
    if spec.minimum is not None or spec.maximum is not None:
        bounds = f"{spec.minimum if spec.minimum is not None else ''}..{spec.maximum if spec.maximum is not None else ''}"
        text = f"{text}, {bounds}" if text else bounds
    if spec.max_len is not None:
        text = f"{text}, at most {spec.max_len} characters" if text else f"at most {spec.max_len} characters"
    return text


def _cell(text: str) -> str:
    """Table cell text: a '|' would end the cell, a newline the row."""
    return _markdown(text).replace("|", "\\|").replace("\n", " ")


def _markdown(text: str) -> str:
    """Plain text as Markdown: outside `code` spans, <placeholders> are not HTML tags and * is no emphasis."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):   # the even parts are outside code spans
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")
    return "`".join(parts)


# --- the files -------------------------------------------------------------------------------------------
def generated_files(root: Path) -> list[Generated]:
    """Both generated files as the schema makes them; ``Pulumi.yaml`` keeps everything but its ``config:``."""
    project = yamlio.read_file_text(root / layout.PROJECT_FILE, layout.PROJECT_FILE)
    return [Generated(layout.PROJECT_FILE, with_pulumi_config(project)), Generated(DOCS_FILE, render_markdown())]


def stale_files(root: Path, files: list[Generated]) -> list[str]:
    """The generated files whose content on disk differs (or that are missing)."""
    out = []
    for generated in files:
        path = root / generated.path
        try:
            current = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            current = None
        if current != generated.content:
            out.append(generated.path)
    return out


def write_generated(root: Path, files: list[Generated]) -> list[str]:
    """Write the files that differ, each atomically (a temporary file renamed over it); their paths."""
    changed = stale_files(root, files)
    for generated in files:
        if generated.path not in changed:
            continue
        path = root / generated.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(generated.content)
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            raise OutputError(f"{generated.path}: cannot write the generated file ({exc.strerror})") from None
    return changed
