"""ECR repositories for every service of the catalog.

Exactly one stack owns the repositories (``registry.owner``); every other stack
computes the same URLs from account, region and prefix and creates nothing, so
no two stacks fight over a repository and the URLs in rendered manifests are
known at preview time.

The owner creates the repositories where the URLs point: in ``registry.accountId``
and ``registry.region``. When those are not the stack's own, it does so through an
explicit AWS provider for that region that assumes ``registry.roleArn`` and accepts
only the registry's account; the stack's default provider (its ``awsAccountId``)
would otherwise create them in the wrong account.

The lifecycle policy is the core's (``gitops.lifecycle``): it keeps every tag a
stack pins, expires untagged images, and never expires release tags by count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from gitops import layout
from gitops.lifecycle import lifecycle_policy
from gitops.model import RegistryConfig

TYPE = "gitops-platform:registry:Registry"
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
    key instead of AES-256 (default None). ``protected_tags``: repository -> tags
    the lifecycle policy must never expire (``gitops.lifecycle.pinned_tags`` over
    every stack). ``stack_account_id``/``stack_region``: where the stack's default
    provider deploys; None means the registry's own (no explicit provider needed).
    """

    config: RegistryConfig
    repositories: tuple[str, ...]
    pull_principals: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    kms_key_arn: str | None = None
    protected_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stack_account_id: str | None = None
    stack_region: str | None = None


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

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        config = args.config
        # Computed, not read from the resources: identical in every stack and known at preview.
        self.repository_urls = {repo: config.image(repo) for repo in args.repositories}
        self.repositories: dict[str, aws.ecr.Repository] = {}
        self.provider: aws.Provider | None = None
        if config.owner:
            self.provider = self._registry_provider(name, args)
            principals = [f"arn:aws:iam::{config.account_id}:root", *args.pull_principals]
            policy = pulumi.Output.all(*principals).apply(pull_policy)
            for repo in args.repositories:
                self.repositories[repo] = self._repository(name, repo, args, policy)
        self.register_outputs({"repositoryUrls": self.repository_urls})

    def _registry_provider(self, name: str, args: RegistryArgs) -> aws.Provider | None:
        """The provider the repositories are created with: None (the stack's default) when that is the registry's.

        ``allowed_account_ids`` makes the provider fail before creating anything if
        the assumed credentials are not the registry account's.
        """
        config = args.config
        same_place = ((args.stack_account_id or config.account_id) == config.account_id
                      and (args.stack_region or config.region) == config.region)
        if same_place and config.role_arn is None:
            return None
        assume = ([aws.ProviderAssumeRoleArgs(role_arn=config.role_arn, session_name=f"{name}-registry")]
                  if config.role_arn else None)
        return aws.Provider(
            f"{name}-registry",
            region=config.region,
            assume_roles=assume,
            allowed_account_ids=[config.account_id],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _repository(self, name: str, repo: str, args: RegistryArgs, policy: pulumi.Output[str]) -> aws.ecr.Repository:
        config = args.config
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        full_name = f"{config.prefix}/{repo}" if config.prefix else repo
        encryption: aws.ecr.RepositoryEncryptionConfigurationArgsDict = (
            {"encryption_type": "KMS", "kms_key": args.kms_key_arn} if args.kms_key_arn
            else {"encryption_type": "AES256"})
        repository = aws.ecr.Repository(
            f"{name}-{repo}",
            name=full_name,
            image_scanning_configuration={"scan_on_push": True},
            image_tag_mutability="IMMUTABLE" if config.immutable_tags else "MUTABLE",
            encryption_configurations=[encryption],
            # Images are releases: deleting a repository that still has some must be deliberate. With
            # False, destroying the owner fails with RepositoryNotEmptyException (docs/live-cluster.md,
            # "Teardown"); retain_on_delete would instead leave repositories behind without a word.
            force_delete=config.force_delete,
            tags={layout.AWS_TAG_MANAGED_BY: layout.MANAGED_BY, "service": repo},
            # ECR cannot change a repository's encryption: a changed key would replace the repository under
            # the same name, which fails (the name is taken) and would drop its images. The key applies to
            # repositories created from then on (docs/configuration.md, registry.kmsKeyArn).
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["encryptionConfigurations"])),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-{repo}-lifecycle",
            repository=repository.name,
            policy=lifecycle_policy(args.protected_tags.get(repo, ()), config.expire_tag_patterns,
                                    config.keep_release_images),
            opts=child,
        )
        aws.ecr.RepositoryPolicy(f"{name}-{repo}-pull", repository=repository.name, policy=policy, opts=child)
        return repository
