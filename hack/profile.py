"""Where the operator's CPU or memory goes: the bench's create (N objects of each bench kind at once).

    python hack/profile.py --n 100 --py-spy /path/to/py-spy      # py-spy is on PyPI: pip install py-spy
    python hack/profile.py --n 500 --memory                      # tracemalloc (standard library)

py-spy launches the operator itself (no ptrace attach needed) and samples the thread holding the GIL (where CPU goes, not waits) for --seconds;
the collapsed stacks are summarised by module (own and inclusive time) and written in full next to the
summary (bench/results/profile-*.txt) for a flame graph. --memory runs the operator with tracemalloc (a
sitecustomize on its PYTHONPATH: no operator code changes) and writes, at each new peak of traced memory,
the allocations still alive by line (bench/results/memory-*.txt). Tools for finding the cost, not tests.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

import testbed

import bench

ROOT = Path(__file__).resolve().parents[1]


def summarise(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[-1].split(":")[0].rstrip(")") for f in stack.split(";")]
        mods = [module(f) for f in frames]
        own[mods[-1]] += n
        for m in set(mods):
            incl[m] += n
    out = [f"{total} samples", "", "inclusive (module on the stack)"]
    out += [f"{100 * v / total:6.1f} %  {k}" for k, v in incl.most_common(top)]
    out += ["", "own (module at the top of the stack)"]
    out += [f"{100 * v / total:6.1f} %  {k}" for k, v in own.most_common(top)]
    return "\n".join(out)


def module(path: str) -> str:
    """site-packages/botocore/x.py -> botocore; controller/core/x.py -> controller.core.x."""
    p = path.replace("\\", "/")
    if "site-packages/" in p:
        return p.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if "/controller/" in p:
        return "controller." + p.split("/controller/")[1].removesuffix(".py").replace("/", ".")
    if "/lib/python" in p:
        return "stdlib." + p.split("/lib/python")[1].split("/", 1)[-1].split("/")[0].removesuffix(".py")
    return p


SITECUSTOMIZE = """
import os, threading, time, tracemalloc
out = os.environ.get("STACKERY_TRACEMALLOC_OUT")
if out:
    tracemalloc.start(6)
    def _peaks():
        peak = 0
        while True:
            time.sleep(3)
            current, _ = tracemalloc.get_traced_memory()
            if current < peak * 1.05:
                continue
            peak = current
            snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            lines = [f"traced {current / 2**20:.1f} MiB at {time.strftime('%H:%M:%S')}", "", "by file"]
            lines += [f"{s.size / 2**20:8.2f} MiB {s.count:8d}  {s.traceback[0]}" for s in snap.statistics("filename")[:25]]
            lines += ["", "by line"]
            lines += [f"{s.size / 2**20:8.2f} MiB {s.count:8d}  {s.traceback[0]}" for s in snap.statistics("lineno")[:40]]
            with open(out, "w") as f:
                f.write("\\n".join(lines) + "\\n")
    threading.Thread(target=_peaks, daemon=True).start()
"""


def memory(n: int) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"memory-{stamp}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    site = Path(tempfile.mkdtemp(prefix="stackery-memory-"))
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {"PYTHONPATH": str(site), "STACKERY_TRACEMALLOC_OUT": str(out)}
    with testbed.running(**bench.OPERATOR, **env) as bed, bench.watching(bed) as watch:
        _, took, ready = bench.create_all(bed, n, 1800, watch)
        testbed.log(f"memory: {ready}/{3 * n} Ready in {took:.1f} s (peak RSS {bench.rss_peak_mib(bed):.0f} MiB)")
        time.sleep(10)
    print(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=40, help="how long py-spy samples (from the operator's start)")
    ap.add_argument("--py-spy", default="py-spy")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--memory", action="store_true", help="tracemalloc instead of py-spy")
    ap.add_argument(
        "--resync", type=float, default=3600, help="seconds between scheduled checks (e.g. 10: the profile is mostly checks)"
    )
    args = ap.parse_args()
    if args.memory:
        memory(args.n)
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = ROOT / "bench" / "results" / f"profile-{stamp}.txt"
    raw.parent.mkdir(parents=True, exist_ok=True)
    wrap = f"{args.py_spy} record --format raw --rate 200 --threads --gil --duration {args.seconds} -o {raw} --"
    settings = {**bench.OPERATOR, "STACKERY_RESYNC_SECONDS": str(args.resync)}
    with testbed.running(**settings, STACKERY_OPERATOR_WRAP=wrap) as bed, bench.watching(bed) as watch:
        _, took, ready = bench.create_all(bed, args.n, 600, watch)
        testbed.log(f"profile: {ready}/{3 * args.n} Ready in {took:.1f} s; sampling until {args.seconds} s")
        deadline = time.monotonic() + args.seconds + 30
        while not raw.exists() and time.monotonic() < deadline:
            time.sleep(1)
    summary = summarise(raw, args.top)
    (raw.with_suffix(".summary.txt")).write_text(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
