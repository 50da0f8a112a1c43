"""A private CA and server certificates made with the `openssl` CLI, for the e2e tests' HTTPS."""

from __future__ import annotations

import subprocess
from pathlib import Path

_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


class CertificateError(RuntimeError):
    pass


def openssl(directory: Path, *args: str) -> None:
    res = subprocess.run(["openssl", *args], cwd=directory, capture_output=True, text=True, timeout=60, check=False)
    if res.returncode != 0:
        raise CertificateError(f"openssl {' '.join(args)} exited {res.returncode}: {res.stderr.strip()}")


def private_ca(directory: Path, name: str, stem: str = "ca") -> Path:
    """A CA valid a week: STEM.pem and STEM.key in DIRECTORY; returns the certificate's path."""
    openssl(
        directory, "req", "-x509", *_EC, "-keyout", f"{stem}.key", "-out", f"{stem}.pem", "-days", "7", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return directory / f"{stem}.pem"


def server_certificate(directory: Path, san: str, stem: str, ca: str = "ca") -> tuple[Path, Path]:
    """A server certificate for SAN (such as IP:10.0.0.1 or DNS:*.example.test) signed by the CA
    of `private_ca`: STEM.pem (PKCS#8 key in STEM.key); returns both paths."""
    subject = san.split(":", 1)[1]
    openssl(directory, "req", *_EC, "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={subject}")
    (directory / f"{stem}.ext").write_text(
        f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
    )
    openssl(
        directory, "x509", "-req", "-in", f"{stem}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
        "-days", "7", "-extfile", f"{stem}.ext", "-out", f"{stem}.pem",
    )  # fmt: skip
    return directory / f"{stem}.pem", directory / f"{stem}.key"
