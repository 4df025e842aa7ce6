"""Composition root: the stack's config -> the core's typed model -> components -> stack outputs.

Nothing here knows a stack or environment name; a new ``Pulumi.<stack>.yaml``
works unchanged. Order matters only where a resource needs another to exist:
the account guard before anything, the sealing key before the controller, Argo
CD before the root Application; the components express those dependencies.

By ``argocd.topology``: a standalone cluster runs its own Argo CD; a hub runs
Argo CD plus the IAM role it reaches spokes with, and exports what spokes need
to register; a spoke runs no Argo CD and registers itself into its hub (a
StackReference), whose Argo CD and Image Updater manage it. Every cluster gets
its own sealing key: secrets are opened where they are used.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pulumi

from components.addons import ClusterAddons, ClusterAddonsArgs
from components.argocd import ArgoCD, ArgoCDArgs
from components.cluster import Cluster, ClusterArgs
from components.config import load_program_config
from components.fleet import HubAccess, HubAccessArgs, SpokeRegistration, SpokeRegistrationArgs
from components.gitops_repo import GitOpsRepo, GitOpsRepoArgs
from components.guard import require_account
from components.registration import check_against_hub, hub_self_registration, published_files, role_arn
from components.registry import Registry, RegistryArgs
from components.rollouts import ArgoRollouts, ArgoRolloutsArgs
from components.sealing import SealingKey, SealingKeyArgs
from gitops import layout
from gitops.canary import rollouts_controller
from gitops.errors import GitOpsError
from gitops.lifecycle import pinned_tags
from gitops.model import Topology
from gitops.project import registry_accounts
from gitops.render.registration import registration_secret
from gitops.tenancy import argocd_hostname

# The program allocates millions of objects (the SDK keeps a future, and its callbacks, per output of
# every resource) and frees almost none until it ends, so each of Python's full collections walked
# them all again: at 1000 services the cyclic collector was a third of the run (11.4 s -> 7.7 s
# with this). What the imports left is frozen out of every collection (after collecting its garbage,
# which would otherwise stay), and collections run after 50,000 new objects instead of 700; cycles
# are still collected.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 20)

ROOT = Path(__file__).resolve().parent

config = load_program_config(ROOT, pulumi.get_stack())
project, stack = config.project, config.stack
try:
    require_account(stack.account_id, stack.file)
except GitOpsError as exc:
    raise pulumi.RunError(str(exc)) from None

tags = {layout.AWS_TAG_MANAGED_BY: layout.MANAGED_BY, "environment": stack.environment, "pulumi-stack": stack.name}

registry = Registry("ecr", RegistryArgs(
    config=stack.registry,
    repositories=tuple(sorted({s.image_repository for s in project.catalog.services})),
    pull_principals=[f"arn:aws:iam::{account}:root" for account in registry_accounts(project, stack.registry)],
    kms_key_arn=stack.registry.kms_key_arn,
    # Every stack's pins, read from all stack files: the owner's policy must keep what any of them runs.
    protected_tags=pinned_tags(project.catalog, project.stacks, stack.registry),
    stack_account_id=stack.account_id,
    stack_region=stack.region,
))

cluster = Cluster("eks", ClusterArgs(config=stack.cluster, region=stack.region, tags=tags))
in_cluster = pulumi.ResourceOptions(providers={"kubernetes": cluster.provider})

# Every topology: whoever runs Argo CD for this cluster, its Ingresses, HPAs and node group need these.
addons = ClusterAddons("addons", ClusterAddonsArgs(
    config=stack.addons,
    cluster_name=stack.cluster.name,
    kubernetes_version=stack.cluster.kubernetes_version,
    account_id=stack.account_id,
    region=stack.region,
    vpc_id=cluster.vpc_id,
    ready=[cluster],
    stack_file=stack.file,
    tags=tags,
), opts=in_cluster)

# The load balancer controller's webhook refuses Services until it runs: charts with Services install after it.
webhooks = [addons.load_balancer_controller] if addons.load_balancer_controller is not None else []

# A canary's Rollouts run where its pods run: on this cluster, whoever runs its Argo CD (gitops.canary).
rollouts = (ArgoRollouts("rollouts", ArgoRolloutsArgs(installed_after=webhooks), opts=in_cluster)
            if rollouts_controller(project.catalog, stack) else None)
workload_controllers = [*addons.releases, *([rollouts.release] if rollouts is not None else [])]

sealing = SealingKey("sealing", SealingKeyArgs(cluster_name=stack.cluster.name, config=stack.sealing, tags=tags,
                                               installed_after=webhooks),
                     opts=in_cluster)

topology = stack.argocd.topology
cluster_files = None
if topology is not Topology.STANDALONE:
    check_against_hub(project, stack)
    cluster_files = published_files(stack, cluster.endpoint if topology is Topology.SPOKE else layout.IN_CLUSTER_SERVER)
if topology is Topology.SPOKE:
    assert stack.argocd.hub is not None   # a spoke names its hub: the stack file is refused otherwise
    hub = pulumi.StackReference(stack.argocd.hub)
    metadata = registration_secret(stack, layout.IN_CLUSTER_SERVER, role_arn(stack))["metadata"]
    registration = SpokeRegistration("fleet", SpokeRegistrationArgs(
        cluster_name=stack.cluster.name,
        cluster=cluster,
        hub=hub,
        labels=metadata["labels"],
        annotations=metadata["annotations"],
        # The first sync needs them, and deleting the Applications needs them (load balancers, volumes).
        ready=[sealing, *workload_controllers],
        tags=tags,
    ))
    pulumi.export("argocdHub", stack.argocd.hub)
    pulumi.export("argocdSpokeRoleArn", registration.role_arn)
    pulumi.export("clusterCertificateAuthority", cluster.certificate_authority)
else:
    hub_access = (HubAccess("fleet", HubAccessArgs(cluster_name=cluster.name, role_prefix=stack.cluster.name,
                                                    namespace=stack.argocd.namespace, region=stack.region, tags=tags))
                  if topology is Topology.HUB else None)
    argocd = ArgoCD("argocd", ArgoCDArgs(
        environment=stack.environment,
        cluster_name=cluster.name,
        role_prefix=stack.cluster.name,
        region=stack.region,
        namespace=stack.argocd.namespace,
        gitops=stack.gitops,
        registry=stack.registry,
        ha=stack.argocd.ha,
        hostname=argocd_hostname(stack),
        ingress_class=stack.ingress.class_name,
        ingress_annotations=dict(stack.ingress.annotations),
        ingress_tls=stack.ingress.tls,
        certificate_arn=stack.ingress.certificate_arn,
        tls_secret_name=stack.ingress.tls_secret_name,
        # A hub's notifiers send for its spokes too (gitops.notifications).
        notifications=stack.notifications,
        repo_credentials=config.repo_credentials,
        tags=tags,
        kubeconfig=cluster.kubeconfig,
        # What deleting the Applications needs stays until the drain is done.
        keep_until_drained=[sealing.release, *workload_controllers],
        # Rollout objects sync only once their CRD is served: Argo CD starts after the controller's release.
        installed_after=[*webhooks, *([rollouts.release] if rollouts is not None else [])],
        pod_identities=hub_access.associations if hub_access else (),
        # The hub's own registration: its labels select the hub's add-ons, so it outlives the drain too.
        cluster_registration=(
            (lambda opts: hub_self_registration(stack, pulumi.ResourceOptions.merge(in_cluster, opts)))
            if hub_access is not None else None),
    ), opts=in_cluster)
    pulumi.export("argocdUrl", argocd.url)
    pulumi.export("argocdNamespace", stack.argocd.namespace)
    pulumi.export("imageUpdaterRoleArn", argocd.image_updater_role_arn)
    if hub_access is not None:
        pulumi.export("argocdFleetRoleArn", hub_access.role_arn)

gitops_repo = GitOpsRepo("gitops", GitOpsRepoArgs(
    project=project,
    stack=stack,
    sealing_cert=sealing.certificate_pem,
    stability_key=sealing.stability_key,
    secret_values=config.secret_values,
    extra_cluster_files=cluster_files,
))

pulumi.export("environment", stack.environment)
pulumi.export("clusterName", cluster.name)
pulumi.export("clusterEndpoint", cluster.endpoint)
pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig))
pulumi.export("ecrRepositoryUrls", registry.repository_urls)
pulumi.export("sealingCertificate", sealing.certificate_pem)
pulumi.export("sealingPrivateKey", pulumi.Output.secret(sealing.private_key_pem))
pulumi.export("sealingStabilityKey", pulumi.Output.secret(sealing.stability_key))
pulumi.export("sealingBackupSecretArn", sealing.backup_arn)
pulumi.export("gitopsCheckout", stack.gitops.checkout)
pulumi.export("gitopsPaths", gitops_repo.paths)
