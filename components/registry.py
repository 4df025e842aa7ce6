"""ECR repositories for every service of the catalog.

Exactly one stack owns the repositories (``registry.owner``); every other stack
computes the same URLs from account, region and prefix and creates nothing, so
no two stacks fight over a repository and the URLs in rendered manifests are
known at preview time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from gitops.model import RegistryConfig

TYPE = "gitops-platform:registry:Registry"
UNTAGGED_EXPIRY_DAYS = 7
# What a cluster's nodes need to pull and the Image Updater to list tags; nothing that writes.
PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:ListImages",
)


@dataclass(frozen=True)
class RegistryArgs:
    """``config`` and ``repositories`` shape the resource graph, so they are plain values.

    ``pull_principals``: IAM principals (account roots or role ARNs) allowed to pull;
    the owner's own account is always allowed. ``kms_key_arn``: encrypt with this
    key instead of AES-256 (default None).
    """

    config: RegistryConfig
    repositories: tuple[str, ...]
    pull_principals: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    kms_key_arn: Optional[str] = None


def lifecycle_policy(keep_release_images: int) -> str:
    """Expire untagged images after a week; keep the newest N tagged (release) images."""
    return json.dumps({
        "rules": [
            {
                "rulePriority": 1,
                "description": f"expire untagged images after {UNTAGGED_EXPIRY_DAYS} days",
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                              "countUnit": "days", "countNumber": UNTAGGED_EXPIRY_DAYS},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"keep the last {keep_release_images} release images",
                "selection": {"tagStatus": "tagged", "tagPatternList": ["*"],
                              "countType": "imageCountMoreThan", "countNumber": keep_release_images},
                "action": {"type": "expire"},
            },
        ],
    }, sort_keys=True)


def pull_policy(principals: Sequence[str]) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ClusterPull",
            "Effect": "Allow",
            "Principal": {"AWS": sorted(set(principals))},
            "Action": list(PULL_ACTIONS),
        }],
    }, sort_keys=True)


class Registry(pulumi.ComponentResource):
    """One ECR repository per service (owner stack) and their URLs (every stack)."""

    repository_urls: dict[str, str]

    def __init__(self, name: str, args: RegistryArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        config = args.config
        # Computed, not read from the resources: identical in every stack and known at preview.
        self.repository_urls = {repo: config.image(repo) for repo in args.repositories}
        self.repositories: dict[str, aws.ecr.Repository] = {}
        if config.owner:
            principals = [f"arn:aws:iam::{config.account_id}:root", *args.pull_principals]
            policy = pulumi.Output.all(*principals).apply(pull_policy)
            for repo in args.repositories:
                self.repositories[repo] = self._repository(name, repo, args, policy)
        self.register_outputs({"repositoryUrls": self.repository_urls})

    def _repository(self, name: str, repo: str, args: RegistryArgs, policy: pulumi.Output[str]) -> aws.ecr.Repository:
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        full_name = f"{config.prefix}/{repo}" if config.prefix else repo
        encryption = ({"encryption_type": "KMS", "kms_key": args.kms_key_arn} if args.kms_key_arn
                      else {"encryption_type": "AES256"})
        repository = aws.ecr.Repository(
            f"{name}-{repo}",
            name=full_name,
            image_scanning_configuration={"scan_on_push": True},
            image_tag_mutability="IMMUTABLE" if config.immutable_tags else "MUTABLE",
            encryption_configurations=[encryption],
            # Images are releases: deleting a repository that still has some must be deliberate.
            force_delete=False,
            tags={"managed-by": "gitops-platform", "service": repo},
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-{repo}-lifecycle",
            repository=repository.name,
            policy=lifecycle_policy(config.keep_release_images),
            opts=child,
        )
        aws.ecr.RepositoryPolicy(f"{name}-{repo}-pull", repository=repository.name, policy=policy, opts=child)
        return repository
