#!/usr/bin/python3
"""Overhead benchmark: memtrace against native runs and against heaptrack.

Run through scripts/bench/bench.sh, which builds everything this needs and passes the paths in.
Every workload is run natively, under memtrace (LD_PRELOAD of libmemtrace.so) and under
heaptrack (and in sampling mode), interleaved (native, sampled, memtrace, heaptrack, native, ...)
so that drifting machine load hits the columns alike; ratios are medians of the per-repetition
ratios. Times and peak RSS come from tools/runstat.c. docs/performance.md
explains the workloads, the derived figures and the targets.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("native", "memtrace", "heaptrack")
# memtrace in sampling mode (MEMTRACE_SAMPLE_BYTES), run with the workloads unless --no-sampled.
SAMPLED = "sampled"
DEFAULT_SAMPLE_BYTES = "512K"
DUMP_MAGIC = b"MTDUMP\0\0"
DUMP_DATA_END_OFFSET = 64  # FileHeader::data_end, see preload/include/memtrace/dump_format.h

# Targets from the performance issue (docs/performance.md).
MAX_OVERHEAD_FRACTION_OF_HEAPTRACK = 0.5
MAX_SLOWDOWN_PYTHON_SQLITE = 1.3
# Sampling mode, from the sampling issue: at most these slowdowns with MEMTRACE_SAMPLE_BYTES=512K.
MAX_SAMPLED_SLOWDOWN = {"churn": 1.10, "sqlite3": 1.05}
MAX_THREAD_COST_GROWTH = 1.2
MAX_ANALYZER_TIME_FRACTION = 0.5  # memtrace leaks/report against heaptrack_print
EXTRA_RSS_ALLOWANCE_MIB = 64.0
EXTRA_RSS_ALLOWANCE_FRACTION = 0.5
# Below this heaptrack slowdown the (m-1)/(h-1) fraction divides by noise.
MIN_HEAPTRACK_OVERHEAD_FOR_FRACTION = 0.05


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    maxrss_kib: int
    status: int
    dump_bytes: int = 0  # memtrace: bytes used in all dumps (data_end); heaptrack: trace size
    dump_files: int = 0
    dump_apparent_bytes: int = 0
    output_bytes: int = 0  # analyzers: size of what they printed
    voluntary_switches: int = 0  # times a thread blocked (waits for a lock or for I/O)
    compacted_bytes: int = 0  # memtrace: the dumps after `memtrace compact` (last repetition)

    @property
    def ok(self):
        return self.status == 0


@dataclass
class Workload:
    name: str
    title: str
    argv: list
    env: dict = field(default_factory=dict)
    prepare: object = None  # called before every run, untimed
    note: str = ""
    heaptrack_comparable: bool = True  # does heaptrack trace the same processes as memtrace?


@dataclass
class MicroConfig:
    depth: int
    threads: int

    @property
    def name(self):
        return f"micro_d{self.depth}_t{self.threads}"


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = Path(args.bin_dir)
        self.workloads_src = Path(__file__).resolve().parent / "workloads"
        self.preload = Path(args.preload).resolve()
        self.analyzer = Path(args.analyzer).resolve() if args.analyzer else None
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="memtrace-bench.", dir=args.tmp_root))
        self.mtdir = self.tmp / "memtrace-dumps"
        self.sampled_dir = self.tmp / "sampled-dumps"
        self.htdir = self.tmp / "heaptrack"
        self.keepdir = self.tmp / "kept-for-analyzers"
        self.logdir = self.tmp / "logs"
        for d in (self.mtdir, self.sampled_dir, self.htdir, self.keepdir, self.logdir):
            d.mkdir()
        self.runstat = str(self.bin / "runstat")
        self.ncpu = os.cpu_count() or 1
        self.base_env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("LD_PRELOAD", "PYTHONMALLOC", "DUMP_HEAPTRACK_OUTPUT")
            and not k.startswith("MEMTRACE_")
        }
        self.base_env["LC_ALL"] = "C"
        self.memtrace_extra_env = dict(kv.split("=", 1) for kv in args.memtrace_env)
        self.sample_bytes = None if args.no_sampled else args.sample_bytes
        # The sampled run right after the native one: its target is the tightest.
        self.workload_modes = MODES[:1] + ((SAMPLED,) if self.sample_bytes else ()) + MODES[1:]
        self.preload_recorded = False
        self.kept = None  # (workload name, dump bytes) whose last-rep files are kept

    # ----------------------------------------------------------------- running one command

    def run(self, argv, env, tag, child_env=None):
        """Runs argv under runstat; child_env (e.g. LD_PRELOAD) reaches argv but not runstat."""
        result_file = self.tmp / "runstat.result"
        assignments = [f"{k}={v}" for k, v in (child_env or {}).items()]
        out = open(self.logdir / f"{tag}.out", "wb")
        err = open(self.logdir / f"{tag}.err", "wb")
        try:
            proc = subprocess.run(
                [self.runstat, str(result_file), *assignments, "--", *argv],
                env=env,
                cwd=self.tmp,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        finally:
            out.close()
            err.close()
        try:
            wall_ns, user_us, sys_us, maxrss, status, switches = result_file.read_text().split()
        except (OSError, ValueError):
            return Sample(0.0, 0.0, 0, proc.returncode or 125)
        finally:
            result_file.unlink(missing_ok=True)
        return Sample(int(wall_ns) / 1e9, (int(user_us) + int(sys_us)) / 1e6, int(maxrss),
                      int(status), voluntary_switches=int(switches))

    def log_tail(self, tag, lines=8):
        try:
            text = (self.logdir / f"{tag}.err").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    | " + line for line in text[-lines:])

    def run_mode(self, mode, argv, extra_env, tag, prepare=None):
        env = dict(self.base_env)
        env.update(extra_env)
        child_env = {}
        if prepare:
            prepare()
        if mode in ("memtrace", SAMPLED):
            child_env["LD_PRELOAD"] = str(self.preload)
            dump_dir = self.sampled_dir if mode == SAMPLED else self.mtdir
            child_env["MEMTRACE_OUTPUT"] = str(dump_dir / "%n.%p.mtd")
            child_env.update(self.memtrace_extra_env)
            if mode == SAMPLED:
                child_env["MEMTRACE_SAMPLE_BYTES"] = self.sample_bytes
        elif mode == "heaptrack":
            argv = ["heaptrack", "-o", str(self.htdir / "trace"), *argv]
        sample = self.run(argv, env, f"{tag}.{mode}", child_env)
        if mode == "memtrace":
            self.measure_dumps(sample, self.mtdir)
        elif mode == SAMPLED:
            self.measure_dumps(sample, self.sampled_dir)
            for f in self.sampled_dir.iterdir():  # only full-tracing dumps go to the analyzers
                f.unlink()
        elif mode == "heaptrack":
            files = list(self.htdir.iterdir())
            sample.dump_files = len(files)
            sample.dump_bytes = sample.dump_apparent_bytes = sum(f.stat().st_size for f in files)
        if not sample.ok:
            msg = f"  ! {tag} under {mode} exited with status {sample.status}"
            if mode == "native":
                sys.exit(msg + "\n" + self.log_tail(f"{tag}.{mode}"))
            print(msg + "\n" + self.log_tail(f"{tag}.{mode}"), flush=True)
        return sample

    def measure_dumps(self, sample, directory):
        files = [f for f in directory.iterdir() if f.is_file()]
        sample.dump_files = len(files)
        for f in files:
            apparent = f.stat().st_size
            sample.dump_apparent_bytes += apparent
            sample.dump_bytes += dump_used_bytes(f, apparent)
        if files:
            self.preload_recorded = True

    def compacted_size(self):
        """Bytes of this run's dumps once compacted, as `memtrace run` leaves them."""
        if not self.analyzer or not self.analyzer.exists():
            return 0
        total = 0
        out = self.tmp / "compacted.mtd"
        for f in sorted(self.mtdir.iterdir()):
            if not f.is_file():
                continue
            done = subprocess.run([str(self.analyzer), "compact", "-q", str(f), "-o", str(out)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            if done.returncode == 0:
                total += out.stat().st_size
            out.unlink(missing_ok=True)
        return total

    def clear_outputs(self, keep_as=None):
        """Delete this run's dumps and heaptrack trace, or move them aside for the analyzers."""
        if keep_as is not None:
            shutil.rmtree(self.keepdir)
            self.keepdir.mkdir()
            for f in self.mtdir.iterdir():
                shutil.move(str(f), self.keepdir / ("mtd." + f.name))
            for f in self.htdir.iterdir():
                shutil.move(str(f), self.keepdir / ("heaptrack." + f.name))
        for d in (self.mtdir, self.htdir):
            for f in d.iterdir():
                if f.is_dir():
                    shutil.rmtree(f)
                else:
                    f.unlink()

    # ----------------------------------------------------------------- workloads

    def define_workloads(self):
        quick = self.args.quick
        b = self.bin
        db = self.tmp / "bench.sqlite3"
        gcc_out = self.tmp / "compile_unit.o"
        sql = self.write_sql_script(quick)

        def fresh_db():
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)

        def fresh_object():
            gcc_out.unlink(missing_ok=True)

        python_args = ["40000", "1"] if quick else ["60000", "2"]
        python_script = str(self.workloads_src / "alloc_heavy.py")
        containers_args = ["50000", "1"] if quick else ["100000", "3"]
        gcc_argv = ["/usr/bin/gcc", "-O2", "-c", str(self.workloads_src / "compile_unit.c"),
                    "-o", str(gcc_out)]
        if quick:
            gcc_argv.insert(2, "-DBENCH_QUICK")
        all_workloads = [
            Workload("churn", "churn (C, 4 threads)",
                     [str(b / "churn"), "4", "400000" if quick else "2500000"]),
            Workload("growing_heap", "growing heap (C)",
                     [str(b / "growing_heap"), "600000" if quick else "2000000"]),
            Workload("containers", "C++ containers/strings",
                     [str(b / "containers"), *containers_args]),
            Workload("python_pymalloc", "python3 (pymalloc)",
                     ["/usr/bin/python3", python_script, *python_args]),
            Workload("python_malloc", "python3 PYTHONMALLOC=malloc",
                     ["/usr/bin/python3", python_script, *python_args],
                     env={"PYTHONMALLOC": "malloc"}),
            Workload("gcc", "gcc -O2 -c " + ("stb_image_write" if quick else "stb_image"),
                     gcc_argv, prepare=fresh_object, heaptrack_comparable=False,
                     note="heaptrack follows no child process: its column traces only the gcc "
                          "driver, while memtrace traces gcc, cc1 and as; no (m-1)/(h-1)"),
            Workload("sqlite3", "sqlite3 CLI", ["/usr/bin/sqlite3", str(db), f".read {sql}"],
                     prepare=fresh_db),
        ]
        if self.args.only:
            wanted = set(self.args.only.split(",")) - {"micro"}
            unknown = wanted - {w.name for w in all_workloads}
            if unknown:
                sys.exit(f"unknown workload(s): {', '.join(sorted(unknown))}")
            all_workloads = [w for w in all_workloads if w.name in wanted]
        return all_workloads

    def write_sql_script(self, quick):
        customers, orders, singles = (5000, 50000, 8000) if quick else (20000, 200000, 20000)
        template = (self.workloads_src / "sqlite_workload.sql.in").read_text()
        inserts = "\n".join(
            "INSERT INTO orders (customer_id, product_id, quantity, day, note) VALUES "
            f"({1 + (i * 7) % customers}, {1 + i % 500}, {1 + i % 4}, {i % 365}, 'single {i}');"
            for i in range(singles))
        text = (template.replace("@CUSTOMERS@", str(customers))
                .replace("@ORDERS@", str(orders))
                .replace("@SINGLE_INSERTS@", inserts))
        path = self.tmp / "sqlite_workload.sql"
        path.write_text(text)
        return path

    def count_events(self, workload):
        """Allocs + frees of one run, counted by tools/count_events.c (all processes)."""
        counts = self.tmp / "event-counts.txt"
        counts.unlink(missing_ok=True)
        env = dict(self.base_env)
        env.update(workload.env)
        env["BENCH_COUNT_OUTPUT"] = str(counts)
        if workload.prepare:
            workload.prepare()
        sample = self.run(workload.argv, env, f"{workload.name}.count",
                          {"LD_PRELOAD": str(self.bin / "count_events.so")})
        if not sample.ok:
            print(f"  ! counting events of {workload.name} failed (status {sample.status})")
            return None
        allocs = frees = 0
        for line in counts.read_text().splitlines():
            parts = line.split()
            allocs += int(parts[1])
            frees += int(parts[2])
        return {"allocs": allocs, "frees": frees, "events": allocs + frees}

    def run_workloads(self, workloads, reps):
        samples = {w.name: {m: [] for m in self.workload_modes} for w in workloads}
        events = {}
        print("== workloads: warm-up and event counts", flush=True)
        for w in workloads:
            self.run_mode("native", w.argv, w.env, w.name, w.prepare)  # warm caches, check it runs
            events[w.name] = self.count_events(w)
            ev = events[w.name]
            print(f"  {w.name:16s} {ev['events'] if ev else '?':>12} malloc-family events",
                  flush=True)
        for rep in range(1, reps + 1):
            print(f"== workloads: repetition {rep}/{reps}", flush=True)
            for w in workloads:
                line = []
                for mode in self.workload_modes:
                    s = self.run_mode(mode, w.argv, w.env, w.name, w.prepare)
                    samples[w.name][mode].append(s)
                    line.append(f"{mode} {s.wall_s:7.3f}s" + ("" if s.ok else " FAILED"))
                    if mode == "memtrace" and rep == reps:
                        s.compacted_bytes = self.compacted_size()
                # The analyzers are timed on the largest dump among the workloads that both
                # tracers see whole.
                size = samples[w.name]["memtrace"][-1].dump_bytes or \
                    samples[w.name]["heaptrack"][-1].dump_bytes
                keep = rep == reps and w.heaptrack_comparable and (
                    self.kept is None or size > self.kept[1])
                self.clear_outputs(keep_as=w.name if keep else None)
                if keep:
                    self.kept = (w.name, size)
                print(f"  {w.name:16s} " + "  ".join(line), flush=True)
        return samples, events

    # ----------------------------------------------------------------- micro-benchmarks

    def run_micro(self, reps):
        pairs = 500_000 if self.args.quick else 2_000_000
        configs = [MicroConfig(d, 1) for d in (5, 20, 40)]
        configs += [MicroConfig(20, t) for t in (2, 4, 8)]
        samples = {c.name: {m: [] for m in MODES} for c in configs}
        events = {}
        for rep in range(1, reps + 1):
            print(f"== micro: repetition {rep}/{reps}", flush=True)
            for c in configs:
                argv = [str(self.bin / "micro_pairs"), str(c.depth), str(c.threads), str(pairs)]
                line = []
                for mode in MODES:
                    s = self.run_mode(mode, argv, {}, c.name)
                    samples[c.name][mode].append(s)
                    line.append(f"{mode} {s.wall_s:7.3f}s" + ("" if s.ok else " FAILED"))
                    if mode == "native":
                        out = (self.logdir / f"{c.name}.native.out").read_text().split()
                        events[c.name] = int(out[1])
                self.clear_outputs()
                print(f"  {c.name:16s} " + "  ".join(line), flush=True)
        return configs, samples, events, pairs

    # ----------------------------------------------------------------- analyzers

    def run_analyzers(self, reps):
        if self.kept is None:
            return None
        workload = self.kept[0]
        dumps = sorted((f for f in self.keepdir.iterdir() if f.name.startswith("mtd.")),
                       key=lambda f: f.stat().st_size, reverse=True)
        traces = [f for f in self.keepdir.iterdir() if f.name.startswith("heaptrack.")]
        result = {"workload": workload, "runs": {}}
        commands = {}
        if dumps and self.analyzer and self.analyzer.exists():
            dump = dumps[0]
            result["dump"] = dump.name[len("mtd."):]
            result["dump_bytes"] = dump_used_bytes(dump, dump.stat().st_size)
            commands["memtrace leaks"] = [str(self.analyzer), "leaks", str(dump)]
            commands["memtrace report"] = [str(self.analyzer), "report", str(dump)]
            # The form `memtrace run` leaves by default.
            compacted = self.keepdir / "compacted.mtd"
            s = self.run([str(self.analyzer), "compact", "-q", str(dump), "-o", str(compacted)],
                         dict(self.base_env), "analyzer.memtrace_compact")
            if s.ok:
                result["compacted_bytes"] = compacted.stat().st_size
                result["runs"]["memtrace compact"] = [s]
                commands["memtrace leaks (compacted)"] = [str(self.analyzer), "leaks",
                                                          str(compacted)]
                commands["memtrace report (compacted)"] = [str(self.analyzer), "report",
                                                           str(compacted)]
                # The same with the symbol cache filled by one untimed run first: what a
                # second report costs (the rows above run without the cache, as a first one).
                commands["memtrace report (compacted, symbol cache)"] = commands[
                    "memtrace report (compacted)"]
        elif not dumps:
            result["memtrace_missing"] = "no memtrace dump (the preload wrote none)"
        else:
            result["memtrace_missing"] = "the memtrace analyzer was not built"
        if traces:
            result["heaptrack_trace_bytes"] = traces[0].stat().st_size
            commands["heaptrack_print"] = ["heaptrack_print", str(traces[0])]
        print(f"== analyzers on the {workload} dump/trace of the last repetition", flush=True)
        symbol_cache = self.tmp / "symbol-cache"

        def env_of(label):
            env = dict(self.base_env)
            env["MEMTRACE_SYMBOL_CACHE"] = str(symbol_cache) if "symbol cache" in label else "off"
            return env

        for label, argv in commands.items():
            if "symbol cache" in label:
                self.run(argv, env_of(label), "analyzer.symbol_cache_warmup")
        for rep in range(reps):
            for label, argv in commands.items():
                tag = "analyzer." + label.replace(" ", "_").replace(",", "")
                s = self.run(argv, env_of(label), tag)
                s.output_bytes = (self.logdir / f"{tag}.out").stat().st_size
                result["runs"].setdefault(label, []).append(s)
                print(f"  {label:16s} {s.wall_s:7.3f}s  {s.maxrss_kib / 1024:7.1f} MiB"
                      + ("" if s.ok else f"  FAILED (status {s.status})"), flush=True)
                if not s.ok:
                    print(self.log_tail(tag, 4))
        return result

    def cleanup(self):
        if self.args.keep_temp:
            print(f"temporary files kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def dump_used_bytes(path, apparent):
    """FileHeader::data_end of a memtrace dump (the bytes in use), else its apparent size."""
    try:
        with open(path, "rb") as f:
            head = f.read(DUMP_DATA_END_OFFSET + 8)
    except OSError:
        return apparent
    if len(head) == DUMP_DATA_END_OFFSET + 8 and head[:8] == DUMP_MAGIC:
        (data_end,) = struct.unpack_from("<Q", head, DUMP_DATA_END_OFFSET)
        if 0 < data_end <= apparent:
            return data_end
    return apparent


# --------------------------------------------------------------------- statistics and output


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def med(samples, attr):
    return median([getattr(s, attr) for s in samples if s.ok])


def paired_ratio(traced, native, attr):
    """Median over the repetitions of traced / native within each: the two runs of a repetition
    are seconds apart, so a change of machine load between repetitions cancels out; a ratio of
    medians can pair a native run from a quiet moment with a traced one from a busy one."""
    return median([getattr(t, attr) / getattr(n, attr) for t, n in zip(traced, native)
                   if t.ok and n.ok and getattr(n, attr)])


def human_bytes(n):
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


def diff(a, b):
    return a - b if a is not None and b is not None else None


def fmt(value, spec, missing="n/a"):
    return missing if value is None else format(value, spec)


def summarise_workloads(workloads, samples, events):
    rows = []
    for w in workloads:
        s = samples[w.name]
        n, m, h = (med(s[mode], "wall_s") for mode in MODES)
        nc, mc, hc = (med(s[mode], "cpu_s") for mode in MODES)
        rm, rh = (paired_ratio(s[mode], s["native"], "wall_s") for mode in MODES[1:])
        fraction = None
        if (w.heaptrack_comparable and rm is not None and rh is not None
                and rh - 1 >= MIN_HEAPTRACK_OVERHEAD_FOR_FRACTION):
            fraction = (rm - 1) / (rh - 1)
        ev = (events.get(w.name) or {}).get("events")
        rss_n, rss_m, rss_h = (med(s[mode], "maxrss_kib") for mode in MODES)
        dump = med(s["memtrace"], "dump_bytes")
        compacted = s["memtrace"][-1].compacted_bytes if s["memtrace"] else 0
        trace = med(s["heaptrack"], "dump_bytes")
        extra_rss_mib = (rss_m - rss_n) / 1024 if rss_m is not None and rss_n is not None else None
        rss_limit_mib = (EXTRA_RSS_ALLOWANCE_MIB + EXTRA_RSS_ALLOWANCE_FRACTION * rss_n / 1024
                         if rss_n is not None else None)
        rmc, rhc = (paired_ratio(s[mode], s["native"], "cpu_s") for mode in MODES[1:])
        fraction_cpu = None
        if (w.heaptrack_comparable and rmc is not None and rhc is not None
                and rhc - 1 >= MIN_HEAPTRACK_OVERHEAD_FOR_FRACTION):
            fraction_cpu = (rmc - 1) / (rhc - 1)
        rows.append({
            "workload": w.name, "title": w.title, "note": w.note,
            "heaptrack_comparable": w.heaptrack_comparable,
            "native_s": n, "memtrace_s": m, "heaptrack_s": h,
            "memtrace_ratio": rm, "heaptrack_ratio": rh, "overhead_fraction": fraction,
            "native_cpu_s": nc, "memtrace_cpu_s": mc, "heaptrack_cpu_s": hc,
            "memtrace_cpu_ratio": rmc, "heaptrack_cpu_ratio": rhc,
            "overhead_fraction_cpu": fraction_cpu,
            "events": ev,
            "memtrace_ns_per_event": (m - n) * 1e9 / ev if ev and m is not None else None,
            "memtrace_cpu_ns_per_event": (mc - nc) * 1e9 / ev if ev and mc is not None else None,
            "heaptrack_ns_per_event": (h - n) * 1e9 / ev if ev and h is not None else None,
            "dump_bytes": dump, "dump_files": med(s["memtrace"], "dump_files"),
            "dump_bytes_per_event": dump / ev if dump and ev else None,
            "compacted_bytes": compacted,
            "compacted_bytes_per_event": compacted / ev if compacted and ev else None,
            "heaptrack_trace_bytes": trace,
            "heaptrack_trace_bytes_per_event": trace / ev if trace and ev else None,
            "compacted_over_heaptrack": compacted / trace if compacted and trace else None,
            "native_rss_mib": rss_n / 1024 if rss_n is not None else None,
            "memtrace_rss_mib": rss_m / 1024 if rss_m is not None else None,
            "heaptrack_rss_mib": rss_h / 1024 if rss_h is not None else None,
            "memtrace_extra_rss_mib": extra_rss_mib, "extra_rss_limit_mib": rss_limit_mib,
            "failed_runs": {mode: sum(not x.ok for x in s[mode]) for mode in s},
        })
        if SAMPLED in s:
            sm, smc = med(s[SAMPLED], "wall_s"), med(s[SAMPLED], "cpu_s")
            rss_s = med(s[SAMPLED], "maxrss_kib")
            sdump = med(s[SAMPLED], "dump_bytes")
            rows[-1].update({
                "sampled_s": sm, "sampled_cpu_s": smc,
                "sampled_ratio": paired_ratio(s[SAMPLED], s["native"], "wall_s"),
                "sampled_cpu_ratio": paired_ratio(s[SAMPLED], s["native"], "cpu_s"),
                "sampled_dump_bytes": sdump,
                "sampled_extra_rss_mib":
                    (rss_s - rss_n) / 1024 if rss_s is not None and rss_n is not None else None,
            })
    return rows


def paired_growth(many, one, events_many, events_one, cores_many, cores_one, attr):
    """Median over the repetitions of memtrace's extra cost per event in the `many` config over
    the `one` config, each from the same repetition's native run: as paired_ratio, load that
    changes between repetitions cancels out."""
    def extra(s, rep, cores, count):
        t, n = s["memtrace"][rep], s["native"][rep]
        return (getattr(t, attr) - getattr(n, attr)) * cores / count if t.ok and n.ok else None
    ratios = []
    for rep in range(min(len(many["native"]), len(one["native"]))):
        a = extra(many, rep, cores_many, events_many)
        b = extra(one, rep, cores_one, events_one)
        if a is not None and b:
            ratios.append(a / b)
    return median(ratios)


def summarise_micro(configs, samples, events, pairs, ncpu):
    rows = []
    for c in configs:
        s = samples[c.name]
        n, m, h = (med(s[mode], "wall_s") for mode in MODES)
        nc, mc, hc = (med(s[mode], "cpu_s") for mode in MODES)
        ev = events.get(c.name)
        cores = min(c.threads, ncpu)

        def per(traced, native, scale, count):
            if traced is None or native is None or not count:
                return None
            return (traced - native) * 1e9 * scale / count

        dump = med(s["memtrace"], "dump_bytes")
        rows.append({
            "config": c.name, "depth": c.depth, "threads": c.threads, "pairs": pairs,
            "events": ev, "native_s": n, "memtrace_s": m, "heaptrack_s": h,
            "native_ns_per_pair": n * 1e9 / pairs if n is not None else None,
            "memtrace_ns_per_pair": per(m, n, 1, pairs),
            "heaptrack_ns_per_pair": per(h, n, 1, pairs),
            # wall time x busy cores: what each event costs the machine, contention included
            "memtrace_core_ns_per_event": per(m, n, cores, ev),
            "heaptrack_core_ns_per_event": per(h, n, cores, ev),
            "memtrace_cpu_ns_per_event": per(mc, nc, 1, ev),
            "heaptrack_cpu_ns_per_event": per(hc, nc, 1, ev),
            # the cores the traced run actually got: near 1 means the wall figures above are
            # inflated by a busy machine, not by contention
            "memtrace_parallelism": mc / m if mc is not None and m else None,
            # blocking shows here even when a busy machine hides it in the wall time
            "memtrace_extra_voluntary_switches": diff(med(s["memtrace"], "voluntary_switches"),
                                                      med(s["native"], "voluntary_switches")),
            "dump_bytes": dump, "dump_bytes_per_event": dump / ev if dump and ev else None,
            "heaptrack_trace_bytes_per_event":
                med(s["heaptrack"], "dump_bytes") / ev if ev else None,
        })
    # The per-event cost with more threads against one thread, paired within each repetition.
    one = next((c for c in configs if c.depth == 20 and c.threads == 1), None)
    for c, row in zip(configs, rows):
        if one is None or c is one or c.depth != 20 or not events.get(c.name) \
                or not events.get(one.name):
            continue
        for key, attr, cores in (("memtrace_core_growth", "wall_s", min(c.threads, ncpu)),
                                 ("memtrace_cpu_growth", "cpu_s", 1)):
            row[key] = paired_growth(samples[c.name], samples[one.name], events[c.name],
                                     events[one.name], cores, 1, attr)
    return rows


def summarise_analyzers(result):
    if result is None:
        return None
    rows = []
    for label, runs in result["runs"].items():
        ok = [r for r in runs if r.ok]
        rows.append({
            "tool": label,
            "wall_s": median([r.wall_s for r in ok]),
            "cpu_s": median([r.cpu_s for r in ok]),
            "peak_rss_mib": median([r.maxrss_kib / 1024 for r in ok]),
            "output_bytes": median([r.output_bytes for r in ok]),
            "status": runs[-1].status,
        })
    summary = {k: v for k, v in result.items() if k != "runs"}
    summary["tools"] = rows
    return summary


def evaluate_targets(workload_rows, micro_rows, analyzer_summary, recorded):
    """One row per target: verdicts on wall time (as the targets are stated) and on CPU time,
    which a busy shared machine disturbs far less."""
    checks = []

    def verdict(value, limit):
        return "n/a" if value is None else ("PASS" if value <= limit else "FAIL")

    def check(name, limit, value, cpu_value=None, detail="", time_based=True):
        checks.append({"target": name, "limit": limit, "value": value, "result":
                       verdict(value, limit), "cpu_value": cpu_value,
                       "cpu_result": verdict(cpu_value, limit) if time_based else "",
                       "detail": detail})

    for r in workload_rows:
        name = f"{r['workload']}: (m-1)/(h-1) <= {MAX_OVERHEAD_FRACTION_OF_HEAPTRACK}"
        if not r["heaptrack_comparable"]:
            check(name, MAX_OVERHEAD_FRACTION_OF_HEAPTRACK, None, None,
                  "not comparable: heaptrack traces only the gcc driver")
            continue
        check(name, MAX_OVERHEAD_FRACTION_OF_HEAPTRACK, r["overhead_fraction"],
              r["overhead_fraction_cpu"])
    for r in workload_rows:
        if r["workload"] in ("python_pymalloc", "python_malloc", "sqlite3"):
            check(f"{r['workload']}: memtrace/native <= {MAX_SLOWDOWN_PYTHON_SQLITE}",
                  MAX_SLOWDOWN_PYTHON_SQLITE, r["memtrace_ratio"], r["memtrace_cpu_ratio"],
                  "informational: the target names python3, i.e. its default pymalloc"
                  if r["workload"] == "python_malloc" else "")
    by_threads = {r["threads"]: r for r in micro_rows if r["depth"] == 20}
    if 8 in by_threads and "memtrace_core_growth" in by_threads[8]:
        check(f"per-event cost, 8 threads / 1 thread <= {MAX_THREAD_COST_GROWTH}",
              MAX_THREAD_COST_GROWTH, by_threads[8]["memtrace_core_growth"],
              by_threads[8]["memtrace_cpu_growth"],
              "wall: (traced-native) x min(threads, cores) per event, sound only on an idle "
              "machine; CPU: extra CPU time per event; median of per-repetition ratios")
    for r in workload_rows:
        limit = MAX_SAMPLED_SLOWDOWN.get(r["workload"])
        if limit is not None and "sampled_ratio" in r:
            check(f"{r['workload']}: sampled/native <= {limit:.2f}", limit, r["sampled_ratio"],
                  r["sampled_cpu_ratio"], "MEMTRACE_SAMPLE_BYTES sampling mode")
    for r in workload_rows:
        extra, limit = r["memtrace_extra_rss_mib"], r["extra_rss_limit_mib"]
        check(f"{r['workload']}: extra peak RSS (MiB) <= 64 MiB + 50% native", limit, extra,
              time_based=False)
    for r in workload_rows:
        if r["heaptrack_comparable"] and r.get("compacted_over_heaptrack") is not None:
            check(f"{r['workload']}: compacted dump / heaptrack trace <= 1", 1.0,
                  r["compacted_over_heaptrack"], time_based=False,
                  detail="sizes of the last repetition's files")
    tools = {t["tool"]: t for t in (analyzer_summary or {}).get("tools", [])}
    reference = tools.get("heaptrack_print")
    if reference and reference["wall_s"] and reference["cpu_s"]:
        for label in ("memtrace leaks", "memtrace report", "memtrace leaks (compacted)",
                      "memtrace report (compacted)",
                      "memtrace report (compacted, symbol cache)"):
            t = tools.get(label)
            if not t or t["wall_s"] is None:
                continue
            check(f"{label}: time / heaptrack_print's <= {MAX_ANALYZER_TIME_FRACTION}",
                  MAX_ANALYZER_TIME_FRACTION, t["wall_s"] / reference["wall_s"],
                  t["cpu_s"] / reference["cpu_s"] if t["cpu_s"] is not None else None,
                  detail=f"on the {analyzer_summary['workload']} dump")
            check(f"{label}: peak RSS / heaptrack_print's <= 1", 1.0,
                  t["peak_rss_mib"] / reference["peak_rss_mib"], time_based=False)
    if not recorded:
        for c in checks:
            c["result"] = c["cpu_result"] = "n/a"
            c["detail"] = "memtrace wrote no dump: the column measures an empty library"
    return checks


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]

    def line(cells):  # first column left-aligned, numbers right-aligned
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def markdown_table(headers, rows):
    def numeric(column):
        return all(str(r[column]).lstrip("+-").replace(".", "").replace(",", "").isdigit()
                   or str(r[column]) in ("n/a", "?", "") for r in rows)

    align = ["---:" if i and numeric(i) else "---" for i in range(len(headers))]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def render(results, markdown):
    parts = []
    render_table = markdown_table if markdown else table

    def heading(text):
        if parts:
            parts.append("")
        parts.append(f"**{text}**" if markdown else text)
        if markdown:
            parts.append("")

    w_headers = ["workload", "native s", "memtrace s", "heaptrack s", "m/n", "h/n",
                 "(m-1)/(h-1)", "events", "mt cpu-ns/event", "dump MiB", "dump B/event",
                 "RSS native MiB", "RSS +mt MiB", "RSS limit MiB", "RSS heaptrack MiB"]
    w_rows = []
    for r in results["workloads"]:
        w_rows.append([
            r["title"] + (" *" if r["note"] else ""),
            fmt(r["native_s"], ".3f"), fmt(r["memtrace_s"], ".3f"), fmt(r["heaptrack_s"], ".3f"),
            fmt(r["memtrace_ratio"], ".2f"), fmt(r["heaptrack_ratio"], ".2f"),
            fmt(r["overhead_fraction"], ".2f"),
            fmt(r["events"], ",d", "?"), fmt(r["memtrace_cpu_ns_per_event"], ".0f"),
            fmt(r["dump_bytes"] / 2**20 if r["dump_bytes"] else None, ".1f", "0"),
            fmt(r["dump_bytes_per_event"], ".2f"),
            fmt(r["native_rss_mib"], ".1f"), fmt(r["memtrace_extra_rss_mib"], "+.1f"),
            fmt(r["extra_rss_limit_mib"], ".1f"), fmt(r["heaptrack_rss_mib"], ".1f"),
        ])
    heading("Workloads (median wall time of each; ratios are medians of the per-repetition "
            "ratios)")
    parts.append(render_table(w_headers, w_rows))
    notes = [f"\\* {r['title']}: {r['note']}" if markdown else f"* {r['title']}: {r['note']}"
             for r in results["workloads"] if r["note"]]
    if notes and markdown:
        parts.append("")
    parts.extend(notes)

    d_headers = ["workload", "events", "raw dump B/event", "compacted B/event",
                 "heaptrack trace B/event", "compacted / heaptrack"]
    d_rows = [[r["title"], fmt(r["events"], ",d", "?"), fmt(r["dump_bytes_per_event"], ".2f"),
               fmt(r["compacted_bytes_per_event"], ".3f"),
               fmt(r["heaptrack_trace_bytes_per_event"], ".3f"),
               fmt(r["compacted_over_heaptrack"], ".2f")]
              for r in results["workloads"] if r["heaptrack_comparable"]]
    heading("Dump size: raw as written, compacted as `memtrace run` leaves it (last "
            "repetition), heaptrack's zstd trace")
    parts.append(render_table(d_headers, d_rows))

    c_headers = ["workload", "native cpu s", "memtrace cpu s", "heaptrack cpu s",
                 "m/n cpu", "h/n cpu", "(m-1)/(h-1) cpu"]
    c_rows = [[r["title"], fmt(r["native_cpu_s"], ".3f"), fmt(r["memtrace_cpu_s"], ".3f"),
               fmt(r["heaptrack_cpu_s"], ".3f"), fmt(r["memtrace_cpu_ratio"], ".2f"),
               fmt(r["heaptrack_cpu_ratio"], ".2f"), fmt(r["overhead_fraction_cpu"], ".2f")]
              for r in results["workloads"]]
    heading("CPU time (user+system of the whole process tree, heaptrack's interpreter "
                 "included; median)")
    parts.append(render_table(c_headers, c_rows))

    sampled = [r for r in results["workloads"] if "sampled_ratio" in r]
    if sampled:
        s_headers = ["workload", "native s", "sampled s", "s/n", "m/n", "s/n cpu", "m/n cpu",
                     "sampled dump MiB", "RSS +sampled MiB", "RSS +mt MiB"]
        s_rows = [[r["title"], fmt(r["native_s"], ".3f"), fmt(r["sampled_s"], ".3f"),
                   fmt(r["sampled_ratio"], ".2f"), fmt(r["memtrace_ratio"], ".2f"),
                   fmt(r["sampled_cpu_ratio"], ".2f"), fmt(r["memtrace_cpu_ratio"], ".2f"),
                   fmt(r["sampled_dump_bytes"] / 2**20 if r["sampled_dump_bytes"] else None,
                       ".2f", "0"),
                   fmt(r["sampled_extra_rss_mib"], "+.1f"), fmt(r["memtrace_extra_rss_mib"], "+.1f")]
                  for r in sampled]
        heading(f"Sampling mode: memtrace with MEMTRACE_SAMPLE_BYTES={results['sample_bytes']} "
                "(s) next to full tracing (m); median wall and CPU time")
        parts.append(render_table(s_headers, s_rows))

    if results.get("micro"):
        m_headers = ["depth", "threads", "native ns/pair", "memtrace +ns/pair",
                     "heaptrack +ns/pair", "mt core-ns/event", "ht core-ns/event",
                     "mt cpu-ns/event", "ht cpu-ns/event", "mt vs 1 thread core / cpu",
                     "mt cpu/wall", "mt +blocking waits", "dump B/event", "ht trace B/event"]
        m_rows = [[r["depth"], r["threads"], fmt(r["native_ns_per_pair"], ".1f"),
                   fmt(r["memtrace_ns_per_pair"], ".0f"), fmt(r["heaptrack_ns_per_pair"], ".0f"),
                   fmt(r["memtrace_core_ns_per_event"], ".0f"),
                   fmt(r["heaptrack_core_ns_per_event"], ".0f"),
                   fmt(r["memtrace_cpu_ns_per_event"], ".0f"),
                   fmt(r["heaptrack_cpu_ns_per_event"], ".0f"),
                   f"{fmt(r.get('memtrace_core_growth'), '.2f')} / "
                   f"{fmt(r.get('memtrace_cpu_growth'), '.2f')}"
                   if "memtrace_core_growth" in r else "",
                   fmt(r["memtrace_parallelism"], ".2f"),
                   fmt(r["memtrace_extra_voluntary_switches"], "+.0f"),
                   fmt(r["dump_bytes_per_event"], ".2f"),
                   fmt(r["heaptrack_trace_bytes_per_event"], ".2f")]
                  for r in results["micro"]]
        pairs = results["micro"][0]["pairs"]
        heading(f"Micro: malloc+free pairs ({pairs:,} in all, split over the threads); "
                     f"+ns = (traced - native) median wall time per pair or event; core-ns "
                     f"multiplies wall time by min(threads, {results['machine']['cpus']} cores)")
        parts.append(render_table(m_headers, m_rows))

    a = results.get("analyzers")
    if a:
        size = []
        if a.get("dump_bytes"):
            size.append(f"memtrace dump {a['dump']} {human_bytes(a['dump_bytes'])}")
        if a.get("compacted_bytes"):
            size.append(f"compacted {human_bytes(a['compacted_bytes'])}")
        if a.get("heaptrack_trace_bytes"):
            size.append(f"heaptrack trace {human_bytes(a['heaptrack_trace_bytes'])}")
        heading(f"Analyzers on the {a['workload']} workload ({', '.join(size)})"
                     + (f"; memtrace: {a['memtrace_missing']}" if a.get("memtrace_missing")
                        else ""))
        a_rows = [[t["tool"], fmt(t["wall_s"], ".3f"), fmt(t["cpu_s"], ".3f"),
                   fmt(t["peak_rss_mib"], ".1f"), t["status"]] for t in a["tools"]]
        parts.append(render_table(["tool", "wall s", "cpu s", "peak RSS MiB", "exit"], a_rows))

    heading("Targets")
    t_rows = [[c["target"], fmt(c["limit"], ".2f"), fmt(c["value"], ".2f"), c["result"],
               fmt(c["cpu_value"], ".2f", ""), c["cpu_result"], c["detail"]]
              for c in results["targets"]]
    parts.append(render_table(["target", "limit", "wall value", "wall", "CPU value", "CPU",
                               "note"], t_rows))
    return "\n".join(parts)


def write_tsv(path, results):
    keys = ["workload", "native_s", "memtrace_s", "heaptrack_s", "memtrace_ratio",
            "heaptrack_ratio", "overhead_fraction", "overhead_fraction_cpu", "native_cpu_s",
            "memtrace_cpu_s", "heaptrack_cpu_s", "events", "memtrace_ns_per_event",
            "memtrace_cpu_ns_per_event", "dump_bytes", "dump_bytes_per_event",
            "heaptrack_trace_bytes", "native_rss_mib", "memtrace_rss_mib", "heaptrack_rss_mib",
            "memtrace_extra_rss_mib", "extra_rss_limit_mib"]
    lines = ["\t".join(keys)]
    for r in results["workloads"]:
        lines.append("\t".join("" if r[k] is None else str(r[k]) for k in keys))
    if results.get("micro"):
        mkeys = ["config", "depth", "threads", "pairs", "events", "native_s", "memtrace_s",
                 "heaptrack_s", "memtrace_ns_per_pair", "heaptrack_ns_per_pair",
                 "memtrace_core_ns_per_event", "heaptrack_core_ns_per_event",
                 "memtrace_cpu_ns_per_event", "heaptrack_cpu_ns_per_event",
                 "memtrace_core_growth", "memtrace_cpu_growth",
                 "memtrace_parallelism", "memtrace_extra_voluntary_switches",
                 "dump_bytes_per_event"]
        lines += ["", "\t".join(mkeys)]
        for r in results["micro"]:
            lines.append("\t".join("" if r.get(k) is None else str(r[k]) for k in mkeys))
    path.write_text("\n".join(lines) + "\n")


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


def source_state():
    """The commit measured, and which memtrace source trees differ from it."""
    root = Path(__file__).resolve().parents[2]

    def git(*argv):
        return subprocess.run(["git", "-C", str(root), *argv], capture_output=True,
                              text=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD") or None
        modified = [tree for tree in ("preload", "analyzer")
                    if git("status", "--porcelain", "--", tree)]
    except OSError:
        return None, None
    return commit, modified


def machine_facts(bench):
    commit, modified = source_state()
    lib = bench.preload
    digest = hashlib.sha256(lib.read_bytes()).hexdigest() if lib.exists() else None
    return {
        "cpus": bench.ncpu,
        "kernel": platform.release(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "gcc": tool_version(["/usr/bin/gcc", "--version"]),
        "heaptrack": tool_version(["heaptrack", "--version"]),
        "sqlite3": tool_version(["/usr/bin/sqlite3", "--version"]),
        "python3": tool_version(["/usr/bin/python3", "--version"]),
        "memtrace_commit": commit,
        "memtrace_trees_modified": modified,
        "libmemtrace": str(lib),
        "libmemtrace_size": lib.stat().st_size if lib.exists() else None,
        "libmemtrace_sha256": digest,
    }


def serialisable(obj):
    if isinstance(obj, Sample):
        return obj.__dict__
    raise TypeError(type(obj))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller inputs, 3 repetitions")
    p.add_argument("--reps", type=int, help="repetitions (default 5, or 3 with --quick)")
    p.add_argument("--only", help="comma-separated workload names to run; 'micro' for the "
                   "micro-benchmarks")
    p.add_argument("--no-micro", action="store_true", help="skip the micro-benchmarks")
    p.add_argument("--no-analyzers", action="store_true", help="skip the analyzer timing")
    p.add_argument("--memtrace-env", action="append", default=[], metavar="VAR=VALUE",
                   help="extra environment for memtrace runs, e.g. MEMTRACE_DEPTH=32")
    p.add_argument("--sample-bytes", default=DEFAULT_SAMPLE_BYTES, metavar="N",
                   help="MEMTRACE_SAMPLE_BYTES of the sampled runs (default 512K)")
    p.add_argument("--no-sampled", action="store_true",
                   help="skip the sampling-mode runs of the workloads")
    p.add_argument("--keep-temp", action="store_true", help="keep the temporary directory")
    p.add_argument("--tmp-root", default=None, help="where the temporary directory goes")
    p.add_argument("--bin-dir", required=True, help="built workload programs and tools")
    p.add_argument("--preload", required=True, help="libmemtrace.so")
    p.add_argument("--analyzer", help="the memtrace CLI")
    p.add_argument("--out", required=True, help="directory for results.{txt,json,tsv,md}")
    p.add_argument("--command", default="", help="the command line, recorded in the results")
    args = p.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    if reps < 1:
        sys.exit("--reps must be at least 1")

    bench = Bench(args)
    started = time.monotonic()
    try:
        results = {
            "command": args.command,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "quick": args.quick, "reps": reps,
            "memtrace_env": bench.memtrace_extra_env,
            "sample_bytes": bench.sample_bytes,
            "machine": machine_facts(bench),
        }
        workloads = bench.define_workloads()
        w_samples, events = bench.run_workloads(workloads, reps)
        micro = None
        if not args.no_micro and (not args.only or "micro" in args.only.split(",")):
            micro = bench.run_micro(reps)
        analyzers = None
        if not args.no_analyzers:
            analyzers = bench.run_analyzers(min(reps, 3))
        results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
        results["preload_recorded"] = bench.preload_recorded
        results["workloads"] = summarise_workloads(workloads, w_samples, events)
        results["micro"] = summarise_micro(*micro, bench.ncpu) if micro else []
        results["analyzers"] = summarise_analyzers(analyzers)
        results["targets"] = evaluate_targets(results["workloads"], results["micro"],
                                              results["analyzers"], bench.preload_recorded)
        results["elapsed_s"] = time.monotonic() - started
        results["samples"] = {
            "workloads": w_samples,
            "micro": micro[1] if micro else {},
            "analyzers": analyzers["runs"] if analyzers else {},
        }
    finally:
        bench.cleanup()

    load_start = " ".join(results["machine"]["loadavg_start"])
    load_end = " ".join(results["machine"]["loadavg_end"])
    header = [f"command: {args.command}",
              f"date: {results['date']}; {reps} repetitions{' (quick)' if args.quick else ''}; "
              f"{bench.ncpu} CPUs; load average at start {load_start}, at end {load_end}; "
              f"elapsed {results['elapsed_s']:.0f} s"]
    facts = results["machine"]
    modified = facts["memtrace_trees_modified"]
    header.append(f"memtrace: commit {facts['memtrace_commit']}"
                  + (f" plus uncommitted changes in {' and '.join(m + '/' for m in modified)}"
                     if modified else "")
                  + f"; libmemtrace.so sha256 {str(facts['libmemtrace_sha256'])[:12]}"
                  + (f"; memtrace environment {bench.memtrace_extra_env}"
                     if bench.memtrace_extra_env else ""))
    if not bench.preload_recorded:
        header.append("WARNING: libmemtrace.so wrote no dump file: the memtrace column measures an "
                      "incomplete preload (an empty library), not memtrace.")
    text = "\n".join(header) + "\n\n" + render(results, markdown=False) + "\n"
    md = "\n\n".join(header) + "\n\n" + render(results, markdown=True) + "\n"
    (bench.out / "results.txt").write_text(text)
    (bench.out / "results.md").write_text(md)
    (bench.out / "results.json").write_text(json.dumps(results, indent=1, default=serialisable))
    write_tsv(bench.out / "results.tsv", results)
    print()
    print(text)
    print(f"results: {bench.out}/results.{{txt,md,json,tsv}}")


if __name__ == "__main__":
    main()
