#!/usr/bin/env python3
"""How dovetail's cost grows with the size of the operator repo.

Argo CD runs the plugin for every app on every refresh, so one app's render must cost
the same whether the operator repo holds one tenant or ten thousand; and the fleet
Application renders every tenant's guardrails in one process, which must grow linearly
and stream instead of holding the fleet in memory.

For each size N in 1, 100, 1,000 and 10,000 this generates an operator repo holding
the Django example's allocation (`tenants/acme/shop.yaml`) and N-1 copies of it
(`tenants/tNNNNN/shop.yaml`, each with its own namespace, repo and domains), as a directory and
as a git repository served through a warm cache (file:// URL), and measures, as whole
processes:

- app:   `dovetail generate` in Argo CD app mode for acme/shop (ARGOCD_APP_NAME
         acme-shop), the operator repo from DOVETAIL_OPERATOR_REPO;
- alloc: `dovetail render --allocation acme/shop`;
- fleet: `dovetail generate` in fleet mode (the fleet Application: its source is the
         operator repo itself);
- validate: `dovetail validate --operator` (every allocation, cross-checked).

Wall time is the median of alternating runs (perf_counter_ns around each child); peak
RSS comes from GNU time (`/usr/bin/time -f %M`, Debian package `time`), since a child
forked from Python reports Python's own high-water mark through wait4.

With --check, exits 1 unless: the app render (and the --allocation render) at 10,000
is within 3 ms of the 1-tenant render, from a directory and from git; the fleet at
10,000 takes under 1 s and 64 MiB; and fleet and validate grow at most linearly from
1,000 to 10,000 (time ratio at most 10x, with 20% allowance for noise).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples/django"
SIZES = (1, 100, 1000, 10000)
GNU_TIME = "/usr/bin/time"
TARGET_APP_EXTRA_MS = 3.0
TARGET_FLEET_MS, TARGET_FLEET_MIB = 1000.0, 64.0
LINEAR_SLACK = 1.2


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def operator_repo(parent, n):
    """An operator repo of n allocations: the example's, and n-1 copies."""
    op = Path(parent) / f"operator-{n}"
    shutil.copytree(EXAMPLE / "operator", op)
    template = (op / "tenants/acme/shop.yaml").read_text()
    for i in range(1, n):
        tenant = f"t{i:05}"
        d = op / "tenants" / tenant
        d.mkdir(parents=True)
        (d / "shop.yaml").write_text(
            template.replace("namespace: acme-shop", f"namespace: {tenant}-shop")
            .replace("https://git.example.com/acme/shop.git",
                     f"https://git.example.com/{tenant}/shop.git")
            .replace(".acme.", f".{tenant}."))
    return op


def commit(repo):
    """Makes `repo` a git repository with one commit; returns the commit id."""
    return subprocess.run([ROOT / "bench/commit-repo", repo], check=True,
                          capture_output=True, text=True).stdout.strip()


def run(cmd, cwd, env):
    """Wall ms of one run; exits on failure."""
    start = time.perf_counter_ns()
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    ms = (time.perf_counter_ns() - start) / 1e6
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} (in {cwd}) exited {done.returncode}:\n"
                 + done.stderr.decode(errors="replace")[-2000:])
    return ms


def peak_mib(cmd, cwd, env, runs=3):
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit(f"{GNU_TIME} not found: install GNU time (apt-get install time)")
    peak = 0
    for _ in range(runs):
        done = subprocess.run([GNU_TIME, "-f", "%M", *cmd], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        peak = max(peak, int(done.stderr.decode().strip().splitlines()[-1]))
    return peak / 1024


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dovetail", default="target/dist/dovetail",
                    help="the binary to time (default: what ./build-dist builds, as the image ships it)")
    ap.add_argument("--runs", type=int, default=30, help="runs of each app render per size")
    ap.add_argument("--fleet-runs", type=int, default=5, help="runs of each fleet command")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args()
    dovetail = str(ROOT / args.dovetail) if os.sep in args.dovetail else args.dovetail
    if os.sep in dovetail and not os.access(dovetail, os.X_OK):
        sys.exit(f"{dovetail} not found: build it with ./build-dist (the binaries the image "
                 "ships), or name another with --dovetail")
    sizes = [int(s) for s in args.sizes.split(",")]

    scratch = tempfile.TemporaryDirectory(prefix="dovetail-scale-")
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("ARGOCD_", "DOVETAIL_", "PARAM_"))}
    base_env.update({"DOVETAIL_CACHE_DIR": f"{scratch.name}/cache", "DOVETAIL_FETCH_TTL": "1h"})
    app_dir = Path(scratch.name) / "app"
    shutil.copytree(EXAMPLE / "app", app_dir)

    results = {}
    for n in sizes:
        progress(f"scale: generating an operator repo of {n} allocations")
        op = operator_repo(scratch.name, n)
        sha = commit(op)
        url = f"file://{op}"
        for source, operator in (("dir", str(op)), ("git", url)):
            argo = {
                **base_env,
                "ARGOCD_APP_NAME": "acme-shop",
                "ARGOCD_APP_NAMESPACE": "acme-shop",
                "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.com/acme/shop.git",
                "ARGOCD_APP_SOURCE_PATH": "",
                "DOVETAIL_OPERATOR_REPO": operator,
            }
            if source == "git":
                argo["PARAM_OPERATOR_REVISION"] = sha
            fleet_env = {
                **base_env,
                "ARGOCD_APP_NAME": "dovetail-fleet",
                "ARGOCD_APP_NAMESPACE": "argocd",
                "ARGOCD_APP_SOURCE_REPO_URL": url,
                "ARGOCD_APP_SOURCE_PATH": "",
                "ARGOCD_APP_REVISION": sha,
                "DOVETAIL_OPERATOR_REPO": url if source == "git" else str(op),
            }
            commands = {
                "app": ([dovetail, "generate"], app_dir, argo, args.runs),
                "alloc": ([dovetail, "render", "--app", str(app_dir), "--operator",
                           operator if source == "dir" else f"{url}#{sha}",
                           "--allocation", "acme/shop"], ROOT, base_env, args.runs),
                "fleet": ([dovetail, "generate"], op, fleet_env, args.fleet_runs),
                "validate": ([dovetail, "validate", "--operator",
                              operator if source == "dir" else f"{url}#{sha}"],
                             ROOT, base_env, args.fleet_runs),
            }
            progress(f"scale: {n} allocations from {source}: timing")
            # Warm-up fills the git cache and the page cache.
            for cmd, cwd, env, _ in commands.values():
                run(cmd, cwd, env)
            times = {name: [] for name in commands}
            most = max(c[3] for c in commands.values())
            for i in range(most):
                for name, (cmd, cwd, env, runs) in commands.items():
                    if i < runs:
                        times[name].append(run(cmd, cwd, env))
            for name, (cmd, cwd, env, _) in commands.items():
                results[(n, source, name)] = (median(times[name]), peak_mib(cmd, cwd, env))
        shutil.rmtree(op)

    print(f"{'allocations':>11} {'source':>6} " + " ".join(
        f"{c + ' ms':>12} {c + ' MiB':>12}" for c in ("app", "alloc", "fleet", "validate")))
    for n in sizes:
        for source in ("dir", "git"):
            row = []
            for c in ("app", "alloc", "fleet", "validate"):
                ms, mib = results[(n, source, c)]
                row += [f"{ms:12.2f}", f"{mib:12.1f}"]
            print(f"{n:11} {source:>6} " + " ".join(row))

    if not args.check:
        return
    missed = []
    small, big = min(sizes), max(sizes)
    for source in ("dir", "git"):
        for c in ("app", "alloc"):
            extra = results[(big, source, c)][0] - results[(small, source, c)][0]
            if extra > TARGET_APP_EXTRA_MS:
                missed.append(f"{c} render from {source} at {big}: +{extra:.2f} ms over {small} "
                              f"(> {TARGET_APP_EXTRA_MS} ms)")
        ms, mib = results[(big, source, "fleet")]
        if big >= 10000 and ms > TARGET_FLEET_MS:
            missed.append(f"fleet from {source} at {big}: {ms:.0f} ms (> {TARGET_FLEET_MS:.0f})")
        if big >= 10000 and mib > TARGET_FLEET_MIB:
            missed.append(f"fleet from {source} at {big}: {mib:.1f} MiB (> {TARGET_FLEET_MIB:.0f})")
        if 1000 in sizes and 10000 in sizes:
            for c in ("fleet", "validate"):
                ratio = results[(10000, source, c)][0] / results[(1000, source, c)][0]
                if ratio > 10 * LINEAR_SLACK:
                    missed.append(f"{c} from {source}: 1,000 -> 10,000 took {ratio:.1f}x "
                                  f"(more than linear)")
    for m in missed:
        print(f"target missed: {m}", file=sys.stderr)
    if missed:
        sys.exit(1)
    print("all targets met")


if __name__ == "__main__":
    main()
