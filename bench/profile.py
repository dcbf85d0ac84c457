#!/usr/bin/env python3
"""Profiles one import_geojson call: where the backend's time and memory go.

    bench/profile.py [--workload points-1m] [--mode postgrest|direct]
                     [--freq 499] [--call-graph fp|dwarf]
                     [--warm-memory auto|0|GIB] [--out FILE.md]

Run it with the benchmark's cluster up and its database set up (after
bench/run.sh, or `bench/bench.py --quick`; it sets the database up itself
when missing), as root or with perf_event_paranoid <= 1:

    eval "$(GEO_IMPORT_CLUSTER=bench scripts/cluster.sh env)"
    /usr/bin/python3 bench/profile.py --workload points-1m --mode postgrest

It runs the import once, the same way the benchmark does (after the same
memory warm-up: bench.warm_memory), with
`perf record -g` attached to the backend (frame-pointer call graphs:
Debian builds PostgreSQL, and PGXS builds geo_import, with frame pointers;
samples inside GEOS, simdjson and libc are attributed by walking up to the
first frame that names a subsystem). Each sample goes to the first category
found walking from the sampled function towards main() (see CATEGORIES),
so "WAL" holds the WAL written for heap and index inserts alike, and generic
helpers (memcpy, palloc) count for whoever called them.

It also asks PostgreSQL to log the backend's memory contexts
(pg_log_backend_memory_contexts) a few times during the call, and reads
RssAnon at the same moments: what palloc holds (the bound payload, the
plan's copy of it, ...) versus what lives outside it (simdjson, GEOS).
Writes a Markdown report (default: stdout).
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import pq  # noqa: E402

# A sample with one of these anywhere in its stack is a large import's index
# build at ATTACH PARTITION (sorted GiST build, btree build), whatever its leaf.
INDEX_BUILD = "index build when a large import's table is attached (sorted GiST, btree)"
INDEX_BUILD_FRAMES = ("index_build", "DefineIndex", "gistbuild", "btbuild")

# A PostgREST request's json_to_record is a function in FROM: its one result
# row (the whole payload in it) is formed and put into a tuplestore, which
# spills to a temporary file past work_mem, and is read back for the call.
REQUEST_ROW = "json_to_record's result row stored (heap_form_tuple, tuplestore, temp file)"


def is_request_row(frames):
    for (symbol, _), (caller, _) in zip(frames, frames[1:]):
        if symbol.startswith("tuplestore_") or (symbol == "heap_form_tuple"
                                                and caller == "ExecMakeTableFunctionResult"):
            return True
    return False


# (category, test on (symbol, dso)); checked frame by frame from the leaf.
CATEGORIES = [
    ("WAL (heap and index records)",
     lambda s, d: s.startswith(("XLog", "log_heap", "ReserveXLog", "CopyXLogRecord", "AdvanceXLInsert",
                                "WALInsert", "XLogRecordAssemble", "gistXLog", "log_newpage"))),
    ("GiST index insert",
     lambda s, d: s.startswith(("gist", "gserialized_gist"))),
    ("btree index inserts (primary key, layer_id)",
     lambda s, d: s.startswith(("_bt", "btinsert"))),
    ("other index-insert overhead",
     lambda s, d: s in ("ExecInsertIndexTuples", "index_insert", "FormIndexDatum")),
    ("heap insert (table_multi_insert)",
     lambda s, d: s.startswith(("heap_multi_insert", "heap_insert", "RelationGetBufferForTuple",
                                "heap_prepare_insert", "RelationPutHeapTuple", "heap_toast", "toast_",
                                "table_multi_insert", "heap_form_tuple", "heap_fill_tuple",
                                "ExecFetchSlotHeapTuple", "tts_virtual_copy_heap_tuple",
                                "tts_buffer_heap_materialize"))),
    ("GEOS (build, isValid, MakeValid, WKB)",
     lambda s, d: "libgeos" in d),
    ("EWKB -> geometry (PostGIS ST_GeomFromEWKB)",
     lambda s, d: "postgis" in d or "geometry_from_ewkb" in s),
    ("properties -> jsonb (JsonbTreeBuilder, numeric_in)",
     lambda s, d: s.startswith(("pushJsonbValue", "JsonbValueToJsonb", "convertJsonb", "numeric_in",
                                "uniqueifyJsonbObject", "lengthCompareJsonb", "appendElement", "appendKey",
                                "appendValue", "fillJsonbValue", "convertToJsonb", "walkJsonb",
                                "padBufferToInt", "reserveFromBuffer", "copyToBuffer"))
     or "JsonbTreeBuilder" in s),
    ("PostgreSQL json input of the payload (json_recv / json_in / json_to_record)",
     lambda s, d: s.startswith(("json_recv", "json_in", "pg_parse_json", "json_lex", "parse_object",
                                "parse_array", "parse_scalar", "json_to_record", "populate_record",
                                "populate_scalar", "get_json_object_as_hash", "hash_object_field",
                                "json_count_array", "pq_getmsgtext", "jsonb_recv"))),
    ("planning (the bound payload copied into the plan as a Const)",
     lambda s, d: s in ("eval_const_expressions", "BuildCachedPlan", "pg_plan_queries", "planner",
                        "standard_planner", "datumCopy")),
    ("receiving the request (socket)",
     lambda s, d: s.startswith(("pq_getmessage", "pq_recvbuf", "secure_read", "pq_getbytes",
                                "pq_copymsgbytes", "CopyGetData", "CopyReadBinary"))),
    ("live progress (shared memory to the worker)",
     lambda s, d: "progress_channel" in s),
    ("identity column (nextval)",
     lambda s, d: s.startswith(("nextval", "nextval_internal"))),
    ("GeoJSON reading (simdjson + reader)",
     lambda s, d: "simdjson" in d or "simdjson" in s or "GeoJsonReader" in s or "json_syntax" in s
     or "find_json_syntax_error" in s),
    ("core pipeline (EWKB writing, batching, report)",
     lambda s, d: "geo_import::core" in s),
    ("writer glue (slots, text datums)",
     lambda s, d: "feature_writer" in s or "geo_import::pg" in s),
]
OTHER = "other (executor, memory, kernel, ...)"


def parse_perf_script(text):
    """Yields each sample's frames as [(symbol, dso), ...], leaf first."""
    frames = []
    for line in text.splitlines():
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if not line.startswith((" ", "\t")):
            continue  # the sample's header line
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if not m:
            continue
        symbol = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
        frames.append((symbol, m.group(2)))
    if frames:
        yield frames


def categorize(frames):
    if any(symbol in INDEX_BUILD_FRAMES for symbol, _ in frames):
        return INDEX_BUILD
    if is_request_row(frames):
        return REQUEST_ROW
    for symbol, dso in frames:
        for name, test in CATEGORIES:
            if test(symbol, dso):
                return name
    return OTHER


class MemoryProbe(threading.Thread):
    """Logs the backend's memory contexts at a few moments, with RssAnon."""

    def __init__(self, pid, moments):
        super().__init__(daemon=True)
        self.pid = pid
        self.moments = moments
        self.readings = []
        self.peak_anon_kb = 0
        self.stop_flag = threading.Event()

    def rss_anon(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("RssAnon"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self):
        conn = pq.Connection("dbname=%s" % bench.DB)
        start = time.perf_counter()
        pending = list(self.moments)
        while not self.stop_flag.wait(0.02):
            anon = self.rss_anon()
            self.peak_anon_kb = max(self.peak_anon_kb, anon)
            if pending and time.perf_counter() - start >= pending[0]:
                pending.pop(0)
                conn.execute("SELECT pg_log_backend_memory_contexts(%d)" % self.pid)
                self.readings.append((time.perf_counter() - start, anon))
        conn.close()


def memory_report(log_path, log_offset, pid, readings):
    """The biggest memory contexts of each dump in the server log."""
    with open(log_path, errors="replace") as f:
        f.seek(log_offset)
        text = f.read()
    dumps = []
    current = None
    for line in text.splitlines():
        if "[%d]" % pid not in line:
            continue
        if "logging memory contexts of PID" in line:
            current = []
            dumps.append(current)
        m = re.search(r"level: (\d+); ([^:]+): (\d+) total in \d+ blocks;.*?used(?:: (.*))?$", line)
        if m and current is not None:
            current.append((int(m.group(3)), m.group(2), m.group(4) or ""))
        m = re.search(r"Grand total: (\d+) bytes", line)
        if m and current is not None:
            current.append((int(m.group(1)), "Grand total", ""))
    lines = []
    for (moment, anon_kb), dump in zip(readings, dumps):
        total = next((b for b, n, _ in dump if n == "Grand total"), 0)
        top = sorted((x for x in dump if x[1] != "Grand total"), reverse=True)[:4]
        lines.append("| %.1f s | %.0f | %.0f | %.0f | %s |" % (
            moment, anon_kb / 1024, total / 2**20, max(0, anon_kb * 1024 - total) / 2**20,
            "; ".join("%s %.0f MiB%s" % (n, b / 2**20, " (%s)" % d[:30] if d else "") for b, n, d in top)))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default="points-1m", choices=sorted(bench.WORKLOADS))
    parser.add_argument("--mode", default="postgrest", choices=["postgrest", "direct"])
    parser.add_argument("--freq", type=int, default=499)
    parser.add_argument("--call-graph", default="fp", choices=["fp", "dwarf"])
    parser.add_argument("--no-progress", action="store_true", help="SET geo_import.live_progress = off")
    parser.add_argument("--warm-memory", default="auto", help="as bench.py's --warm-memory")
    parser.add_argument("--out")
    args = parser.parse_args()

    label, path, features, polygons = bench.WORKLOADS[args.workload]
    path = os.path.join(bench.REPO, path)
    with open(path, "rb") as f:
        payload = f.read()
    try:
        admin = pq.Connection("dbname=%s" % bench.DB)
        admin.execute("SELECT 'bench.set_based_import'::regproc")
    except pq.Error:
        b = bench.Bench(argparse.Namespace(cache=os.path.join(bench.REPO, ".cache", "bench")))
        b.setup()
        admin = b.admin
    admin.execute("TRUNCATE public.geo_features, public.layers, public.feature_collections, public.import_logs "
                  "RESTART IDENTITY")
    admin.execute("CHECKPOINT")

    conn = pq.Connection("dbname=%s" % bench.DB)
    conn.execute("SET client_min_messages = warning")
    if args.no_progress:
        conn.execute("SET geo_import.live_progress = off")
    conn.execute("SELECT 1 FROM pg_extension")  # backend warmed up; the library loads on the call
    pid = conn.pid
    data_file = "/tmp/geo_import_profile.%d.perf" % os.getpid()
    perf = subprocess.Popen(["perf", "record", "-F", str(args.freq), "--call-graph", args.call_graph,
                             "-o", data_file, "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    log_path = os.environ.get("GEO_IMPORT_CLUSTER_LOG")
    log_offset = os.path.getsize(log_path) if log_path and os.path.exists(log_path) else None
    probe = MemoryProbe(pid, [0.5, 1.5, 3.0, 6.0, 12.0, 24.0] if log_offset is not None else [])
    bench.warm_memory(bench.warm_bytes(args.warm_memory, len(payload)))
    probe.start()
    start = time.perf_counter()
    if args.mode == "direct":
        rows = conn.execute_params(bench.DIRECT_SQL, [bench.FILE_ID, payload], [pq.UUIDOID, pq.JSONOID],
                                   [False, False])
    else:
        body = b'{"file_id":"' + bench.FILE_ID.encode() + b'","payload":' + payload + b"}"
        rows = conn.execute_params(bench.postgrest_sql("public.import_geojson"), [body], [pq.JSONOID], [True])
    elapsed = time.perf_counter() - start
    probe.stop_flag.set()
    probe.join()
    with open("/proc/%d/status" % pid) as f:
        hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
    perf.send_signal(2)
    perf.wait()
    conn.close()

    script = subprocess.run(["perf", "script", "-i", data_file, "-F", "ip,sym,dso"], capture_output=True,
                            text=True).stdout
    os.unlink(data_file)
    by_category = collections.Counter()
    by_leaf = collections.Counter()
    total = 0
    for frames in parse_perf_script(script):
        total += 1
        by_category[categorize(frames)] += 1
        leaf, dso = frames[0]
        by_leaf["%s (%s)" % (leaf, os.path.basename(dso))] += 1
    if total == 0:
        sys.exit("perf recorded no samples (perf_event_paranoid? run as root)")

    out = []
    out.append("### import_geojson, %s, %s (%s)" % (label, "PostgREST request" if args.mode == "postgrest"
                                                     else bench.CONTENDERS["import_geojson_direct"],
                                                     "live progress off" if args.no_progress else
                                                     "live progress on")
               + ("" if args.warm_memory != "0" else ", without the memory warm-up"))
    out.append("")
    out.append("%.2f s wall, %d perf samples at %d Hz (%s call graphs), backend VmHWM %.0f MiB for a %.0f MiB "
               "payload (%.2f×)." % (elapsed, total, args.freq, args.call_graph, hwm / 1024,
                                     len(payload) / 2**20, hwm * 1024 / len(payload)))
    out.append("")
    out.append("| where the backend's CPU time goes (its own thread and the import's threads) "
               "| share of samples |")
    out.append("|---|---:|")
    for name, n in by_category.most_common():
        out.append("| %s | %.1f%% |" % (name, 100.0 * n / total))
    out.append("")
    out.append("| top functions (self time) | share |")
    out.append("|---|---:|")
    for name, n in by_leaf.most_common(15):
        out.append("| `%s` | %.1f%% |" % (name.replace("|", "\\|"), 100.0 * n / total))
    if probe.readings and log_offset is not None:
        out.append("")
        out.append("| memory at | RssAnon MiB | palloc'd (all contexts) MiB | outside palloc MiB | biggest contexts |")
        out.append("|---|---:|---:|---:|---|")
        out += memory_report(log_path, log_offset, pid, probe.readings)
        out.append("")
        out.append("Peak RssAnon seen: %.0f MiB." % (probe.peak_anon_kb / 1024))
    out.append("")
    text = "\n".join(out) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    sys.stdout.write("result: %s\n" % (rows[0][-1] if args.mode == "direct" else rows[0][2])[:300])


if __name__ == "__main__":
    main()
