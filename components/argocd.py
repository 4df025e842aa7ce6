"""Argo CD, the Image Updater and the root Application of one environment.

Pulumi installs only what GitOps cannot install for itself: Argo CD (pinned
Helm releases), the credentials to read the GitOps repository, the Image
Updater's AWS identity, and one root Application pointing at ``argocd/<env>``.
Everything else (AppProjects, ApplicationSets, ImageUpdater objects) lives in
the repository and is synced by Argo CD.

The Image Updater reads ECR through EKS Pod Identity: an IAM role trusted by
``pods.eks.amazonaws.com`` and an association with its ServiceAccount. Unlike
IRSA this needs no OIDC provider and no ServiceAccount annotation, so the whole
identity is AWS-side and visible in the program.

The root Application is a ``helm.v3.Release`` of the argocd-apps chart rather
than a ``CustomResource``: its CRD is installed by the argo-cd release in the
same ``pulumi up``, and a CustomResource of a kind that does not exist yet
fails at preview ("no matches for kind"), while a Release does not.

The root Application comes after the Image Updater release (whose CRD its
first sync needs for the ImageUpdater objects) and retries a failed sync with
backoff, since the CRDs of a fresh install can still be settling.

Teardown: given the cluster's kubeconfig, an ``ApplicationsDrained`` resource
(``components/drain.py``) is created last and depends on everything the
Applications' deletion needs, so ``pulumi destroy`` deletes it first. Its
delete deletes every Application with what it deployed (load balancers,
volumes), even those an ApplicationSet with ``preserveResourcesOnDeletion``
made without the finalizer, the root Application last, and waits until they
are gone. Only then go the root release (already empty), the Image Updater
(which alone finalizes the ImageUpdater objects the root's cascade deleted),
the cluster's own registration, the controllers in ``keep_until_drained``,
Argo CD and, after it, the cluster. A hub refuses to drain while spokes are
still registered: destroy them first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.charts import ARGO_CD, ARGOCD_APPS, IMAGE_UPDATER
from components.drain import ApplicationsDrained, ApplicationsDrainedArgs
from gitops import layout
from gitops.errors import InputError
from gitops.ingress import BACKEND_PROTOCOL, alb_annotations, tls_entry
from gitops.layout import (
    IN_CLUSTER_SERVER,
    PLATFORM_PROJECT,
    RESOURCES_FINALIZER,
    SECRET_TYPE_LABEL,
    argocd_env_dir,
    repo_path,
    root_application_name,
)
from gitops.model import GitOpsConfig, IngressConfig, NotificationsConfig, RegistryConfig
from gitops.render.argocd import platform_project
from gitops.render.notifications import chart_values as notifications_chart_values
from gitops.render.notifications import platform_kinds

TYPE = "gitops-platform:argocd:ArgoCD"
CREDENTIALS_KEY = "gitops-platform:gitopsCredentials"
# Credential fields of an Argo CD repository Secret we accept: HTTPS or SSH, nothing else.
CREDENTIAL_SHAPES = (frozenset({"username", "password"}), frozenset({"sshPrivateKey"}))
REPO_SECRET_NAME = "gitops-repo"
REPO_SECRET_LABEL = SECRET_TYPE_LABEL
# Helm release names. "argocd" contains the chart's nameOverride, so objects get
# their usual names (argocd-server, argocd-repo-server) that the CLI and docs expect.
ARGOCD_RELEASE = layout.ARGOCD_RELEASE
IMAGE_UPDATER_RELEASE = "argocd-image-updater"
APPS_RELEASE = "argocd-apps"
IMAGE_UPDATER_SERVICE_ACCOUNT = "argocd-image-updater"
ECR_LOGIN_SCRIPT = "ecr-login.sh"
# ECR tokens last 12 h; refresh an hour early.
ECR_CREDS_EXPIRE = "11h"
APP_FINALIZER = RESOURCES_FINALIZER
# The Secret the chart's own `tls: true` names; with a cert-manager issuer annotation, cert-manager creates it.
ARGOCD_SERVER_TLS_SECRET = "argocd-server-tls"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
# GetAuthorizationToken has no resource-level permissions; it can only be granted on "*".
ECR_TOKEN_ACTION = "ecr:GetAuthorizationToken"
# Everything the Image Updater needs to list tags and read manifests; nothing that writes.
ECR_READ_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:DescribeRepositories",
    "ecr:GetDownloadUrlForLayer",
    "ecr:ListImages",
)


class RepoCredentialsError(InputError):
    """The GitOps repository credentials are not one of the accepted shapes."""


@dataclass(frozen=True)
class ArgoCDArgs:
    """Plain values shape the resources and Helm values; only ``cluster_name`` and ``repo_credentials`` may be Outputs.

    ``role_prefix``: prefix of the Image Updater's IAM role name, unique per
    account (the cluster config name, at most 40 characters, so the role name
    stays within IAM's 64). ``ha``: replicated server, repo-server and
    ApplicationSet controller plus redis-ha (default False: chart defaults).
    ``hostname``: Argo CD UI/API host behind an ingress (default None: no
    ingress, reach it with port-forward). ``ingress_class`` and
    ``ingress_annotations`` apply only with a hostname (default none).
    ``ingress_tls``: the ingress serves HTTPS for the hostname (default False:
    plain HTTP); with class ``alb`` it gets the listener annotations, and the
    certificate is ``certificate_arn`` or, when None, found in ACM by host.
    ``tls_secret_name``: other classes, the certificate's Secret in Argo CD's
    namespace (default None: ``argocd-server-tls``, which a cert-manager issuer
    annotation has cert-manager create).
    ``repo_credentials``: secret ``{username, password}`` or ``{sshPrivateKey}``
    to read the GitOps repository (default None: a public repository).
    ``tags``: AWS tags of the IAM role and the Pod Identity association.
    ``kubeconfig``: of the cluster (secret); with it, ``pulumi destroy`` first
    deletes every Application and waits until Argo CD has deleted what they
    deployed (default None: no drain). ``keep_until_drained``: what that
    deletion needs besides Argo CD and the Image Updater, such as the
    controllers that remove load balancers and volumes; the drain depends on
    them, so a destroy removes them only after it (default none).
    ``pod_identities``: Pod Identity associations of Argo CD's own service
    accounts (a hub's fleet role), made before the argo-cd release because
    credentials are injected at pod start (default none). ``installed_after``:
    in-cluster components the argo-cd release waits for, such as the load
    balancer controller, whose admission webhook refuses Services until its
    pods run (default none).
    ``cluster_registration``: makes the cluster's own cluster Secret (a hub's
    self-registration), given options that order it after the argo-cd release
    and before the drain: its labels are what the hub's add-on
    ApplicationSets select the hub by, so it must outlive the drain (default
    None). ``notifications``: the stack's notifiers (default off); their
    config goes into the chart values (``gitops.render.notifications``), the
    chart's own notifications Secret is switched off, and the roots' project
    admits the SealedSecret that replaces it. A hub's notifiers also send for
    its spokes.
    """

    environment: str
    cluster_name: pulumi.Input[str]
    region: str
    namespace: str
    gitops: GitOpsConfig
    registry: RegistryConfig
    role_prefix: str
    ha: bool = False
    hostname: str | None = None
    ingress_class: str | None = None
    ingress_annotations: Mapping[str, str] = field(default_factory=dict)
    ingress_tls: bool = False
    certificate_arn: str | None = None
    tls_secret_name: str | None = None
    repo_credentials: pulumi.Input[Mapping[str, str]] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    kubeconfig: pulumi.Input[str] | None = None
    keep_until_drained: Sequence[pulumi.Resource] = ()
    pod_identities: Sequence[pulumi.Resource] = ()
    installed_after: Sequence[pulumi.Resource] = ()
    cluster_registration: Callable[[pulumi.ResourceOptions], pulumi.Resource] | None = None
    notifications: NotificationsConfig = NotificationsConfig()


def image_updater_role_name(role_prefix: str) -> str:
    return f"{role_prefix}-image-updater"


def argocd_url(hostname: str | None, tls: bool) -> str | None:
    """The UI/API URL as the ingress serves it, or None when Argo CD is reachable only through port-forward."""
    if not hostname:
        return None
    return f"{'https' if tls else 'http'}://{hostname}"


def argocd_values(args: ArgoCDArgs) -> dict[str, Any]:
    """Helm values of the argo-cd chart; anything not set here is the chart's default."""
    values: dict[str, Any] = {
        # Deleting the release must not delete every Application with the CRDs.
        "crds": {"keep": True},
        # Tracking by annotation: no 63-character label limit, and no clash with
        # charts that set app.kubernetes.io/instance themselves.
        "configs": {"cm": {"application.resourceTrackingMethod": "annotation"}},
    }
    if args.hostname:
        values = _merged(values, _ingress_values(args))
    if args.ha:
        values = _merged(values, HA_VALUES)
    # Notifiers, triggers and templates from the core; their credentials are the tree's SealedSecret.
    values = _merged(values, notifications_chart_values(args.notifications, argocd_url(args.hostname, args.ingress_tls)))
    return values


# The chart README's HA setup: one application controller (more replicas means
# sharding), two of everything stateless, Redis with failover.
HA_VALUES: Mapping[str, Any] = {
    "redis-ha": {"enabled": True},
    "controller": {"replicas": 1},
    "server": {"replicas": 2},
    "repoServer": {"replicas": 2},
    "applicationSet": {"replicas": 2},
}


def _ingress_values(args: ArgoCDArgs) -> dict[str, Any]:
    return {
        "global": {"domain": args.hostname},
        "configs": {
            # The chart would say https://<domain> whether or not the ingress serves HTTPS; links
            # and SSO redirects must use the URL that works.
            "cm": {"url": argocd_url(args.hostname, args.ingress_tls)},
            # The ingress terminates TLS (if any) and forwards plain HTTP, which a
            # TLS-serving server would answer with redirects to itself.
            "params": {"server.insecure": True},
        },
        "server": {"ingress": _server_ingress(args)},
    }


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, nested mappings key by key, into new dicts (constants stay untouched)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping):
            current = out.get(key)
            out[key] = _merged(current if isinstance(current, Mapping) else {}, value)
        else:
            out[key] = value
    return out


def _server_ingress(args: ArgoCDArgs) -> dict[str, Any]:
    """The chart's server ingress, told what the services' Ingresses are told (``gitops.ingress``).

    Not in the environment's IngressGroup: a group reconciles as a whole, so
    one team's broken Ingress would hold up changes to the way into Argo CD,
    which is how that team would fix it. TLS goes through ``extraTls`` rather
    than the chart's ``tls: true``, which always names ``argocd-server-tls``:
    on ``alb`` the entry names only the host (ACM discovery), elsewhere the
    stack's Secret.
    """
    assert args.hostname is not None
    ingress: dict[str, Any] = {"enabled": True, "hostname": args.hostname}
    if args.ingress_class:
        ingress["ingressClassName"] = args.ingress_class
    config = IngressConfig(domain=None, class_name=args.ingress_class, tls=args.ingress_tls,
                           annotations=tuple(sorted(args.ingress_annotations.items())),
                           certificate_arn=args.certificate_arn, tls_secret_name=args.tls_secret_name)
    annotations = dict(args.ingress_annotations)
    if config.is_alb:
        # The server answers plain HTTP (server.insecure). The stack's own annotations win: they are the more
        # specific choice.
        annotations = {**alb_annotations(config.tls, config.certificate_arn), BACKEND_PROTOCOL: "HTTP", **annotations}
    tls = tls_entry(config, args.hostname, ARGOCD_SERVER_TLS_SECRET)
    if tls is not None:
        ingress["extraTls"] = [tls]
    if annotations:
        ingress["annotations"] = annotations
    return ingress


def ecr_registry_entry(registry: RegistryConfig) -> dict[str, Any]:
    """The registries.conf entry for ECR; credentials come from the login script, refreshed before the token expires.

    ``ping``/``insecure``/``default`` are booleans: the chart's ``yes``/``no`` are
    YAML 1.1 booleans too, and a quoted "yes" would not parse as one.
    """
    return {
        "name": "ECR",
        "api_url": f"https://{registry.host}",
        "prefix": registry.host,
        "ping": True,
        "insecure": False,
        "credentials": f"ext:/scripts/{ECR_LOGIN_SCRIPT}",
        "credsexpire": ECR_CREDS_EXPIRE,
        "default": False,
    }


def ecr_login_script(region: str) -> str:
    """Prints ``AWS:<password>``, the single ``user:password`` line an ``ext:`` credential must print."""
    return ("#!/bin/sh\n"
            f"aws ecr --region {region} get-authorization-token --output text \\\n"
            "  --query 'authorizationData[].authorizationToken' | base64 -d\n")


def image_updater_values(args: ArgoCDArgs) -> dict[str, Any]:
    """Helm values of the argocd-image-updater chart: ECR through Pod Identity, no IRSA annotation."""
    return {
        # The name is fixed because the Pod Identity association refers to it.
        "serviceAccount": {"create": True, "name": IMAGE_UPDATER_SERVICE_ACCOUNT},
        "config": {
            "registries": [ecr_registry_entry(args.registry)],
            "argocd.namespace": args.namespace,
            "log.level": "info",
            # Commits it writes back say which environment made them.
            "git.user": f"argocd-image-updater-{args.environment}",
            "git.email": "noreply@gitops-platform.invalid",
        },
        "authScripts": {"enabled": True, "scripts": {ECR_LOGIN_SCRIPT: ecr_login_script(args.registry.region)}},
        "extraEnv": [{"name": "AWS_REGION", "value": args.region}],
    }


# Argo CD's Application retry shape (syncPolicy.retry); the argocd-apps chart passes syncPolicy through.
# 10s, 20s, 40s, 80s, 160s: about five minutes for CRDs to be served before the root reports a failure.
ROOT_APP_RETRY: Mapping[str, Any] = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}


def root_app_values(args: ArgoCDArgs) -> dict[str, Any]:
    """Helm values of argocd-apps (2.x: ``applications`` is a map keyed by name): the app of apps of the environment."""
    return {
        # The roots' own project (Argo CD's ``default`` grants nothing, see gitops.render.argocd).
        "projects": {
            PLATFORM_PROJECT: {
                "namespace": args.namespace,
                # Kept until no Application uses it.
                "finalizers": [APP_FINALIZER],
                **platform_project(args.gitops.repo_url, args.namespace, platform_kinds(args.notifications)),
            },
        },
        "applications": {
            root_application_name(args.environment): {
                "namespace": args.namespace,
                "project": PLATFORM_PROJECT,
                # Deleting the root Application deletes what it created.
                "finalizers": [APP_FINALIZER],
                "source": {
                    "repoURL": args.gitops.repo_url,
                    "targetRevision": args.gitops.revision,
                    "path": repo_path(args.gitops.path, argocd_env_dir(args.environment)),
                },
                # AppProjects and ApplicationSets belong in Argo CD's own namespace.
                "destination": {"server": IN_CLUSTER_SERVER, "namespace": args.namespace},
                # Its first sync can race the CRDs of a fresh install (ImageUpdater, Argo CD's own): retry.
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "retry": ROOT_APP_RETRY},
            },
        },
    }


def pod_identity_trust_policy() -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
            # TagSession: Pod Identity tags the session with cluster, namespace and ServiceAccount.
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }],
    }, sort_keys=True)


def ecr_read_policy(registry: RegistryConfig) -> str:
    """Log in to ECR and read the repositories of this registry (under its prefix), nothing else."""
    repositories = f"{registry.prefix}/*" if registry.prefix else "*"
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": [ECR_TOKEN_ACTION], "Resource": "*"},
            {
                "Sid": "EcrRead",
                "Effect": "Allow",
                "Action": list(ECR_READ_ACTIONS),
                "Resource": f"arn:aws:ecr:{registry.region}:{registry.account_id}:repository/{repositories}",
            },
        ],
    }, sort_keys=True)


def check_credential_keys(keys: Iterable[str]) -> None:
    """RepoCredentialsError naming the config key unless ``keys`` are one accepted shape.

    Messages name the keys found, never the values: they are secrets.
    """
    found = frozenset(keys)
    if found not in CREDENTIAL_SHAPES:
        raise RepoCredentialsError(
            f"config {CREDENTIALS_KEY} must hold either username and password (HTTPS) or sshPrivateKey (SSH), "
            f"nothing else; it has {', '.join(sorted(found)) or 'no keys'}. "
            f"Set it with `pulumi config set --secret --path '{CREDENTIALS_KEY}.<key>' <value>`."
        )


def repository_secret_data(repo_url: str, credentials: object) -> dict[str, str]:
    """The string data of Argo CD's repository Secret, or RepoCredentialsError naming the config key.

    ``credentials`` is the config value as the engine gives it, checked here: any shape is possible.
    """
    if not isinstance(credentials, Mapping):
        raise RepoCredentialsError(f"config {CREDENTIALS_KEY} must be an object, not {type(credentials).__name__}.")
    check_credential_keys(credentials)
    empty = sorted(k for k, v in credentials.items() if not isinstance(v, str) or not v)
    if empty:
        raise RepoCredentialsError(f"config {CREDENTIALS_KEY}: {', '.join(empty)} must be a non-empty string.")
    return {"type": "git", "url": repo_url, **credentials}


class ArgoCD(pulumi.ComponentResource):
    """Argo CD with the Image Updater reading ECR, bootstrapped with the environment's root Application."""

    url: str | None
    image_updater_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ArgoCDArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if isinstance(args.repo_credentials, Mapping):
            # Plain config (its values may still be Outputs): fail before anything is registered.
            check_credential_keys(args.repo_credentials.keys())
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Known at preview, like the registry URLs: it depends on config only.
        self.url = argocd_url(args.hostname, args.ingress_tls)
        self.namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": args.namespace}, opts=child)
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        self.repo_secret = self._repo_secret(name, args, after_namespace)
        self.release = k8s.helm.v3.Release(
            f"{name}-argo-cd",
            name=ARGOCD_RELEASE,
            namespace=args.namespace,
            create_namespace=False,
            values=argocd_values(args),
            **ARGO_CD.release_args(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, *args.pod_identities,
                                                                 *args.installed_after]),
        )
        role = self._image_updater_role(name, args, child)
        self.image_updater_role_arn = role.arn
        association = aws.eks.PodIdentityAssociation(
            f"{name}-image-updater-pod-identity",
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=IMAGE_UPDATER_SERVICE_ACCOUNT,
            role_arn=role.arn,
            region=args.region,
            tags=dict(args.tags),
            opts=child,
        )
        self.image_updater = k8s.helm.v3.Release(
            f"{name}-image-updater",
            name=IMAGE_UPDATER_RELEASE,
            namespace=args.namespace,
            create_namespace=False,
            values=image_updater_values(args),
            **IMAGE_UPDATER.release_args(),
            # Pod Identity credentials are injected when the pod starts: the association must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, association]),
        )
        # The ImageUpdater CRD comes with the Image Updater; a destroy then removes the root before it.
        root_needs: list[pulumi.Resource] = [self.release, self.image_updater]
        if self.repo_secret is not None:
            root_needs.append(self.repo_secret)
        self.registration: pulumi.Resource | None = (
            args.cluster_registration(pulumi.ResourceOptions(depends_on=[self.release]))
            if args.cluster_registration is not None else None)
        self.root_app = k8s.helm.v3.Release(
            f"{name}-root-app",
            name=APPS_RELEASE,
            namespace=args.namespace,
            create_namespace=False,
            values=root_app_values(args),
            **ARGOCD_APPS.release_args(),
            # The Application CRD comes with the argo-cd release; the first sync needs the credentials.
            opts=pulumi.ResourceOptions(parent=self, depends_on=root_needs),
        )
        self.drained: ApplicationsDrained | None = None
        if args.kubeconfig is not None:
            # Made last, so a destroy deletes it first: it deletes every Application (the root last)
            # while all of these still run, and only then does the engine remove them.
            keep = [self.root_app, self.image_updater, self.release, *args.keep_until_drained]
            if self.registration is not None:
                keep.append(self.registration)
            self.drained = ApplicationsDrained(
                f"{name}-applications-drained",
                ApplicationsDrainedArgs(kubeconfig=args.kubeconfig, namespace=args.namespace),
                opts=pulumi.ResourceOptions(parent=self, depends_on=keep),
            )
        self.register_outputs({
            "namespace": args.namespace,
            "url": self.url,
            "imageUpdaterRoleArn": self.image_updater_role_arn,
        })

    def _repo_secret(self, name: str, args: ArgoCDArgs, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret | None:
        if args.repo_credentials is None:
            return None
        # A secret Output from config is checked here, when its value is known.
        data = pulumi.Output.from_input(args.repo_credentials).apply(
            lambda creds: repository_secret_data(args.gitops.repo_url, creds))
        # Secret in state and on the wire, whether or not the config value was.
        secret_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(data)
        return k8s.core.v1.Secret(
            f"{name}-repo",
            metadata={"name": REPO_SECRET_NAME, "namespace": args.namespace,
                      "labels": {REPO_SECRET_LABEL: "repository"}},
            string_data=secret_data,
            opts=opts,
        )

    def _image_updater_role(self, name: str, args: ArgoCDArgs, child: pulumi.ResourceOptions) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{name}-image-updater-role",
            name=image_updater_role_name(args.role_prefix),
            description="Argo CD Image Updater: read the ECR registry's tags (EKS Pod Identity)",
            assume_role_policy=pod_identity_trust_policy(),
            tags=dict(args.tags),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-image-updater-ecr-read",
            role=role.name,
            policy=ecr_read_policy(args.registry),
            opts=child,
        )
        return role
