#!/usr/bin/env python3
"""Find or fetch a Go new enough for ha-swarm's Go modules, and print the path of its `go` (stdout).

The version needed is the highest `go` directive of toolchain/*/go.mod (written nowhere else).
In this order:

1. a local go that is new enough: $GO, then `go` on PATH, then /usr/local/go/bin/go; used as it is;
2. the Go already fetched by step 4 into ${HA_SWARM_CACHE:-~/.cache/ha-swarm}/go/goX.Y.Z.OS-ARCH/;
3. a local go of 1.21 or later, but older: `GOTOOLCHAIN=goX.Y.Z go env GOROOT`, i.e. go fetches the
   module `golang.org/toolchain` from the module proxy itself (its ordinary mechanism, checked
   against the checksum database by go), and the `go` of that GOROOT is printed;
4. no go, or one older than 1.21 (Debian 12 has 1.19): the same module,
   `golang.org/toolchain@v0.0.1-goX.Y.Z.OS-ARCH`, downloaded from GOPROXY (its `direct` and `off`
   entries skipped), its `h1:` hash looked up in the checksum database (GOSUMDB, through the
   proxy when the proxy serves it, as go does), the zip's hash computed as go computes it and
   compared: a mismatch is refused (exit 1, nothing installed, no other Go tried). Then unpacked
   into the cache, once.

What step 4 does not do that go does: check the lookup's signature and Merkle proof (the hash is
taken from the checksum database's answer as served over HTTPS) and honour GONOSUMDB/GOPRIVATE
(the module is always checked).  GOPROXY and GOSUMDB come from the environment, else from go's
user configuration file (`go env -w`), else go's defaults.

    GO=$(python3 toolchain/ensure_go.py)     # progress on stderr; exit 1 with a reason when none
    python3 toolchain/ensure_go.py --offline # the same without network: steps 1-3, step 3 only from go's module cache
    python3 toolchain/ensure_go.py --needed  # the version needed, e.g. 1.26.6

For its tests: HS_ENSURE_GO_LOCAL stands for /usr/local/go/bin/go, HS_ENSURE_GO_MODULES for toolchain/
(the folder whose */go.mod are read).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLCHAIN_MODULE = "golang.org/toolchain"
SWITCH_MIN = (1, 21, 0)  # the first go that fetches another toolchain itself (GOTOOLCHAIN)
DEFAULT_PROXY = "https://proxy.golang.org"
DEFAULT_SUMDB = "sum.golang.org"
TIMEOUT = 60  # seconds without an answer before a request is given up

Version = tuple[int, int, int]  # (1, 26, 6); a pre-release (1.27rc1) has patch -1


class NoGoError(Exception):
    """Why no Go can be had: printed, exit 1."""


def log(msg: str) -> None:
    print(f"ensure-go: {msg}", file=sys.stderr, flush=True)


def show(v: Version) -> str:
    return f"{v[0]}.{v[1]}.{v[2]}" if v[2] >= 0 else f"{v[0]}.{v[1]} (pre-release)"


# ------------------------------------------------------------------------------ versions


def parse_go_version(text: str) -> Version | None:
    """The version in `go version` output ("go version go1.22.2 linux/amd64"), None when there is none."""
    m = re.search(r"\bgo(\d+)\.(\d+)(?:\.(\d+))?(rc\d+|beta\d+)?", text)
    if not m:
        return None
    major, minor = int(m.group(1)), int(m.group(2))
    if m.group(4):
        return (major, minor, -1)
    return (major, minor, int(m.group(3) or 0))


def needed_version(modules: Path) -> Version:
    """The highest `go` directive among MODULES/*/go.mod ("go 1.26" counts as 1.26.0)."""
    found: list[Version] = []
    for gomod in sorted(modules.glob("*/go.mod")):
        for line in gomod.read_text().splitlines():
            m = re.fullmatch(r"\s*go\s+(\d+)\.(\d+)(?:\.(\d+))?\s*(//.*)?", line)
            if m:
                found.append((int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)))
    if not found:
        raise NoGoError(f"no go.mod with a `go` directive in {modules}/*/")
    return max(found)


def platform_name() -> str:
    """GOOS-GOARCH of this machine, as in the toolchain module's version (linux-amd64)."""
    goos = platform.system().lower()
    machine = platform.machine().lower()
    arches = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "386", "i686": "386"}
    arches |= {"armv6l": "armv6l", "armv7l": "armv6l", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "loongarch64": "loong64"}
    if machine not in arches:
        raise NoGoError(f"no Go release for this machine's architecture ({machine}); install Go yourself and set GO")
    return f"{goos}-{arches[machine]}"


def toolchain_version(need: Version, plat: str) -> str:
    """The version of golang.org/toolchain holding Go NEED for PLAT: v0.0.1-go1.26.6.linux-amd64."""
    return f"v0.0.1-go{show(need)}.{plat}"


# ------------------------------------------------------------------------------ local go


def go_env() -> dict[str, str]:
    return {**os.environ, "GOTOOLCHAIN": "local"}


def version_of(go: str) -> Version | None:
    """What GO reports, with GOTOOLCHAIN=local (so that it does not switch by itself)."""
    try:
        res = subprocess.run([go, "version"], env=go_env(), cwd="/", capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_go_version(res.stdout) if res.returncode == 0 else None


def local_candidates() -> list[str]:
    found: list[str] = []
    explicit = os.environ.get("GO")
    on_path = shutil.which("go")
    usr_local = os.environ.get("HS_ENSURE_GO_LOCAL", "/usr/local/go/bin/go")
    for go in (explicit, on_path, usr_local):
        if go and os.access(go, os.X_OK) and os.path.realpath(go) not in {os.path.realpath(f) for f in found}:
            found.append(go)
    return found


def switch(go: str, have: Version, need: Version, offline: bool) -> str:
    """Let GO (1.21+, Go HAVE) fetch Go NEED as go does (GOTOOLCHAIN); the `go` of that toolchain's GOROOT.
    OFFLINE: only from go's module cache (GOPROXY=off)."""
    name = f"go{show(need)}"
    env = {**os.environ, "GOTOOLCHAIN": name}
    if offline:
        env["GOPROXY"] = "off"
    else:
        log(f"{go} is Go {show(have)}, the modules need {show(need)}: GOTOOLCHAIN={name} (go fetches {TOOLCHAIN_MODULE} from the module proxy, ~70 MB, once)")
    stderr = subprocess.DEVNULL if offline else None
    res = subprocess.run([go, "env", "GOROOT"], env=env, cwd="/", stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=3600, check=False)
    goroot = res.stdout.strip()
    if res.returncode != 0 or not goroot:
        if offline:
            raise NoGoError(f"Go {show(need)} is not on this machine yet ({go} is Go {show(have)}; without --offline go fetches it)")
        raise NoGoError(f"GOTOOLCHAIN={name} {go} could not fetch Go {show(need)} (see go's message above)")
    fetched = str(Path(goroot) / "bin" / "go")
    got = version_of(fetched)
    if got is None or got < need:
        raise NoGoError(f"GOTOOLCHAIN={name} {go} gave GOROOT {goroot}, whose bin/go is not Go {show(need)}")
    return fetched


# ------------------------------------------------------------------------------ module proxy, checksum database


def go_setting(key: str, default: str) -> str:
    """KEY from the environment, else from go's user configuration file (`go env -w`), else DEFAULT."""
    if os.environ.get(key):
        return os.environ[key]
    path = os.environ.get("GOENV") or ""
    if not path:
        config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        path = os.path.join(config, "go", "env")
    if path != "off":
        try:
            for line in Path(path).read_text().splitlines():
                k, sep, v = line.partition("=")
                if sep and k.strip() == key and v.strip():
                    return v.strip()
        except OSError:
            pass
    return default


def proxies() -> list[str]:
    """The module proxies of GOPROXY, in order, without `direct` and `off`."""
    urls = [p.strip().rstrip("/") for p in re.split(r"[,|]", go_setting("GOPROXY", DEFAULT_PROXY))]
    urls = [u for u in urls if u and u not in ("direct", "off")]
    if not urls:
        raise NoGoError("GOPROXY names no module proxy (only direct or off): Go cannot be fetched; install Go yourself and set GO")
    return urls


def get(url: str) -> http.client.HTTPResponse:
    """GET URL (redirects followed, the environment's http(s)_proxy honoured); an error status raises."""
    request = urllib.request.Request(url, headers={"User-Agent": "ha-swarm-ensure-go"})
    response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=TIMEOUT)
    return response


def error_text(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"{err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err)


def sumdb_base(proxy_urls: Iterable[str]) -> tuple[str, str]:
    """(name, URL) of the checksum database: through the first proxy that serves it, as go does, else its own URL."""
    setting = go_setting("GOSUMDB", DEFAULT_SUMDB)
    fields = setting.split()
    if not fields or fields[0] == "off":
        raise NoGoError("GOSUMDB=off: there is no checksum database to check a downloaded Go against; set GOSUMDB or install Go yourself")
    name = fields[0].split("+", 1)[0]
    for proxy in proxy_urls:
        try:
            with get(f"{proxy}/sumdb/{name}/supported"):
                return name, f"{proxy}/sumdb/{name}"
        except (OSError, ValueError, http.client.HTTPException):
            continue
    return name, (fields[1] if len(fields) > 1 else f"https://{name}").rstrip("/")


def lookup_hash(base: str, name: str, version: str) -> str:
    """The h1: hash the checksum database gives for golang.org/toolchain@VERSION."""
    url = f"{base}/lookup/{TOOLCHAIN_MODULE}@{version}"
    try:
        with get(url) as response:
            text = response.read().decode("utf-8", "replace")
    except (OSError, ValueError, http.client.HTTPException) as err:
        raise NoGoError(f"the checksum database {name} did not answer for {TOOLCHAIN_MODULE}@{version} ({url}: {error_text(err)}); nothing downloaded") from err
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == TOOLCHAIN_MODULE and fields[1] == version and fields[2].startswith("h1:"):
            return fields[2]
    raise NoGoError(f"the checksum database {name} lists no h1: hash for {TOOLCHAIN_MODULE}@{version} ({url})")


def hash_zip(path: Path) -> str:
    """The h1: hash of a module zip, as go's dirhash.HashZip: SHA-256 of the sorted lines "<sha256>  <name>\\n"."""
    summary = hashlib.sha256()
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            if "\n" in name:
                raise NoGoError(f"{path.name}: a file name with a newline in it")
            digest = hashlib.sha256()
            with z.open(name) as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            summary.update(f"{digest.hexdigest()}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def download(urls: list[str], version: str, out: Path) -> str:
    """Download the module zip from the first proxy that has it into OUT; the proxy's URL."""
    errors: list[str] = []
    for proxy in urls:
        url = f"{proxy}/{TOOLCHAIN_MODULE}/@v/{version}.zip"
        try:
            with get(url) as response, out.open("wb") as f:
                size = int(response.headers.get("Content-Length") or 0)
                mb = f"{size / 1e6:.0f} MB" if size else "about 70 MB"
                minutes = max(1, round((size or 70e6) / 2e6 / 60))
                log(f"downloading {TOOLCHAIN_MODULE}@{version} from {proxy} ({mb}: about {minutes} min at 2 MB/s, then ~20 s to check and unpack)")
                shutil.copyfileobj(response, f, 1 << 20)
            return proxy
        except (OSError, ValueError, http.client.HTTPException) as err:
            errors.append(f"{url}: {error_text(err)}")
    raise NoGoError(f"could not download {TOOLCHAIN_MODULE}@{version}: " + "; ".join(errors))


def executable(rel: str) -> bool:
    """Whether go would make REL executable after unpacking (bin/, pkg/tool/, lib/**/*.sh)."""
    return rel.startswith(("bin/", "pkg/tool/")) or (rel.startswith("lib/") and rel.endswith(".sh"))


def unpack(zip_path: Path, version: str, into: Path) -> None:
    prefix = f"{TOOLCHAIN_MODULE}@{version}/"
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            rel = info.filename[len(prefix) :] if info.filename.startswith(prefix) else ""
            parts = rel.split("/")
            if not rel or rel.startswith("/") or ".." in parts or "\\" in rel:
                raise NoGoError(f"{zip_path.name}: unexpected file {info.filename!r} (outside {prefix})")
            target = into.joinpath(*parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            target.chmod(0o755 if executable(rel) else 0o644)


def fetch(need: Version, plat: str, dest: Path) -> str:
    """Step 4: download, check and unpack Go NEED into DEST; its bin/go."""
    version = toolchain_version(need, plat)
    urls = proxies()
    name, base = sumdb_base(urls)
    want = lookup_hash(base, name, version)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest.parent))
    try:
        zip_path = work / f"{version}.zip"
        proxy = download(urls, version, zip_path)
        try:
            got = hash_zip(zip_path)
        except zipfile.BadZipFile as err:
            raise NoGoError(f"{TOOLCHAIN_MODULE}@{version} from {proxy} is not a zip file ({err}); nothing installed") from err
        if got != want:
            raise NoGoError(
                f"checksum mismatch for {TOOLCHAIN_MODULE}@{version}: the checksum database {name} says {want}, "
                f"the download from {proxy} hashes to {got}; nothing installed"
            )
        unpack(zip_path, version, work / "go")
        zip_path.unlink()
        go = work / "go" / "bin" / "go"
        got_version = version_of(str(go))
        if got_version is None or got_version < need:
            raise NoGoError(f"{TOOLCHAIN_MODULE}@{version} unpacked, but its bin/go does not run as Go {show(need)} on this machine")
        try:
            (work / "go").rename(dest)
        except OSError:
            if not (dest / "bin" / "go").exists():  # else another run put it there first
                raise
        (dest.parent / f"{dest.name}.h1").write_text(f"{TOOLCHAIN_MODULE}@{version} {want} from {proxy}, checked against {name}\n")
        log(f"Go {show(need)} checked against {name} ({want}) and unpacked into {dest}")
        return str(dest / "bin" / "go")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------------------ main


def ensure(modules: Path, cache: Path, offline: bool = False) -> str:
    need = needed_version(modules)
    seen: list[tuple[str, Version | None]] = [(go, version_of(go)) for go in local_candidates()]
    for go, v in seen:
        if v is not None and v >= need:
            if seen[0][0] != go:
                log(f"using {go} (Go {show(v)}); " + ", ".join(f"{g} is {show(w) if w else 'not a working go'}" for g, w in seen if g != go))
            return go
    plat = platform_name()
    cached = cache / "go" / f"go{show(need)}.{plat}" / "bin" / "go"
    if cached.exists():
        v = version_of(str(cached))
        if v is not None and v >= need:
            return str(cached)
    for go, v in seen:
        if v is not None and v >= SWITCH_MIN:
            try:
                return switch(go, v, need, offline=True)  # fetched before: quiet, no network
            except NoGoError:
                if offline:
                    raise
            return switch(go, v, need, offline=False)
    old = ", ".join(f"{g} is {show(v) if v else 'not a working go'}" for g, v in seen) or "no go on PATH nor in /usr/local/go"
    if offline:
        raise NoGoError(f"Go {show(need)} is not on this machine yet ({old}; without --offline it is fetched)")
    log(f"the Go modules need Go {show(need)} or later ({old})")
    return fetch(need, plat, cached.parent.parent)


def main(argv: list[str]) -> int:
    modules = Path(os.environ.get("HS_ENSURE_GO_MODULES") or HERE)
    cache = Path(os.environ.get("HA_SWARM_CACHE") or Path.home() / ".cache" / "ha-swarm")
    try:
        if argv[1:] == ["--needed"]:
            print(show(needed_version(modules)))
            return 0
        if argv[1:] not in ([], ["--offline"]):
            print(__doc__, file=sys.stderr)
            return 2
        print(ensure(modules, cache, offline=argv[1:] == ["--offline"]))
        return 0
    except NoGoError as err:
        log(f"ERROR: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
