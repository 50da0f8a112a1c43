#!/usr/bin/env python3
"""check_schema.py for the docker package: kept for the callers that name it (tests/e2e/test_docker_schema.py).

    .venv/bin/python toolchain/check_docker_schema.py OUTDIR/schema.json [--resources Service,Network] [-v]

is `check_schema.py docker OUTDIR/schema.json ...`; see check_schema.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_schema  # the folder is put on the path first

if __name__ == "__main__":
    sys.exit(check_schema.main(["docker", *sys.argv[1:]]))
