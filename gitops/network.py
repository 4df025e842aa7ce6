"""The VPC layout the cluster component creates, as plain CIDR arithmetic.

In the core because two places must agree on it: the cluster component
(``components/cluster.py``) carves its subnets from it, and the renderer
admits a load balancer's traffic to the pods only from the subnets that load
balancer lives in (NetworkPolicy ``ipBlock`` peers), which it can compute
offline from the same stack config.

The VPC is cut into 8 equal blocks: one private subnet per zone (nodes, and
pods, which take VPC addresses under the VPC CNI) and the last block cut again
into 8 small public subnets (only NAT gateways and load balancers live there).
Zone i always gets block i, so adding a zone never moves the subnets of the
others.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

PRIVATE_SPLIT_BITS: Final = 3
PUBLIC_SPLIT_BITS: Final = 3
MAX_ZONES: Final = 2 ** PRIVATE_SPLIT_BITS - 1
SMALLEST_SUBNET_PREFIX: Final = 28  # AWS refuses subnets smaller than a /28


@dataclass(frozen=True)
class ZoneSubnets:
    """The CIDR blocks of one availability zone's private and public subnet."""

    private: str
    public: str


def subnet_plan(vpc_cidr: str, zones: int) -> tuple[ZoneSubnets, ...]:
    """Private and public subnet CIDRs for the first ``zones`` zones, carved from ``vpc_cidr``.

    Deterministic and independent of the zone count for the zones it keeps, so
    a stack can grow from 2 to 3 zones without replacing a subnet.
    """
    try:
        vpc = ipaddress.ip_network(vpc_cidr, strict=True)
    except ValueError as exc:
        raise ValueError(f"VPC CIDR {vpc_cidr!r} is not a network block: {exc}") from None
    if not isinstance(vpc, ipaddress.IPv4Network):
        raise ValueError(f"VPC CIDR {vpc_cidr!r} must be IPv4")
    if not 1 <= zones <= MAX_ZONES:
        raise ValueError(f"{zones} availability zones requested for VPC {vpc_cidr!r}; "
                         f"the layout has room for 1 to {MAX_ZONES}")
    smallest = SMALLEST_SUBNET_PREFIX - PRIVATE_SPLIT_BITS - PUBLIC_SPLIT_BITS
    if vpc.prefixlen > smallest:
        raise ValueError(
            f"VPC CIDR {vpc_cidr!r} is too small: it must be a /{smallest} or larger, because public subnets "
            f"are 1/{2 ** (PRIVATE_SPLIT_BITS + PUBLIC_SPLIT_BITS)} of it and AWS subnets are at least a "
            f"/{SMALLEST_SUBNET_PREFIX}"
        )
    blocks = list(vpc.subnets(prefixlen_diff=PRIVATE_SPLIT_BITS))
    public = list(blocks[-1].subnets(prefixlen_diff=PUBLIC_SPLIT_BITS))
    return tuple(ZoneSubnets(private=str(blocks[i]), public=str(public[i])) for i in range(zones))
