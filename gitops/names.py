"""Value rules shared by the catalog and stack readers.

Length limits are derived from the objects a name ends up in, so a name that
is accepted here always produces valid Kubernetes and AWS objects:

* service: Service name, container name and label values are DNS labels of at
  most 63 characters, and Services need a leading letter (RFC 1035).
* team / namespace / environment: namespaces and label values, 63.
* cluster: at most 40, so that the IAM role names derived from it
  (``<cluster>-`` plus up to 23 characters) stay within IAM's 64.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from decimal import Decimal, InvalidOperation, Overflow, Underflow, localcontext
from typing import Final

from . import layout
from .errors import shown

DNS1123_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL: Final = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
ENV_VAR: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PORT_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")  # IANA_SVC_NAME, <= 15, one letter
IMAGE_TAG: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
ECR_REPOSITORY: Final = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
AWS_ACCOUNT: Final = re.compile(r"[0-9]{12}")
AWS_REGION: Final = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]")
HTTP_PATH: Final = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")
K8S_VERSION: Final = re.compile(r"1\.[0-9]{2}")
IAM_ROLE_ARN: Final = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
REPO_URL: Final = re.compile(r"(https://|ssh://|git@)[^\s]+")
GIT_REVISION: Final = re.compile(r"[A-Za-z0-9._/-]{1,255}")

SERVICE_MAX: Final = 63
TEAM_MAX: Final = 63
ENVIRONMENT_MAX: Final = 63
NAMESPACE_MAX: Final = 63
CLUSTER_MAX: Final = 40
# Namespaces no service may claim on any cluster. ``default`` too: nobody owns it (every object without
# a namespace lands there, and it holds the API server's ``kubernetes`` Service), so a team granted it
# in its AppProject would share it with whatever else is deployed there. Argo CD's, the sealing
# controller's and the fleet add-ons' namespaces are stack config, reserved per stack (``tenancy``).
RESERVED_NAMESPACES: Final = (layout.KUBE_SYSTEM_NAMESPACE, "kube-public", "kube-node-lease", "default")
# Service names that would take the Deployment/Service names and ``app.kubernetes.io/name`` label of
# the platform's own pods: Argo CD's components (argocd-server, argocd-repo-server, argocd-redis,
# argocd-image-updater, ...) and the sealed-secrets controller by prefix, the cluster add-ons the
# program installs (components/addons.py) by name. Selectors, dashboards and alerts that find those
# pods by label would also find the service's.
RESERVED_SERVICE_PREFIXES: Final = (layout.ARGOCD_RELEASE, layout.SEALED_SECRETS_RELEASE)
RESERVED_SERVICE_NAMES: Final = (layout.LOAD_BALANCER_CONTROLLER, layout.CLUSTER_AUTOSCALER, layout.METRICS_SERVER)

# The largest quantity accepted: Kubernetes keeps quantities as int64 values where it can, no request
# or limit comes near it, and the bound keeps '1e999999999' from reaching arithmetic that overflows.
MAX_QUANTITY: Final = Decimal(2**63 - 1)
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?")
_SUFFIX = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def label_problem(value: str, max_len: int, rule: re.Pattern[str] = DNS1123_LABEL) -> str | None:
    """Why ``value`` is not a valid DNS label name, or None."""
    if len(value) > max_len:
        return f"{shown(value)} is {len(value)} characters, at most {max_len} allowed"
    if not rule.fullmatch(value):
        first = "a lowercase letter" if rule is DNS1035_LABEL else "a lowercase letter or digit"
        return (
            f"{shown(value)} is not a valid name: use lowercase letters, digits and '-', "
            f"starting with {first} and ending with a letter or digit"
        )
    return None


def reserved_service_problem(name: str) -> str | None:
    """Why ``name`` is one the platform's own pods use (see RESERVED_SERVICE_PREFIXES), or None."""
    for prefix in RESERVED_SERVICE_PREFIXES:
        if name.startswith(prefix):
            return (f"{shown(name)} starts with {prefix!r}, which is reserved for the platform's own pods (Argo CD's "
                    "argocd-server, argocd-repo-server, argocd-redis, argocd-image-updater, ..., the "
                    "sealed-secrets-controller): their names and app.kubernetes.io/name labels must stay theirs; "
                    "choose another name")
    if name in RESERVED_SERVICE_NAMES:
        return (f"{shown(name)} is reserved: the cluster add-on of that name runs on every cluster and its name and "
                "app.kubernetes.io/name label must stay its own; choose another name")
    return None


def template_text_problem(value: str) -> str | None:
    """Why ``value`` cannot be put into a Go template literally, or None.

    Stack values such as the GitOps repository URL are written into the
    template of every generated Application: ``{{`` would start a template
    action Argo CD evaluates, whitespace and control or format characters
    (newlines, escape sequences, zero-width or bidirectional marks) would
    change or hide what the value says.
    """
    for delimiter in ("{{", "}}"):
        if delimiter in value:
            return f"{shown(value)} contains {delimiter!r}, which Argo CD would read as a Go template delimiter"
    for ch in value:
        if ch.isspace():
            return f"{shown(value)} contains whitespace ({ch!r})"
        if unicodedata.category(ch)[0] == "C":
            return f"{shown(value)} contains a control or format character ({ch!r})"
    return None


def parse_quantity(text: str) -> Decimal | None:
    """A Kubernetes resource quantity as a number, or None when malformed."""
    match = _QUANTITY.fullmatch(text)
    if not match:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        return None
    suffix = match.group(2) or ""
    if suffix not in _SUFFIX:   # an exponent, e.g. 'e3' ('E' and 'Ei' are the exa suffixes)
        digits = suffix[1:].lstrip("+-").lstrip("0")
        if len(digits) > 9:   # beyond any Decimal exponent; int() of thousands of digits would refuse too
            return Decimal(0) if suffix[1:2] == "-" or number == 0 else Decimal("Infinity")
        with localcontext() as ctx:   # '1e999999999': Infinity (too large, below) instead of decimal.Overflow
            ctx.traps[Overflow] = ctx.traps[Underflow] = False
            return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


def _too_large(text: str, value: Decimal) -> str | None:
    if value > MAX_QUANTITY:
        return f"{shown(text)} is too large: a Kubernetes quantity is at most {MAX_QUANTITY} (2^63-1)"
    return None


def cpu_problem(text: str) -> str | None:
    value = parse_quantity(text)
    if value is None or value <= 0:
        return f"{shown(text)} is not a CPU quantity; use millicores like '250m' or cores like '1' or '0.5'"
    if value < Decimal("0.001"):
        return f"{shown(text)} is below the smallest CPU unit, 1m"
    return _too_large(text, value)


def memory_problem(text: str) -> str | None:
    value = parse_quantity(text)
    if value is None or value <= 0 or text.endswith("m"):
        return f"{shown(text)} is not a memory quantity; use e.g. '128Mi', '1Gi' or '512M'"
    if value < 1024 * 1024:
        return f"{shown(text)} is under 1Mi, which no container can run in"
    return _too_large(text, value)


# Label and annotation keys are qualified names: an optional DNS subdomain prefix and '/', then a name.
QUALIFIED_NAME: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
ANNOTATIONS_MAX_BYTES: Final = 256 * 1024   # all keys and values of one object's annotations together


def qualified_name_problem(key: str, what: str = "label key") -> str | None:
    """Why ``key`` is not a Kubernetes qualified name, as the API server checks label and annotation keys.

    Checked at load time because a key the API server refuses (a newline, a
    second '/', an empty prefix) renders and builds fine and only fails at
    sync, in every environment at once.
    """
    parts = key.split("/")
    name, prefix = parts[-1], parts[0] if len(parts) == 2 else None
    valid = (
        len(parts) <= 2
        and 0 < len(name) <= 63 and QUALIFIED_NAME.fullmatch(name) is not None
        and (prefix is None or (0 < len(prefix) <= 253 and DNS1123_SUBDOMAIN.fullmatch(prefix) is not None))
    )
    if valid:
        return None
    return (f"is not a valid {what}: a name of at most 63 characters (letters, digits, '-', '_' and '.', starting "
            "and ending with a letter or digit), optionally after a lowercase DNS subdomain prefix and '/', "
            "like 'example.com/name'")


def annotation_key_problem(key: str) -> str | None:
    """The API server checks annotation keys lowercased, so a prefix may have capitals there."""
    return qualified_name_problem(key.lower(), "annotation key")


def annotations_size_problem(annotations: dict[str, str]) -> str | None:
    """The API server refuses an object whose annotations' keys and values exceed 256 KiB together."""
    size = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if size <= ANNOTATIONS_MAX_BYTES:
        return None
    return f"hold {size} bytes; the annotations of an object may hold at most {ANNOTATIONS_MAX_BYTES} (256 KiB)"


def label_value_problem(value: str) -> str | None:
    if len(value) <= 63 and LABEL_VALUE.fullmatch(value):
        return None
    return (f"{shown(value)} is not a valid label value: at most 63 letters, digits, '-', '_' and '.', starting "
            "and ending with a letter or digit (or empty)")


def cidr_problem(text: str) -> str | None:
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        return f"{text!r} is not a CIDR block ({exc}); use e.g. '10.0.0.0/16'"
    if net.version != 4 or not (16 <= net.prefixlen <= 22):
        return (f"{text!r} must be an IPv4 block between /16 (the largest a VPC may be) and /22 "
                "(the smallest that fits a private and a public subnet per zone)")
    return None


def ecr_host(account: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"
