"""Project environments: what reuse costs, what builds take. ``uv run python benchmarks/environments.py``

Real packages from the package index (this machine reaches PyPI), built by PVE's own store in
the build sandbox, run in the run sandbox:

- reuse outside the sandbox: ``plan_install`` + ``EnvironmentStore.prepare`` of a built key
  (target <= 50 ms), median of 200;
- sandbox start: a run of an empty script with and without an environment bound (target
  <= 10 ms more), medians of 31 each, interleaved;
- builds of a project with 5 pure-Python dependencies (attrs, requests, six, python-dateutil,
  tabulate): cold with an empty uv cache, cold with a warm cache (target <= 3 s), bytecode on;
- numpy + pandas with bytecode, warm cache (target <= 10 s), and ``import pandas`` inside the
  sandbox vs the same interpreter and packages outside it (target within 20 %), medians of 15.

Writes ``benchmarks/environments.json``. Figures on a 2-core machine are noisy: run it twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pve.models import RunMode, RunSpec  # noqa: E402
from pve.settings import EnvironmentSettings, Settings  # noqa: E402
from sandbox.bwrap import BubblewrapSandbox  # noqa: E402
from sandbox.declarations import plan_install  # noqa: E402
from sandbox.runtime import staging_root  # noqa: E402

SMALL = ["attrs", "requests", "six", "python-dateutil", "tabulate"]
HEAVY = ["numpy", "pandas"]


def project(folder: Path, deps: list[str], script: str = "pass\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text("\n".join(deps) + "\n")
    (folder / "probe.py").write_text(script)
    return folder


def sandbox_for(store_root: Path) -> BubblewrapSandbox:
    base = Settings.from_env({})
    env = EnvironmentSettings(root=store_root, network=True)
    return BubblewrapSandbox(replace(base.sandbox, environments=env), slots=1)


def timed_build(sb: BubblewrapSandbox, folder: Path, *, fresh_cache: bool) -> float:
    store = sb.environments()
    for env in store.root.glob("env-*"):
        shutil.rmtree(env)
    for failed in (store.root / "failed").glob("*"):
        failed.unlink()
    if fresh_cache:
        shutil.rmtree(store.root / "cache", ignore_errors=True)
        (store.root / "cache").mkdir()
        if store.builder_uid is not None:
            os.chown(store.root / "cache", store.builder_uid, store.builder_uid)
    staged = sb.stage(folder)
    try:
        t0 = time.perf_counter()
        asyncio.run(sb.environment(staged, plan_install(staged.files, staged.read_text)))
        return time.perf_counter() - t0
    finally:
        sb.cleanup(staged)


async def _runs(sb, staged_env, staged_bare, n: int) -> tuple[list[float], list[float]]:
    spec = RunSpec(mode=RunMode.SCRIPT, target="probe.py")
    with_env, bare = [], []
    for _ in range(n):
        for staged, out in ((staged_env, with_env), (staged_bare, bare)):
            r = await sb.run(staged, spec)
            assert r.exit_code == 0 and r.nonce_ok, r.stderr
            out.append(r.duration_ms)
    return with_env, bare


def main() -> None:
    results: dict[str, object] = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}}
    work = Path(tempfile.mkdtemp(prefix="pve-envbench-"))
    store_root = staging_root() / "envs-bench"
    shutil.rmtree(store_root, ignore_errors=True)
    sb = sandbox_for(store_root)
    try:
        small = project(work / "small", SMALL)
        cold_empty = timed_build(sb, small, fresh_cache=True)
        cold_warm = timed_build(sb, small, fresh_cache=False)
        results["small_build_s"] = {"packages": SMALL, "empty_uv_cache": round(cold_empty, 2),
                                    "warm_uv_cache": round(cold_warm, 2), "target_warm": 3.0}

        # reuse: what a verification pays outside the sandbox when the key is built
        staged = sb.stage(small)
        store = sb.environments()
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            plan = plan_install(staged.files, staged.read_text)
            store.prepare(plan, staged.root / "orig", staged.read_text)
            times.append((time.perf_counter() - t0) * 1000)
        results["reuse_ms"] = {"median": round(statistics.median(times), 2), "max": round(max(times), 2),
                               "target": 50}

        # sandbox start with and without the environment bound
        bare = sb.stage(project(work / "bare", []))
        asyncio.run(sb.environment(staged, plan_install(staged.files, staged.read_text)))
        with_env, without = asyncio.run(_runs(sb, staged, bare, 31))
        results["run_start_ms"] = {"with_env_median": round(statistics.median(with_env), 1),
                                   "without_median": round(statistics.median(without), 1),
                                   "added": round(statistics.median(with_env) - statistics.median(without), 1),
                                   "target_added": 10}
        sb.cleanup(bare)
        sb.cleanup(staged)

        heavy = project(work / "heavy", HEAVY, "import time\nt = time.perf_counter()\nimport pandas\n"
                                               "print('IMPORT_MS', (time.perf_counter() - t) * 1000)\n")
        cold = timed_build(sb, heavy, fresh_cache=True)  # an empty uv cache: downloads included
        warm = timed_build(sb, heavy, fresh_cache=False)
        staged = sb.stage(heavy)
        asyncio.run(sb.environment(staged, plan_install(staged.files, staged.read_text)))
        env = staged.env
        assert env is not None
        inside, outside = [], []
        for _ in range(15):
            r = asyncio.run(sb.run(staged, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
            inside.append(float(r.stdout.split("IMPORT_MS")[1].split()[0]))
            # The same interpreter and packages outside the sandbox (trusted library code only).
            out = subprocess.run([str(env.path / "bin" / "python"), "-c",
                                  "import time\nt = time.perf_counter()\nimport pandas\nprint((time.perf_counter() - t) * 1000)"],
                                 capture_output=True, text=True, env={}, check=True)
            outside.append(float(out.stdout))
        sb.cleanup(staged)
        results["numpy_pandas"] = {"empty_uv_cache_build_s": round(cold, 2), "warm_build_s": round(warm, 2),
                                   "target_s": 10,
                                   "import_pandas_ms_inside": round(statistics.median(inside), 1),
                                   "import_pandas_ms_outside": round(statistics.median(outside), 1),
                                   "ratio": round(statistics.median(inside) / statistics.median(outside), 2),
                                   "target_ratio": 1.2}
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(store_root, ignore_errors=True)
    out = ROOT / "benchmarks" / "environments.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
