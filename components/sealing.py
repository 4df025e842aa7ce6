"""The cluster's sealed-secrets key, made by Pulumi, and the controller that uses it.

The key pair and certificate are generated here (pulumi-tls) rather than by the
controller, so the public certificate is known to the program and can be
written to the GitOps repository: anyone can seal offline with
``kubeseal --cert`` and no one needs access to the cluster.

The key is installed as a labelled ``kubernetes.io/tls`` Secret *before* the
controller starts, because the controller reads its keys only at start-up.

Renewal is switched off (``keyrenewperiod: "0"``). With the controller's
default 30-day renewal, a pre-generated key older than the period makes the
controller generate its own key at first start, and that key becomes the one
it seals with: ``kubeseal --fetch-cert`` and the exported certificate would
then disagree. With renewal off, the key below stays the only sealing key and
offline sealing always matches the controller. Rotation is deliberate and goes
through Pulumi: a replaced key replaces this Secret, so the old key has to be
kept as another ``active`` Secret (or everything resealed) and the controller
restarted, since it reads keys only at start-up. Sealed data depends only on
the RSA key, so when the certificate expires and pulumi-tls re-issues it for
the same key, existing SealedSecrets still decrypt.

The private key lives only in Pulumi state, as a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.charts import SEALED_SECRETS

TYPE = "gitops-platform:sealing:SealingKey"
KEY_BITS = 4096                                  # what the controller itself generates
CERT_COMMON_NAME = "sealed-secret"
# The chart's key prefix (``secretName``): a Secret of exactly this name is also
# found by the controller's legacy by-name lookup, in addition to the label.
KEY_SECRET_NAME = "sealed-secrets-key"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
RELEASE_NAME = "sealed-secrets"
# kubeseal's default --controller-name; with it no one has to pass flags.
CONTROLLER_NAME = "sealed-secrets-controller"


@dataclass(frozen=True)
class SealingKeyArgs:
    """``cluster_name`` goes into the certificate's organization, to tell clusters' certificates apart.

    ``namespace``: where the key Secret and the controller live (default
    "kube-system", kubeseal's default --controller-namespace; it must exist).
    ``validity_days``: certificate lifetime (default 3650, the controller's own
    default key TTL); kubeseal refuses to seal with an expired certificate.
    """

    cluster_name: str
    namespace: str = "kube-system"
    validity_days: int = 3650


def certificate_subject(cluster_name: str) -> dict[str, str]:
    return {"common_name": CERT_COMMON_NAME, "organization": f"gitops-platform {cluster_name}"}


def controller_values() -> dict[str, object]:
    """Helm values of the sealed-secrets chart: kubeseal's default name, our key, no renewal."""
    return {
        "fullnameOverride": CONTROLLER_NAME,
        "secretName": KEY_SECRET_NAME,
        # A string: the chart passes it to --key-renew-period, where "0" disables renewal.
        "keyrenewperiod": "0",
    }


class SealingKey(pulumi.ComponentResource):
    """An RSA-4096 sealing key as the controller's only active key, and the controller."""

    certificate_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: SealingKeyArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="RSA", rsa_bits=KEY_BITS, opts=child)
        cert = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=key.private_key_pem,
            subject=certificate_subject(args.cluster_name),
            validity_period_hours=args.validity_days * 24,
            is_ca_certificate=True,
            # Nothing in sealed-secrets checks key usage; these describe what the key does.
            allowed_uses=["key_encipherment", "digital_signature"],
            opts=child,
        )
        self.certificate_pem = cert.cert_pem
        # PKCS#1 ("RSA PRIVATE KEY"), the format the controller writes itself.
        self.private_key_pem = pulumi.Output.secret(key.private_key_pem)
        self.secret = self._key_secret(name, args, child)
        self.release = k8s.helm.v3.Release(
            f"{name}-controller",
            name=RELEASE_NAME,
            namespace=args.namespace,
            create_namespace=False,
            values=controller_values(),
            **SEALED_SECRETS.release_args(),  # type: ignore[arg-type]
            # The controller reads its keys once, at start-up: the key must already be there.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.secret]),
        )
        self.register_outputs({"certificatePem": self.certificate_pem, "privateKeyPem": self.private_key_pem})

    def _key_secret(self, name: str, args: SealingKeyArgs, child: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={"name": KEY_SECRET_NAME, "namespace": args.namespace, "labels": {KEY_LABEL: "active"}},
            type="kubernetes.io/tls",
            string_data=pulumi.Output.secret({"tls.crt": self.certificate_pem, "tls.key": self.private_key_pem}),
            opts=child,
        )
