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
from decimal import Decimal, InvalidOperation
from typing import Final

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
RESERVED_NAMESPACES: Final = ("kube-system", "kube-public", "kube-node-lease", "default")

_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?")
_SUFFIX = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def label_problem(value: str, max_len: int, rule: "re.Pattern[str]" = DNS1123_LABEL) -> "str | None":
    """Why ``value`` is not a valid DNS label name, or None."""
    if len(value) > max_len:
        return f"{value!r} is {len(value)} characters, at most {max_len} allowed"
    if not rule.fullmatch(value):
        first = "a lowercase letter" if rule is DNS1035_LABEL else "a lowercase letter or digit"
        return (
            f"{value!r} is not a valid name: use lowercase letters, digits and '-', "
            f"starting with {first} and ending with a letter or digit"
        )
    return None


def parse_quantity(text: str) -> "Decimal | None":
    """A Kubernetes resource quantity as a number, or None when malformed."""
    match = _QUANTITY.fullmatch(text)
    if not match:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        return None
    suffix = match.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


def cpu_problem(text: str) -> "str | None":
    value = parse_quantity(text)
    if value is None or value <= 0:
        return f"{text!r} is not a CPU quantity; use millicores like '250m' or cores like '1' or '0.5'"
    if value < Decimal("0.001"):
        return f"{text!r} is below the smallest CPU unit, 1m"
    return None


def memory_problem(text: str) -> "str | None":
    value = parse_quantity(text)
    if value is None or value <= 0 or text.endswith("m"):
        return f"{text!r} is not a memory quantity; use e.g. '128Mi', '1Gi' or '512M'"
    if value < 1024 * 1024:
        return f"{text!r} is under 1Mi, which no container can run in"
    return None


def cidr_problem(text: str) -> "str | None":
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
