"""Benchmark (not a test): how long the program takes to evaluate under mocks
for 3, 30 and 99 nodes.  Prints one line per size.  Run: make bench"""

from __future__ import annotations

import statistics
import time

from tests.support.mocks import base_config, run_program

SIZES = ((3, 1, 2), (30, 3, 27), (99, 3, 96))
ROUNDS = 3


def main() -> None:
    run_program(base_config())  # warm imports and caches
    print(f"{'nodes':>5}  {'resources':>9}  {'median s':>8}  {'min s':>6}  {'max s':>6}")
    for nodes, managers, workers in SIZES:
        config = base_config()
        config["lab"] = {**config["lab"], "managers": managers, "workers": workers}
        times = []
        count = 0
        for _ in range(ROUNDS):
            start = time.perf_counter()
            program = run_program(config)
            times.append(time.perf_counter() - start)
            count = len(program.resources)
        print(f"{nodes:>5}  {count:>9}  {statistics.median(times):>8.2f}  {min(times):>6.2f}  {max(times):>6.2f}")


if __name__ == "__main__":
    main()
