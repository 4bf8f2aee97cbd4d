#!/usr/bin/env python3
"""Time `dovetail render` of examples/django against two anchors that print the same
objects, as whole processes: `kubectl kustomize` on the hand-written overlay in
bench/kustomize and `helm template` on the chart in bench/helm/shop; and the same
render from git repos through a warm cache against the render from directories.

ArgoCD runs a config-management plugin for every app on every refresh, so what counts
is the cost of one complete process: start-up, reading both repos, validating and
printing. All commands run alternately in the same run (after warm-up), stdout
discarded; wall time is taken with perf_counter_ns around each child's posix_spawn and
wait4, from the repo root. Peak RSS is
measured in separate runs through GNU time (`/usr/bin/time -f %M`, Debian package
`time`): a child forked from Python keeps the parent's resident high-water mark across
exec, so os.wait4's ru_maxrss would report Python's ~14 MiB even for /bin/true. Prints
p50, p90, min (ms) and peak RSS (MiB) per tool and the ratios kustomize p50 / dovetail
p50 and helm p50 / dovetail p50.

helm is the CLI built from its published Go module (helm.sh/helm/v4) by
bench/helm/build-helm, which caches it by version outside the repo (a cold build takes
minutes and needs Go); --helm PATH uses another binary instead.

The git variants read the example from two local git repos (file:// URLs) through a
cache that a warm-up run filled: `git-branch` follows the default branch within its TTL,
`git-pinned` names full commit ids. Neither touches the network; they measure what a
warm-cache render costs over the directory render.

Every binary is timed from a copy written under target/ at the start (dovetail with its
git helper beside it): how a binary's pages sit in the page cache changes how fast it
starts. The same dovetail binary (before its layout, see ./build-dist) rendered in 1.59
ms p50 just after being written and in 1.89 ms once its pages had been evicted and read
back one page fault at a time (measured alternating). So every tool is timed in the same
state, the one a container image's binaries are in when the runtime has just unpacked
them.

`true` is the floor: a process that does nothing (`true`), timed the same way; the
ratio of each anchor to it is the most any process could reach in this harness.

`fleet` is `dovetail generate` in an operator repo of 1,000 allocations (copies of the
example's), as the fleet Application runs it: one Namespace, ResourceQuota, LimitRange,
AppProject and Application each.

With --check, exits 1 unless the project's targets hold: dovetail p50 <= 5 ms, each of
the kustomize and helm ratios >= 50, dovetail peak RSS <= 16 MiB, each git variant's p50
at most 2 ms over the directory render's, and the fleet of 1,000 under a second.
"""
import argparse
import os
import subprocess
import sys
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 5
TARGET_P50_MS, TARGET_RATIO, TARGET_RSS_MIB = 5.0, 50.0, 16.0
TARGET_GIT_EXTRA_MS = 2.0
FLEET_SIZE, FLEET_RUNS, TARGET_FLEET_MS = 1000, 20, 1000.0


RSS_RUNS = 10
GNU_TIME = "/usr/bin/time"


def peak_rss_kib(cmd):
    """Largest peak RSS of cmd over RSS_RUNS runs, as GNU time reports it."""
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit(f"{GNU_TIME} not found: install GNU time (apt-get install time)")
    peak = 0
    for _ in range(RSS_RUNS):
        done = subprocess.run([GNU_TIME, "-f", "%M", *cmd], cwd=ROOT, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        peak = max(peak, int(done.stderr.decode().strip().splitlines()[-1]))
    return peak


def run_once(cmd):
    """Run cmd once; return wall ms. Exit on failure.

    The child is started with posix_spawn (glibc: vfork and exec), as Go's os/exec starts
    a plugin in ArgoCD's cmp-server, not with subprocess.Popen: Popen's own bookkeeping
    (the child's arguments and environment converted on every call, a pipe it waits on
    for exec's outcome) added about 0.3 ms of Python to every tool's time, a fifth of a
    render's and none of it the tool's. stdout goes to /dev/null, stderr to a file that
    is shown if the command fails."""
    with tempfile.TemporaryFile() as err:
        streams = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                   (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        start = time.perf_counter_ns()
        try:
            pid = os.posix_spawnp(cmd[0], cmd, ENV, file_actions=streams)
        except OSError as e:
            sys.exit(f"cannot run {cmd[0]}: {e.strerror}")
        _, status, _ = os.wait4(pid, 0)
        elapsed = (time.perf_counter_ns() - start) / 1e6
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} exited {code}\n" + err.read().decode(errors="replace"))
    return elapsed


# Every child runs with this environment; main() points the git cache at a scratch dir.
ENV = dict(os.environ)


def git_repos(scratch):
    """Commits examples/django/{app,operator} into repos under scratch; returns
    {name: (file URL, commit)}."""
    repos = {}
    for name in ("app", "operator"):
        repo = Path(scratch) / name
        shutil.copytree(ROOT / "examples/django" / name, repo)
        repos[name] = (f"file://{repo}", commit_repo(repo))
    return repos


def commit_repo(repo):
    """Makes repo a git repository with one commit (bench/commit-repo); its id."""
    return subprocess.run([ROOT / "bench/commit-repo", repo], check=True,
                          capture_output=True, text=True).stdout.strip()


def fleet_repo(scratch):
    """An operator repo with FLEET_SIZE allocations; returns its path."""
    op = Path(scratch) / "fleet"
    shutil.copytree(ROOT / "examples/django/operator", op)
    template = (op / "tenants/acme/shop.yaml").read_text()
    for i in range(FLEET_SIZE):
        tenant = op / "tenants" / f"t{i // 10:03}"
        tenant.mkdir(parents=True, exist_ok=True)
        # Each tenant its own domains: two tenants may not share a hostname (DT607).
        (tenant / f"app{i}.yaml").write_text(
            template.replace("namespace: acme-shop", f"namespace: t{i:04}")
            .replace(".acme.", f".{tenant.name}."))
    (op / "tenants/acme/shop.yaml").unlink()
    return op


def fleet_ms(dovetail, op):
    """Median wall ms of `dovetail generate` in the fleet repo."""
    # The sidecar names this directory as the operator repo, which is what selects
    # fleet mode.
    env = {**ENV, "ARGOCD_APP_NAME": "dovetail-fleet", "ARGOCD_APP_NAMESPACE": "argocd",
           "ARGOCD_APP_REVISION": "0" * 40, "DOVETAIL_OPERATOR_REPO": str(op)}
    times = []
    for _ in range(FLEET_RUNS):
        start = time.perf_counter_ns()
        done = subprocess.run([dovetail, "generate"], cwd=op, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter_ns() - start) / 1e6)
        if done.returncode != 0:
            sys.exit("dovetail generate (fleet) failed:\n" + done.stderr.decode(errors="replace"))
    times.sort()
    return percentile(times, 50)


def fresh_copies(directory, dovetail, *others):
    """Copies dovetail, with its git helper, and each other binary (a path, or a name on
    PATH) into their own directories under directory; returns the copies' paths,
    dovetail's first. See the module's doc for why."""
    copies = []
    for i, binary in enumerate((dovetail, *others)):
        found = shutil.which(binary)
        if found is None:
            sys.exit(f"{binary} not found")
        home = Path(directory) / str(i)
        home.mkdir(parents=True)
        # Under its own name: a multi-call binary (k3s' kubectl) tells by it what to be.
        copy = home / Path(found).name
        shutil.copy2(found, copy)
        if i == 0:
            # Where dovetail looks for it: beside its own executable, links resolved.
            helper = Path(found).resolve().with_name("dovetail-fetch")
            if not helper.is_file():
                sys.exit(f"{helper} not found: the git renders need dovetail's git helper "
                         "beside it (./build-dist builds both)")
            shutil.copy2(helper, home / "dovetail-fetch")
        copies.append(str(copy))
    return copies


def build_helm():
    """The helm CLI that bench/helm/build-helm builds (once) and caches; its path."""
    done = subprocess.run(["bash", str(ROOT / "bench/helm/build-helm")], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit("bench/helm/build-helm failed; or pass --helm PATH")
    return done.stdout.strip()


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--dovetail", default="target/dist/dovetail",
                    help="the binary to time (default: what ./build-dist builds, as the image ships it)")
    ap.add_argument("--kubectl", default="kubectl")
    ap.add_argument("--helm", help="helm binary (default: build or reuse the cached one "
                    "with bench/helm/build-helm)")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args()
    # The commands name the example by relative paths, and posix_spawn has no cwd.
    os.chdir(ROOT)

    # Paths are relative to the repo root; a bare name is looked up on PATH.
    helm = args.helm or build_helm()
    dovetail, kubectl, helm = (str(ROOT / p) if os.sep in p else p
                               for p in (args.dovetail, args.kubectl, helm))
    if os.sep in dovetail and not os.access(dovetail, os.X_OK):
        sys.exit(f"{dovetail} not found: build it with ./build-dist (the binaries the image "
                 "ships), or name another with --dovetail")
    scratch = tempfile.TemporaryDirectory(prefix="dovetail-bench-")
    # Under target/, on the repo's disk: /tmp may be a tmpfs, whose pages are not those of
    # an image's files.
    (ROOT / "target").mkdir(exist_ok=True)
    binaries = tempfile.TemporaryDirectory(prefix="bench-bin-", dir=ROOT / "target")
    dovetail, kubectl, helm, true = fresh_copies(
        binaries.name, dovetail, kubectl, helm, shutil.which("true") or "/bin/true")
    repos = git_repos(scratch.name)
    ENV.update({"DOVETAIL_CACHE_DIR": f"{scratch.name}/cache", "DOVETAIL_FETCH_TTL": "1h"})
    (app, app_commit), (operator, operator_commit) = repos["app"], repos["operator"]
    tools = {
        "dovetail": [dovetail, "render", "--app", "examples/django/app",
                     "--operator", "examples/django/operator"],
        "kustomize": [kubectl, "kustomize", "bench/kustomize/overlay"],
        "helm": [helm, "template", "shop", "bench/helm/shop", "--namespace", "acme-shop"],
        "git-branch": [dovetail, "render", "--app", app, "--operator", operator],
        "git-pinned": [dovetail, "render", "--app", f"{app}#{app_commit}",
                       "--operator", f"{operator}#{operator_commit}"],
        # The process-start floor of this harness: a process that does nothing.
        "true": [true],
    }
    for _ in range(WARMUP):
        for cmd in tools.values():
            run_once(cmd)
    times = {name: [] for name in tools}
    for _ in range(args.runs):
        for name, cmd in tools.items():
            times[name].append(run_once(cmd))
    rss = {name: peak_rss_kib(cmd) for name, cmd in tools.items()}

    stats = {}
    print(f"{args.runs} runs each, alternating\n")
    print(f"{'':10} {'p50 ms':>8} {'p90 ms':>8} {'min ms':>8} {'RSS MiB':>8}")
    for name, ts in times.items():
        ts.sort()
        stats[name] = (percentile(ts, 50), percentile(ts, 90), ts[0], rss[name] / 1024)
        print(f"{name:10} " + " ".join(f"{v:8.2f}" for v in stats[name]))
    ratios = {name: stats[name][0] / stats["dovetail"][0] for name in ("kustomize", "helm")}
    print()
    for name, ratio in ratios.items():
        print(f"ratio {name} p50 / dovetail p50: {ratio:.1f}x "
              f"(/ true p50: {stats[name][0] / stats['true'][0]:.1f}x, the most any process "
              "could reach here)")
    extra = {name: stats[name][0] - stats["dovetail"][0] for name in ("git-branch", "git-pinned")}
    for name, ms in extra.items():
        print(f"{name} p50 over the directory render: {ms:+.2f} ms")
    fleet = fleet_ms(dovetail, fleet_repo(scratch.name))
    print(f"fleet of {FLEET_SIZE} allocations: {fleet:.1f} ms p50 over {FLEET_RUNS} runs")

    if args.check:
        p50, _, _, mib = stats["dovetail"]
        missed = [msg for bad, msg in [
            (p50 > TARGET_P50_MS, f"dovetail p50 {p50:.2f} ms > {TARGET_P50_MS} ms"),
            (mib > TARGET_RSS_MIB, f"dovetail peak RSS {mib:.1f} MiB > {TARGET_RSS_MIB} MiB"),
        ] + [
            (ratio < TARGET_RATIO, f"ratio {name} / dovetail {ratio:.1f} < {TARGET_RATIO}")
            for name, ratio in ratios.items()
        ] + [
            (fleet > TARGET_FLEET_MS, f"fleet of {FLEET_SIZE} took {fleet:.0f} ms"),
        ] + [
            (ms > TARGET_GIT_EXTRA_MS,
             f"{name} p50 is {ms:.2f} ms over the directory render (> {TARGET_GIT_EXTRA_MS})")
            for name, ms in extra.items()
        ] if bad]
        for msg in missed:
            print(f"target missed: {msg}", file=sys.stderr)
        if missed:
            sys.exit(1)
        print("all targets met")


if __name__ == "__main__":
    main()
