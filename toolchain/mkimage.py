#!/usr/bin/env python3
"""Write a single-layer, FROM-scratch container image as a `docker save` archive, without a daemon.

    mkimage.py --tag ha-swarm/whoami:v1 --out whoami.tar \
        --file ./whoami:/whoami:0755 --entrypoint '["/whoami"]' --expose 80/tcp

The result is the classic docker-archive layout that every `docker load` (Docker 1.10 and
later, so Debian's docker.io 20.10 too) reads: manifest.json, the image config
<sha256>.json, and <layer id>/layer.tar, plus the legacy `repositories` file. It is what a
`FROM scratch` Dockerfile with `COPY` lines and `ENTRYPOINT`/`CMD`/`ENV`/`EXPOSE` gives,
minus the build daemon. The output is reproducible: file times, owners and the config's
`created` come from SOURCE_DATE_EPOCH (default 0), so the same inputs give the same image id.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import time


def _tarinfo(name: str, mtime: int, *, mode: int, kind: bytes = tarfile.REGTYPE, size: int = 0) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.size = size
    ti.mtime = mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def build_layer(files: list[tuple[str, str, int]], dirs: list[str], mtime: int) -> bytes:
    """An uncompressed layer tar holding `files` (src, dest, mode) and every parent folder."""
    wanted_dirs: set[str] = set()
    for d in dirs:
        wanted_dirs.add(d.strip("/"))
    for _, dest, _ in files:
        parts = dest.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            wanted_dirs.add("/".join(parts[:i]))
    wanted_dirs.discard("")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(wanted_dirs):
            mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(_tarinfo(d + "/", mtime, mode=mode, kind=tarfile.DIRTYPE))
        for src, dest, mode in sorted(files, key=lambda f: f[1]):
            with open(src, "rb") as fh:
                data = fh.read()
            tar.addfile(_tarinfo(dest.strip("/"), mtime, mode=mode, size=len(data)), io.BytesIO(data))
    return buf.getvalue()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tag", required=True, action="append", help="repository:tag (repeatable)")
    ap.add_argument("--out", required=True, help="the archive to write")
    ap.add_argument("--file", action="append", default=[], help="SRC:DEST[:MODE], MODE in octal (default 0755)")
    ap.add_argument("--dir", action="append", default=[], help="an empty folder to create, e.g. /tmp")
    ap.add_argument("--entrypoint", default="null", help="JSON list")
    ap.add_argument("--cmd", default="null", help="JSON list")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    ap.add_argument("--expose", action="append", default=[], help="PORT/PROTO (repeatable)")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--label", action="append", default=[], help="KEY=VALUE (repeatable)")
    args = ap.parse_args(argv)

    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    files: list[tuple[str, str, int]] = []
    for spec in args.file:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            ap.error(f"--file {spec!r}: want SRC:DEST[:MODE]")
        mode = int(parts[2], 8) if len(parts) == 3 else 0o755
        files.append((parts[0], parts[1], mode))

    layer = build_layer(files, args.dir, mtime)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    layer_id = hashlib.sha256(("layer:" + diff_id).encode()).hexdigest()

    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    container_config: dict[str, object] = {
        "Env": args.env or None,
        "Entrypoint": json.loads(args.entrypoint),
        "Cmd": json.loads(args.cmd),
        "WorkingDir": args.workdir,
        "Labels": dict(kv.split("=", 1) for kv in args.label) or None,
        "ExposedPorts": {p if "/" in p else p + "/tcp": {} for p in args.expose} or None,
    }
    container_config = {k: v for k, v in container_config.items() if v not in (None, "")}
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "ha-swarm toolchain/mkimage.py: COPY " + " ".join(d for _, d, _ in files)}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    image_id = hashlib.sha256(config_bytes).hexdigest()

    manifest = [{"Config": f"{image_id}.json", "RepoTags": args.tag, "Layers": [f"{layer_id}/layer.tar"]}]
    repositories: dict[str, dict[str, str]] = {}
    for tag in args.tag:
        repo, _, t = tag.rpartition(":")
        repositories.setdefault(repo, {})[t] = layer_id

    entries = [
        (f"{layer_id}/", None),
        (f"{layer_id}/VERSION", b"1.0"),
        (f"{layer_id}/layer.tar", layer),
        (f"{image_id}.json", config_bytes),
        ("manifest.json", json.dumps(manifest, separators=(",", ":")).encode()),
        ("repositories", json.dumps(repositories, separators=(",", ":")).encode()),
    ]
    tmp = args.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            if data is None:
                tar.addfile(_tarinfo(name, mtime, mode=0o755, kind=tarfile.DIRTYPE))
            else:
                tar.addfile(_tarinfo(name, mtime, mode=0o644, size=len(data)), io.BytesIO(data))
    os.replace(tmp, args.out)
    print(f"sha256:{image_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
