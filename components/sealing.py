"""The cluster's sealed-secrets keys, made (or restored) by Pulumi, and the controller that uses them.

The key pairs and certificates are generated here (pulumi-tls) rather than by
the controller, so the public certificate is known to the program and is
published in the GitOps repository: anyone can seal offline with
``kubeseal --cert`` or ``python -m gitops seal`` without cluster access, and
the program seals the catalog's secrets itself.

Keys come in generations (``sealing.generation``). Every installed generation
(``oldestGeneration..generation``) is a labelled ``kubernetes.io/tls`` Secret in
the controller's namespace, created *before* the controller, which reads its
keys at start-up; all of them open what they sealed, the newest seals.
Rotation = raise ``generation``: the new key is added, the old ones keep
decrypting, the program re-seals every secret with the new certificate, and
the controller is restarted (a pod annotation names the installed
generations). Retiring = raise ``oldestGeneration`` once nothing is sealed
with the old key.

Renewal by the controller is switched off (``keyrenewperiod: "0"``). With the
default 30-day renewal, a pre-generated key older than the period makes the
controller generate its own key at first start and seal with it: the published
certificate and ``kubeseal --fetch-cert`` would then disagree. Rotation is a
reviewed Pulumi change instead.

Disaster recovery: with ``backup`` the private keys are copied to AWS Secrets
Manager (KMS-encrypted); a rebuilt stack with ``restoreFrom`` installs those
keys instead of new ones, so every SealedSecret in Git opens again. The private
keys otherwise live only in Pulumi state, as secrets.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_tls as tls
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from components.charts import SEALED_SECRETS
from gitops import layout
from gitops.model import SealingConfig
from gitops.sealing import stability_key

TYPE = "gitops-platform:sealing:SealingKey"
KEY_BITS = 4096                                  # what the controller itself generates
CERT_COMMON_NAME = "sealed-secret"
# The chart's prefix for keys the controller would make itself (renewal is off, so it makes none).
KEY_PREFIX = "sealed-secrets-key"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
RELEASE_NAME = layout.SEALED_SECRETS_RELEASE
# kubeseal's default --controller-name; with it no one has to pass flags.
CONTROLLER_NAME = "sealed-secrets-controller"
# Changing the installed key set changes this pod annotation, which restarts the controller.
KEYS_ANNOTATION = layout.ANNOTATION_SEALING_KEY_GENERATIONS
BACKUP_FORMAT = "gitops-platform/sealed-secrets-keys/v1"


@dataclass(frozen=True)
class SealingKeyArgs:
    """``cluster_name`` goes into the certificates' organization and the backup's name.

    ``config``: generations, namespace (default kube-system, kubeseal's default
    --controller-namespace; it must exist), backup and restore.
    ``validity_days``: certificate lifetime (default 3650, the controller's own
    default key TTL); kubeseal refuses to seal with an expired certificate.
    ``installed_after``: in-cluster components the controller's release waits
    for (the load balancer controller's webhook refuses Services until it
    runs; default none).
    """

    cluster_name: str
    config: SealingConfig = SealingConfig()
    validity_days: int = 3650
    tags: Mapping[str, str] = field(default_factory=dict)
    installed_after: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class KeyPair:
    private_key_pem: pulumi.Output[str]   # secret
    certificate_pem: pulumi.Output[str]


def key_secret_name(generation: int) -> str:
    return f"{KEY_PREFIX}-g{generation}"


def certificate_subject(cluster_name: str) -> tls.SelfSignedCertSubjectArgsDict:
    return {"common_name": CERT_COMMON_NAME, "organization": f"gitops-platform {cluster_name}"}


def controller_values(generations: tuple[int, ...] = (1,)) -> dict[str, object]:
    """Helm values of the sealed-secrets chart: kubeseal's default name, our keys, no renewal."""
    return {
        "fullnameOverride": CONTROLLER_NAME,
        "secretName": KEY_PREFIX,
        # A string: the chart passes it to --key-renew-period, where "0" disables renewal.
        "keyrenewperiod": "0",
        "podAnnotations": {KEYS_ANNOTATION: ",".join(f"g{g}" for g in generations)},
    }


def backup_document(cluster_name: str, keys: Mapping[int, tuple[str, str]]) -> str:
    """The Secrets Manager payload: every installed generation's key and certificate (PEM)."""
    return json.dumps({
        "format": BACKUP_FORMAT,
        "cluster": cluster_name,
        "generations": {str(g): {"tls.crt": crt, "tls.key": key} for g, (key, crt) in sorted(keys.items())},
    }, sort_keys=True)


class BackupError(ValueError):
    """A restore source that does not hold the keys the stack needs (never shows key material)."""


def restored_pair(document: str, generation: int, source: str) -> tuple[str, str]:
    """(private key PEM, certificate PEM) of one generation from a backup made by ``backup_document``."""
    try:
        data = json.loads(document)
        entry = data["generations"][str(generation)]
        key, crt = entry["tls.key"], entry["tls.crt"]
    except (ValueError, KeyError, TypeError):
        raise BackupError(
            f"config gitops-platform:sealing.restoreFrom: {source} holds no key of generation {generation} "
            f"(expected a backup written by gitops-platform, format {BACKUP_FORMAT}); set sealing.generation and "
            "sealing.oldestGeneration to the generations it holds") from None
    if not (isinstance(key, str) and "PRIVATE KEY" in key and isinstance(crt, str) and "CERTIFICATE" in crt):
        raise BackupError(f"config gitops-platform:sealing.restoreFrom: {source}: generation {generation} is not a PEM key pair")
    return key, crt


def stability_key_hex(private_key_pem: str) -> str:
    key = load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):   # pulumi-tls makes RSA keys; a restored backup might not hold one
        raise BackupError(f"the sealing key is {type(key).__name__}, not an RSA key: sealed-secrets uses RSA keys only")
    return stability_key(key).hex()


class SealingKey(pulumi.ComponentResource):
    """The cluster's sealing keys (one per generation) as the controller's active keys, and the controller."""

    certificate_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    stability_key: pulumi.Output[str]

    def __init__(self, name: str, args: SealingKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        config = args.config
        self.keys: dict[int, KeyPair] = (self._restored(name, args) if config.restore_from
                                         else {g: self._generated(name, args, g) for g in config.generations})
        newest = self.keys[config.generation]
        self.certificate_pem = newest.certificate_pem
        self.private_key_pem = pulumi.Output.secret(newest.private_key_pem)
        # Makes the program's sealing deterministic (same value and certificate, same bytes);
        # derived from the newest key, so whoever can read this stack's secrets can reproduce it.
        self.stability_key = pulumi.Output.secret(newest.private_key_pem.apply(stability_key_hex))
        self.secrets = [self._key_secret(name, args, g, pair) for g, pair in sorted(self.keys.items())]
        self.release = k8s.helm.v3.Release(
            f"{name}-controller",
            name=RELEASE_NAME,
            namespace=config.namespace,
            create_namespace=False,
            values=controller_values(config.generations),
            **SEALED_SECRETS.release_args(),
            # The controller reads its keys once, at start-up: they must already be there.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.secrets, *args.installed_after]),
        )
        self.backup = self._backup(name, args) if config.backup else None
        self.backup_arn: pulumi.Output[str] | None = self.backup.arn if self.backup is not None else None
        self.register_outputs({"certificatePem": self.certificate_pem, "privateKeyPem": self.private_key_pem,
                               "backupArn": self.backup_arn})

    def _generated(self, name: str, args: SealingKeyArgs, generation: int) -> KeyPair:
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-g{generation}-key", algorithm="RSA", rsa_bits=KEY_BITS, opts=child)
        cert = tls.SelfSignedCert(
            f"{name}-g{generation}-cert",
            private_key_pem=key.private_key_pem,
            subject=certificate_subject(args.cluster_name),
            validity_period_hours=args.validity_days * 24,
            is_ca_certificate=True,
            # Nothing in sealed-secrets checks key usage; these describe what the key does.
            allowed_uses=["key_encipherment", "digital_signature"],
            opts=child,
        )
        # PKCS#1 ("RSA PRIVATE KEY"), the format the controller writes itself.
        return KeyPair(pulumi.Output.secret(key.private_key_pem), cert.cert_pem)

    def _restored(self, name: str, args: SealingKeyArgs) -> dict[int, KeyPair]:
        source = args.config.restore_from
        assert source is not None
        version = aws.secretsmanager.get_secret_version_output(
            secret_id=source, opts=pulumi.InvokeOptions(parent=self))
        document: pulumi.Output[str] = pulumi.Output.secret(version.secret_string)
        pairs = {}
        for g in args.config.generations:
            pair = document.apply(functools.partial(restored_pair, generation=g, source=source))
            pairs[g] = KeyPair(pulumi.Output.secret(pair.apply(lambda p: p[0])),
                               pulumi.Output.unsecret(pair.apply(lambda p: p[1])))
        return pairs

    def _key_secret(self, name: str, args: SealingKeyArgs, generation: int, pair: KeyPair) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{name}-g{generation}-secret",
            metadata={"name": key_secret_name(generation), "namespace": args.config.namespace,
                      "labels": {KEY_LABEL: "active"}},
            type="kubernetes.io/tls",
            string_data=pulumi.Output.secret({"tls.crt": pair.certificate_pem, "tls.key": pair.private_key_pem}),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _backup(self, name: str, args: SealingKeyArgs) -> aws.secretsmanager.Secret:
        """Every installed key in Secrets Manager; a unique name, so a rebuilt stack never collides with it."""
        child = pulumi.ResourceOptions(parent=self)
        secret = aws.secretsmanager.Secret(
            f"{name}-backup",
            name_prefix=f"{args.cluster_name}/sealed-secrets-keys-",
            description=f"sealed-secrets private keys of cluster {args.cluster_name} (gitops-platform); "
                        "restore with sealing.restoreFrom",
            kms_key_id=args.config.backup_kms_key_id,
            recovery_window_in_days=30,
            tags={layout.AWS_TAG_MANAGED_BY: layout.MANAGED_BY, **args.tags},
            opts=child,
        )
        generations = sorted(self.keys)
        material: list[Any] = []
        for g in generations:
            material += [self.keys[g].private_key_pem, self.keys[g].certificate_pem]
        document = pulumi.Output.all(*material).apply(lambda values: backup_document(
            args.cluster_name, {g: (values[2 * i], values[2 * i + 1]) for i, g in enumerate(generations)}))
        secret_document: pulumi.Output[str] = pulumi.Output.secret(document)
        aws.secretsmanager.SecretVersion(f"{name}-backup-version", secret_id=secret.id,
                                         secret_string=secret_document, opts=child)
        return secret
