"""Benchmark (not a test): the real Pulumi engine and plugins on the e2e test hosts (3 managers,
1 worker).  Prints how long `up` from nothing, a no-change preview, a no-change `up` and
`destroy` take, then removes everything.  Needs root and the toolchain (`make toolchain`).
Run: make bench-e2e"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.e2e.deployment import Deployment
from tests.e2e.toolchain import find_toolchain


def main() -> int:
    toolchain, why = find_toolchain()
    if toolchain is None:
        print(f"bench-e2e: {why}", file=sys.stderr)
        return 2
    dep = Deployment(toolchain, Path(tempfile.mkdtemp(prefix="ha-swarm-bench-")), echo=lambda line: print(line, file=sys.stderr))
    try:
        dep.start_hosts()
        dep.prepare_program()
        dep.create_stack()
        dep.up("up from nothing")
        dep.preview("preview, no change", expect_no_changes=True)
        dep.up("up, no change")
        dep.destroy("destroy")
        dep.remove_stack()
        dep.stack = None
    finally:
        dep.close()
    print(f"{'step':<48} {'seconds':>8}")
    for what, seconds in dep.times.lines:
        print(f"{what:<48} {seconds:>8.1f}")
    print(f"(pulumi {toolchain.pulumi_version}; {len(dep.harness.hosts)} test hosts, 4 in the swarm)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
