"""``python -m gitops seal``: kubeseal --cert, offline; output the controller opens, errors that say why.

Every bad input exits 2 with one ``Error:`` line, and no secret value ever
appears on stderr.
"""

from __future__ import annotations

import base64
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gitops import yamlio
from gitops.cli import SEAL_SCOPES
from gitops.sealing import SCOPE_ANNOTATIONS, Scope, label_for, unseal_sealed_secret, unseal_value
from test_sealing_core import DAY, NOW, PASSWORD, a_secret, certificate_pem, new_key, with_metadata

Stdin = Callable[[bytes], None]


@pytest.fixture(scope="module")
def dev_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def certs(dev_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Certificate files: ``dev`` (valid), ``expired``, ``public-key`` (a bare public key PEM)."""
    root = tmp_path_factory.mktemp("certs")
    contents = {
        "dev": certificate_pem(dev_key),
        "expired": certificate_pem(dev_key, NOW - 30 * DAY, NOW - DAY),
        "public-key": dev_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo),
    }
    for name, data in contents.items():
        (root / f"{name}.pem").write_bytes(data)
    return {name: root / f"{name}.pem" for name in contents}


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write(*docs)`` or ``write(text)``: an input file with these Secrets (or this exact text)."""
    def _write(*docs: Any, name: str = "secret.yaml") -> Path:
        path = tmp_path / name
        text = docs[0] if len(docs) == 1 and isinstance(docs[0], str) else yamlio.dump_all(docs)
        path.write_text(text, encoding="utf-8")
        return path
    return _write


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Stdin:
    """``stdin(data)``: what the command reads from standard input."""
    def _feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return _feed


def the_values(out: str, key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    return unseal_sealed_secret(yaml.safe_load(out), [key])


EXPECTED = {"USER": b"admin", "PASSWORD": PASSWORD.encode()}


# --- sealing Secret YAML -------------------------------------------------------------------------

def test_a_secret_file_becomes_a_sealed_secret_the_controller_opens(run, certs, write, dev_key) -> None:
    result = run("seal", "--cert", certs["dev"], "-f", write(a_secret()))
    assert (result.code, result.err) == (0, "")
    assert the_values(result.out, dev_key) == EXPECTED


def test_the_output_is_one_yaml_document_without_a_header(run, certs, write) -> None:
    out = run("seal", "--cert", certs["dev"], "-f", write(a_secret())).out
    assert out.startswith("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n")
    assert "---" not in out and "#" not in out


def test_without_a_file_the_secret_is_read_from_stdin(run, certs, stdin, dev_key) -> None:
    stdin(yamlio.dump(a_secret()).encode())
    assert the_values(run("seal", "--cert", certs["dev"]).out, dev_key) == EXPECTED


def test_a_dash_as_file_reads_stdin(run, certs, stdin, dev_key) -> None:
    stdin(yamlio.dump(a_secret()).encode())
    assert the_values(run("seal", "--cert", certs["dev"], "-f", "-").out, dev_key) == EXPECTED


def test_every_secret_of_a_multi_document_input_is_sealed_in_order(run, certs, write, dev_key) -> None:
    first, second = with_metadata(name="db"), with_metadata(name="cache")
    result = run("seal", "--cert", certs["dev"], "-f", write(first, second))
    docs = list(yaml.safe_load_all(result.out))
    assert [d["metadata"]["name"] for d in docs] == ["db", "cache"]
    assert all(unseal_sealed_secret(d, [dev_key]) == EXPECTED for d in docs)


def test_the_scope_flag_sets_the_scope_and_its_annotation(run, certs, write, dev_key) -> None:
    out = run("seal", "--cert", certs["dev"], "--scope", "namespace-wide", "-f", write(a_secret())).out
    sealed = yaml.safe_load(out)
    assert sealed["metadata"]["annotations"] == {SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]: "true"}
    sealed["metadata"]["name"] = "renamed"
    assert unseal_sealed_secret(sealed, [dev_key]) == EXPECTED


def test_a_cluster_wide_secret_needs_no_namespace(run, certs, write, dev_key) -> None:
    result = run("seal", "--cert", certs["dev"], "--scope", "cluster-wide", "-f", write(with_metadata(namespace=None)))
    assert result.code == 0
    assert "namespace" not in yaml.safe_load(result.out)["metadata"]
    assert the_values(result.out, dev_key) == EXPECTED


def test_the_scope_choices_are_the_sealing_scopes() -> None:
    assert tuple(s.value for s in Scope) == SEAL_SCOPES


# --- raw mode ------------------------------------------------------------------------------------

def test_raw_mode_prints_one_base64_value_for_that_name_and_namespace(run, certs, tmp_path, dev_key) -> None:
    value = tmp_path / "password"
    value.write_bytes(PASSWORD.encode())
    result = run("seal", "--cert", certs["dev"], "--raw", "--name", "db", "--namespace", "shop", "--from-file", value)
    assert result.code == 0 and result.out.endswith("\n") and result.out.count("\n") == 1
    payload = base64.b64decode(result.out.strip(), validate=True)
    assert unseal_value([dev_key], payload, b"shop/db") == PASSWORD.encode()


def test_raw_mode_seals_the_stdin_bytes_exactly_including_a_trailing_newline(run, certs, stdin, dev_key) -> None:
    stdin(PASSWORD.encode() + b"\n")  # what `echo` sends; `printf %s` would not add the newline
    out = run("seal", "--cert", certs["dev"], "--raw", "--name", "db", "--namespace", "shop").out
    assert unseal_value([dev_key], base64.b64decode(out), b"shop/db") == PASSWORD.encode() + b"\n"


@pytest.mark.parametrize("scope, flags, label", [
    ("namespace-wide", ["--namespace", "shop"], label_for(Scope.NAMESPACE_WIDE, "shop", "")),
    ("cluster-wide", [], label_for(Scope.CLUSTER_WIDE, "", "")),
])
def test_raw_mode_needs_only_what_the_scope_binds_to(run, certs, stdin, dev_key, scope, flags, label) -> None:
    stdin(b"value")
    out = run("seal", "--cert", certs["dev"], "--raw", "--scope", scope, *flags).out
    assert unseal_value([dev_key], base64.b64decode(out), label) == b"value"


# --- bad input -----------------------------------------------------------------------------------

BAD_YAML = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  name: again\n"

BAD_INPUT = {
    # id: (argv after "seal" with {cert}/{secret} placeholders, secret file content, words in the error)
    "strict-without-namespace": (["--cert", "{dev}", "-f", "{secret}"], with_metadata(namespace=None),
                                 "metadata.namespace: is missing"),
    "expired-certificate": (["--cert", "{expired}", "-f", "{secret}"], a_secret(), "expired"),
    "public-key-not-certificate": (["--cert", "{public-key}", "-f", "{secret}"], a_secret(),
                                   "is a public key, not a certificate"),
    "missing-certificate": (["--cert", "{secret}.missing", "-f", "{secret}"], a_secret(), "file not found"),
    "missing-secret-file": (["--cert", "{dev}", "-f", "{secret}.missing"], a_secret(), "file not found"),
    "duplicate-key-yaml": (["--cert", "{dev}", "-f", "{secret}"], BAD_YAML, "line 5"),
    "bad-base64": (["--cert", "{dev}", "-f", "{secret}"], a_secret(data={"PASSWORD": PASSWORD}),
                   "data.PASSWORD: is not valid base64"),
    "empty-input": (["--cert", "{dev}", "-f", "{secret}"], "# nothing\n", "holds no Secret"),
    "raw-without-namespace": (["--cert", "{dev}", "--raw", "--name", "db", "--from-file", "{secret}"], a_secret(),
                              "--namespace: required with --raw"),
    "raw-strict-without-name": (["--cert", "{dev}", "--raw", "--namespace", "shop", "--from-file", "{secret}"],
                                a_secret(), "--name: required with --raw and --scope strict"),
    "raw-with-secret-file": (["--cert", "{dev}", "--raw", "--name", "db", "--namespace", "shop", "-f", "{secret}"],
                             a_secret(), "-f: is for Secret YAML"),
    "name-without-raw": (["--cert", "{dev}", "--name", "db", "-f", "{secret}"], a_secret(),
                         "--name: only used with --raw"),
}


@pytest.mark.parametrize("argv, content, words", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_exits_2_with_one_error_line_that_never_shows_a_secret(run, certs, write, argv, content,
                                                                         words) -> None:
    places = {name: str(path) for name, path in certs.items()}
    places["secret"] = str(write(content))
    result = run("seal", *[arg.format(**places) for arg in argv])
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("Error: ") and result.err.count("\n") == 1
    assert words in result.err
    assert PASSWORD not in result.err and "Traceback" not in result.err


def test_an_error_in_one_document_writes_nothing_for_the_others(run, certs, write) -> None:
    result = run("seal", "--cert", certs["dev"], "-f", write(a_secret(), with_metadata(namespace=None)))
    assert (result.code, result.out) == (2, "")
    assert "secret.yaml (document 2): metadata.namespace" in result.err


def test_a_missing_cert_flag_is_a_usage_error(run, write) -> None:
    assert run("seal", "-f", write(a_secret())).code == 2


# --- hostile input: values PyYAML would quote, files that are no files, huge or aliased input ----------

SECRET_YAML = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  PASSWORD: {}\n"


@pytest.mark.parametrize("value, echoed", [
    (f"!foo {PASSWORD}", "foo"),            # PyYAML's reason names the tag, a part of the value
    (f"!!binary {PASSWORD}é", "position"),  # ... or where in the value the bad character sits
    (f"!!int {PASSWORD}", "invalid literal"),
], ids=["unknown tag", "bad binary", "bad int"])
def test_a_secret_that_does_not_parse_is_reported_by_line_and_column_only(run, certs, write, value, echoed) -> None:
    result = run("seal", "--cert", certs["dev"], "-f", write(SECRET_YAML.format(value)))
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("Error: ") and result.err.count("\n") == 1
    assert "invalid YAML at line 7, column 13" in result.err, result.err
    assert PASSWORD not in result.err and echoed not in result.err, result.err


@pytest.mark.parametrize("value", ["2023-13-45", "2024-01-15", "2024-02-30 10:00:00"])
def test_a_date_like_value_is_sealed_as_the_text_it_is(run, certs, write, dev_key, value) -> None:
    result = run("seal", "--cert", certs["dev"], "-f", write(SECRET_YAML.format(value)))
    assert (result.code, result.err) == (0, "")
    assert the_values(result.out, dev_key) == {"PASSWORD": value.encode()}


def test_a_secret_with_yaml_aliases_is_refused_before_anything_expands(run, certs, write) -> None:
    laughs = "".join(f"  - &l{n} [{', '.join([f'*l{n - 1}' if n else 'lol'] * 9)}]\n" for n in range(9))
    result = run("seal", "--cert", certs["dev"], "-f", write(SECRET_YAML.format("x") + "x-laughs:\n" + laughs))
    assert (result.code, result.out) == (2, "")
    assert result.err.count("\n") == 1 and "anchors and aliases are not accepted" in result.err, result.err


@pytest.mark.parametrize("which", ["cert", "file", "from-file"])
@pytest.mark.parametrize("kind", ["/dev/zero", "fifo"])
def test_an_input_that_is_no_regular_file_is_refused(run, certs, write, tmp_path, which, kind) -> None:
    special = Path(kind) if kind.startswith("/") else tmp_path / "pipe"
    if kind == "fifo":
        os.mkfifo(special)
    argv = {"cert": ["--cert", special, "-f", write(a_secret())],
            "file": ["--cert", certs["dev"], "-f", special],
            "from-file": ["--cert", certs["dev"], "--raw", "--name", "db", "--namespace", "shop", "--from-file", special],
            }[which]
    result = run("seal", *argv)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"Error: {special}: is a ") and "not a regular file" in result.err, result.err
    assert result.err.count("\n") == 1


@pytest.mark.parametrize("raw", [False, True], ids=["secret yaml", "raw value"])
def test_stdin_beyond_1_mib_is_refused(run, certs, stdin, raw) -> None:
    stdin(b"a" * ((1 << 20) + 1))
    argv = ["--raw", "--name", "db", "--namespace", "shop"] if raw else []
    result = run("seal", "--cert", certs["dev"], *argv)
    assert (result.code, result.out) == (2, "")
    assert result.err == "Error: <stdin>: is larger than 1 MiB (1048576 bytes), the most an input may be; " \
                         "check that this is the file you meant\n"


def test_a_certificate_beyond_1_mib_is_refused(run, certs, write, tmp_path) -> None:
    big = tmp_path / "big.pem"
    big.write_bytes(certs["dev"].read_bytes() + b"\n" * (1 << 20))
    result = run("seal", "--cert", big, "-f", write(a_secret()))
    assert result.code == 2 and f"{big}: is larger than 1 MiB" in result.err, result.err
