#!/usr/bin/env python3
"""geo_import's benchmark driver. Run it through bench/run.sh, which installs
the packages, builds, fetches and generates the data, starts the cluster and
draws the chart; this file measures and writes the tables.

    bench.py [--quick] [--runs N] [--workloads a,b,...] [--out DIR]

It connects with the libpq environment (PGHOST, PGPORT, PGUSER) to a
database it (re)creates, `geo_import_bench`, loads the Supabase fixtures,
`CREATE EXTENSION geo_import CASCADE` and the anchors (bench/anchors/*.sql),
and then, workload by workload and round by round, runs every contender into
an empty table of the same shape and indexes (see bench/README.md).

Each measured run gets a fresh connection (so its backend's VmHWM is that
run's peak), a CHECKPOINT and the memory warm-up (see warm_memory) before
it, and a sampler thread that reads the backend's /proc/<pid>/status and
/proc/<pid>/stat every 20 ms. The time is
the wall clock around the one statement (or the ogr2ogr process), as the
client sees it.
"""
import argparse
import ctypes
import datetime
import json
import mmap
import os
import platform
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import pq  # noqa: E402

DB = "geo_import_bench"
FILE_ID = "f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1"  # test/fixtures/seed.sql
OGR_APPNAME = "geo_import_bench_ogr2ogr"

# name: (label, file, features, polygons?)
WORKLOADS = {
    "points-1m": ("1M points, 3 properties", ".cache/bench/points-1000000.geojson", 1000000, False),
    "points-100k": ("100k points, 3 properties", ".cache/bench/points-100000.geojson", 100000, False),
    "polygons-100k": ("100k small polygons, 2% self-intersecting", ".cache/bench/polygons-100000.geojson", 100000, True),
    "polygons-10k": ("10k small polygons, 2% self-intersecting", ".cache/bench/polygons-10000.geojson", 10000, True),
    "countries-10m": ("countries-land-10m (real, 250 huge multipolygons)", ".cache/geodata/countries-land-10m.geo.json", 250, True),
    "countries-10km": ("countries-land-10km (real, 220 multipolygons)", ".cache/geodata/countries-land-10km.geo.json", 220, True),
}
FULL = ["points-1m", "points-100k", "polygons-100k", "countries-10km", "countries-10m"]
QUICK = ["points-100k", "polygons-10k", "countries-10km"]

CONTENDERS = {
    "import_geojson": "import_geojson (PostgREST request)",
    "import_geojson_direct": "import_geojson (the payload alone as a json parameter, text format)",
    "import_geojson_direct_generic": "import_geojson (the same json parameter, plan_cache_mode = force_generic_plan)",
    "import_geojson_no_progress": "import_geojson, geo_import.live_progress = off",
    "import_geojson_cold": "diagnostic: import_geojson (PostgREST request) without the memory warm-up",
    "ogr2ogr": "ogr2ogr (GDAL, PG_USE_COPY=YES)",
    "set_based": "set-based SQL (PostgREST request)",
    "plpgsql_loop": "PL/pgSQL loop + EXCEPTION (PostgREST request)",
    "binary_copy": "binary COPY of the finished rows (floor)",
    "binary_copy_no_gist": "diagnostic: binary COPY, table without the GiST index",
    "binary_copy_no_indexes": "diagnostic: binary COPY, table without any index",
    "payload_only": "diagnostic: the same PostgREST request to a function that only reads the payload",
    "payload_only_direct": "diagnostic: the same direct json parameter to a function that only reads the payload",
}
ANCHORS = ["ogr2ogr", "set_based", "plpgsql_loop", "binary_copy"]
VARIANTS = ["import_geojson_direct", "import_geojson_direct_generic", "import_geojson_no_progress",
            "import_geojson_cold"]
DIAGNOSTICS = ["binary_copy_no_gist", "binary_copy_no_indexes"]
# The memory PostgreSQL itself spends on a request before the function runs:
# each runs wherever the import_geojson call of the same shape runs.
PAYLOAD_ONLY = {"payload_only": "import_geojson", "payload_only_direct": "import_geojson_direct"}
TABLES = {
    "ogr2ogr": "bench.ogr2ogr_features",
    "set_based": "bench.set_based_features",
    "plpgsql_loop": "bench.plpgsql_loop_features",
    "binary_copy": "bench.binary_copy_features",
    "binary_copy_no_gist": "bench.binary_copy_no_gist_features",
    "binary_copy_no_indexes": "bench.binary_copy_no_indexes_features",
}
FUNCTIONS = {
    "import_geojson": "public.import_geojson",
    "import_geojson_direct": "public.import_geojson",
    "import_geojson_direct_generic": "public.import_geojson",
    "import_geojson_no_progress": "public.import_geojson",
    "import_geojson_cold": "public.import_geojson",
    "set_based": "bench.set_based_import",
    "plpgsql_loop": "bench.plpgsql_loop_import",
    "payload_only": "bench.payload_only",
    "payload_only_direct": "bench.payload_only",
}
DIRECT = {"import_geojson_direct", "import_geojson_direct_generic", "payload_only_direct"}


def warm_memory(nbytes):
    """Touches nbytes of fresh anonymous memory and frees it again.

    This machine is a VM whose balloon device reports free pages back to the
    host (virtio-balloon free page reporting): a page the guest frees is
    handed back within seconds, and the next first touch of it costs a host
    fault, several microseconds a page. A run that touches gigabytes (the
    PostgREST request alone: 10x the payload) would pay that on every page,
    and the more memory a contender uses, the more it would pay; a database
    server's memory stays backed. Touching the memory just before a run
    makes the guest's free pages backed again for every contender alike."""
    if nbytes <= 0:
        return
    area = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    view = (ctypes.c_char * nbytes).from_buffer(area)
    ctypes.memset(ctypes.addressof(view), 1, nbytes)
    del view
    area.close()


# How long freed pages take to go back to the host: touching 6 GiB took 12 s
# when cold, 4 s right after a warm-up and 11 s again 20 s later.
COLD_WAIT_S = 30


def warm_bytes(setting, payload_bytes):
    """--warm-memory: "auto" is 1 GiB plus 16x the payload (what the hungriest
    contender touches, with its writes' page cache), at most half of the
    memory available now; "0" turns the warm-up off; a number is GiB."""
    if setting == "auto":
        with open("/proc/meminfo") as f:
            available_kb = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
        return min(2**30 + 16 * payload_bytes, available_kb * 1024 // 2)
    return int(float(setting) * 2**30)


def log(message):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def postgrest_sql(function):
    """The statement PostgREST (v12) sends for POST /rpc/<function> with the
    JSON body {"file_id": ..., "payload": ...}: the body is ONE bind
    parameter of type json, split with json_to_record, the function called
    with named arguments, the result aggregated into the response body."""
    return (
        "WITH pgrst_source AS (SELECT pgrst_call.* "
        "FROM (SELECT $1 AS json_data) pgrst_payload, "
        'LATERAL (SELECT "file_id", "payload" FROM json_to_record(pgrst_payload.json_data) '
        'AS _("file_id" uuid, "payload" json) LIMIT 1) pgrst_body, '
        'LATERAL %s("file_id" := pgrst_body."file_id", "payload" := pgrst_body."payload") pgrst_call) '
        "SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, "
        "coalesce(json_agg(_postgrest_t)->0, 'null') AS body, "
        "nullif(current_setting('response.headers', true), '') AS response_headers, "
        "nullif(current_setting('response.status', true), '') AS response_status "
        "FROM (SELECT * FROM pgrst_source) _postgrest_t" % function
    )


def direct_sql(function):
    """The function called with the payload alone as its json parameter."""
    return "SELECT row_to_json(r)::text FROM %s(file_id => $1, payload => $2) r" % function


DIRECT_SQL = direct_sql("public.import_geojson")  # bench/profile.py --mode direct


# Declared like import_geojson (the same arguments; set-returning, SECURITY
# DEFINER, search_path pinned, which also keeps the planner from inlining
# it), so that PostgreSQL handles the call the same way. json_typeof reads
# the first token and pg_column_size the header: neither copies the payload
# (payload::text would: json has no cast to text, so it goes through json_out
# and textin, two copies).
PAYLOAD_ONLY_FUNCTION = """
CREATE FUNCTION bench.payload_only(file_id uuid, payload json, options jsonb DEFAULT '{}')
RETURNS TABLE (payload_type text, payload_bytes integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT json_typeof(payload), pg_column_size(payload) $$
"""


STOPPED_BY = {"cancel": "cancelled", "terminate": "terminated (the cancel did not stop it)",
              "kill": "killed (neither cancel nor terminate stopped it)", "client killed": "ogr2ogr killed"}


class Capped(Exception):
    """A run hit the cap (--cap seconds) and was stopped."""

    def __init__(self, pid, stop_seconds, how):
        super().__init__("capped")
        self.pid = pid  # its backend, or None
        self.stop_seconds = stop_seconds  # from the cap to the statement's end reaching the client
        self.how = how  # what stopped it: "cancel", "terminate", "kill" or "client killed"


class Watchdog(threading.Thread):
    """The harness's cap (not a measurement). A statement still running `cap`
    seconds in is cancelled with pg_cancel_backend: SIGINT, which PostGIS
    also hands to GEOS (statement_timeout would not reach a GEOS call); a
    backend still in it GRACE seconds later is terminated, and one still
    there GRACE seconds after that is killed (SIGKILL: the cluster restarts,
    see Bench.ensure_admin)."""

    GRACE = 30

    def __init__(self, bench, cap, pid):
        super().__init__(daemon=True)
        self.bench = bench
        self.cap = cap
        self.pid = pid
        self.done = threading.Event()
        self.fired_at = None  # perf_counter() when the cap was reached
        self.how = None

    def run(self):
        if self.done.wait(self.cap):
            return
        self.fired_at = time.perf_counter()
        for how in ("cancel", "terminate", "kill"):
            self.how = how
            if how == "kill":
                signal_backend(self.pid, signal.SIGKILL)
                return
            try:
                with self.bench.connect("postgres") as conn:
                    conn.execute("SELECT pg_%s_backend(%d)" % (how, self.pid))
            except pq.Error:
                pass  # the server is restarting: the backend is gone
            if self.done.wait(self.GRACE):
                return

    def finish(self):
        self.done.set()
        self.join()


def signal_backend(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


class Sampler(threading.Thread):
    """Polls a backend's /proc entries: VmHWM (the kernel's peak RSS,
    including the shared buffers it touched), the peak of RssAnon (private
    memory) and its CPU time. With `find` it first waits for the backend
    (ogr2ogr's) to show up in pg_stat_activity."""

    def __init__(self, pid=None, find=None):
        super().__init__(daemon=True)
        self.pid = pid
        self.find = find
        self.stop_flag = threading.Event()
        self.vm_hwm_kb = 0
        self.rss_anon_peak_kb = 0
        self.rss_shmem_kb = 0
        self.cpu_s = 0.0
        self.cpu_start_s = None

    def read(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                status = f.read()
            with open("/proc/%d/stat" % self.pid) as f:
                stat = f.read()
        except OSError:
            return False
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key == "VmHWM":
                self.vm_hwm_kb = max(self.vm_hwm_kb, int(value.split()[0]))
            elif key == "RssAnon":
                self.rss_anon_peak_kb = max(self.rss_anon_peak_kb, int(value.split()[0]))
            elif key == "RssShmem":
                self.rss_shmem_kb = max(self.rss_shmem_kb, int(value.split()[0]))
        fields = stat.rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        if self.cpu_start_s is None:
            self.cpu_start_s = cpu
        self.cpu_s = cpu
        return True

    def run(self):
        while self.pid is None and not self.stop_flag.is_set():
            self.pid = self.find()
            if self.pid is None:
                time.sleep(0.01)
        if self.pid is None:
            return
        self.read()
        while not self.stop_flag.wait(0.02):
            if not self.read():
                break

    def finish(self):
        self.stop_flag.set()
        self.join()
        if self.pid is not None:
            self.read()


class Bench:
    def __init__(self, args):
        self.args = args
        self.admin = None
        self.results = []  # one dict per measured run
        self.copy_files = {}
        self.copy_sources = {}
        self.meta = {}

    # --- setup ------------------------------------------------------------------------------
    def connect(self, db=DB):
        conn = pq.Connection("dbname=%s" % db)
        conn.execute("SET client_min_messages = warning")
        return conn

    def setup(self):
        with self.connect("postgres") as c:
            c.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
            c.execute("CREATE DATABASE %s" % DB)
            # Autovacuum would start on a just-loaded table while the next
            # contender runs, on 2 cores: off for the benchmark's cluster.
            c.execute("ALTER SYSTEM SET autovacuum = off")
            c.execute("SELECT pg_reload_conf()")
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB]
        for f in ["test/fixtures/supabase.sql", "test/fixtures/seed.sql"]:
            psql += ["-f", os.path.join(REPO, f)]
        psql += ["-c", "CREATE EXTENSION geo_import CASCADE", "-c", "CREATE SCHEMA bench"]
        subprocess.run(psql, check=True, stdout=subprocess.DEVNULL)
        self.admin = self.connect()
        for table in TABLES.values():
            self.create_table(table)
        anchors = os.path.join(HERE, "anchors")
        for name in sorted(os.listdir(anchors)):
            if name.endswith(".sql"):
                with open(os.path.join(anchors, name)) as f:
                    self.admin.execute(f.read())
        self.admin.execute(PAYLOAD_ONLY_FUNCTION)
        self.meta = self.environment()

    def environment(self):
        one = lambda sql: self.admin.execute(sql)[0][0]  # noqa: E731
        gdal = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
        try:
            rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src", "geo_import--1.0.sql"],
                                   capture_output=True, text=True).stdout.strip()
        except OSError:
            rev, dirty = "?", ""
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "git": rev + ("+local changes" if dirty else ""),
            "postgres": one("SHOW server_version"),
            "postgis": one("SELECT extversion FROM pg_extension WHERE extname = 'postgis'"),
            "geos": one("SELECT postgis_geos_version()"),
            "gdal": gdal,
            "cpu": "%s, %d cores" % (cpu, os.cpu_count() or 0),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "shared_buffers": one("SHOW shared_buffers"),
            "kernel": platform.release(),
        }

    def create_table(self, table):
        self.admin.execute("DROP TABLE IF EXISTS %s" % table)
        if table == TABLES["binary_copy_no_indexes"]:
            self.admin.execute("CREATE TABLE %s (LIKE public.geo_features INCLUDING DEFAULTS INCLUDING IDENTITY)"
                               % table)
            return
        self.admin.execute("CREATE TABLE %s (LIKE public.geo_features INCLUDING ALL)" % table)
        if table == TABLES["binary_copy_no_gist"]:
            for (index,) in self.admin.execute(
                    "SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_am a ON a.oid = c.relam WHERE indrelid = '%s'::regclass AND amname = 'gist'" % table):
                self.admin.execute("DROP INDEX %s" % index)
        if table == TABLES["ogr2ogr"]:
            # ogr2ogr has nothing to put into these; with a DEFAULT instead it
            # would leave COPY for one INSERT per feature. So its primary key
            # is (id), not (layer_id, id): still two indexes. geometry(Geometry,
            # 4326) makes it write SRID 4326 like the others do. The property
            # columns are added by ogr2ogr itself (-addfields).
            (pkey,) = self.admin.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = '%s'::regclass AND contype = 'p'" % table)[0]
            self.admin.execute(
                "ALTER TABLE %s DROP CONSTRAINT %s, ADD PRIMARY KEY (id), ALTER layer_id DROP NOT NULL, "
                "ALTER collection_id DROP NOT NULL, ALTER feature_index DROP NOT NULL, "
                "ALTER geom TYPE public.geometry(Geometry, 4326)" % (table, pkey))

    def wait_for_progress_workers(self):
        """An import's progress worker settles its log just after the import
        returns, reading the import's collection and layer while it holds the
        log's row: a TRUNCATE of those tables meanwhile deadlocks with it."""
        deadline = time.time() + 60
        while int(self.admin.execute("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE backend_type = 'geo_import progress'")[0][0]) > 0:
            if time.time() > deadline:
                raise RuntimeError("a geo_import progress worker is still running 60 s after its import")
            time.sleep(0.01)

    def reset(self, contender):
        if contender in PAYLOAD_ONLY:
            pass  # it writes nothing
        elif contender.startswith("import_geojson"):
            self.wait_for_progress_workers()
            self.admin.execute("TRUNCATE public.geo_features, public.layers, public.feature_collections, "
                               "public.import_logs RESTART IDENTITY")
        else:
            self.create_table(TABLES[contender])
        self.admin.execute("CHECKPOINT")

    # --- one measured run --------------------------------------------------------------------------
    def run_sql_contender(self, contender, workload, body, payload):
        conn = self.connect()
        watchdog = Watchdog(self, self.args.cap, conn.pid)
        try:
            if contender == "import_geojson_no_progress":
                conn.execute("SET geo_import.live_progress = off")
            if contender == "import_geojson_direct_generic":
                # A custom plan holds the bound payload as a Const, copied
                # twice (folded into the plan, and the plan into its cache
                # entry); a generic plan keeps it a parameter.
                conn.execute("SET plan_cache_mode = force_generic_plan")
            sampler = Sampler(pid=conn.pid)
            sampler.start()
            watchdog.start()
            start = time.perf_counter()
            if contender in DIRECT:
                # Declared json (OID 114) in text format: the server runs json_in
                # once on the message's bytes. Binary format would run json_recv,
                # which copies them twice (pq_getmsgtext, then the result).
                rows = conn.execute_params(direct_sql(FUNCTIONS[contender]),
                                           [FILE_ID, payload], [pq.UUIDOID, pq.JSONOID], [False, False])
                result = json.loads(rows[0][0])
            elif contender.startswith("binary_copy"):
                conn.copy_in("COPY %s FROM STDIN (FORMAT binary)" % TABLES[contender], self.copy_files[workload])
                result = {}
            else:
                rows = conn.execute_params(postgrest_sql(FUNCTIONS[contender]), [body], [pq.JSONOID], [True])
                result = json.loads(rows[0][2])
            elapsed = time.perf_counter() - start
        except pq.Error:
            if watchdog.fired_at is None:
                raise
        finally:
            ended = time.perf_counter()
            watchdog.finish()
            sampler.finish()
            conn.close()
        if watchdog.fired_at is not None:
            raise Capped(sampler.pid, ended - watchdog.fired_at, watchdog.how)
        return elapsed, sampler, result, 0.0

    def run_ogr2ogr(self, workload, path, polygons):
        monitor = self.connect()
        find = lambda: (lambda r: int(r[0][0]) if r else None)(  # noqa: E731
            monitor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = '%s'" % OGR_APPNAME))
        conninfo = "PG:dbname=%s" % DB
        for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER")):
            if os.environ.get(var):
                conninfo += " %s=%s" % (key, os.environ[var])
        command = ["ogr2ogr", "-f", "PostgreSQL", conninfo, path, "-nln", TABLES["ogr2ogr"],
                   "-append", "-addfields", "-gt", "unlimited"]
        if polygons:
            command.append("-makevalid")
        # OGR_GEOJSON_MAX_OBJ_SIZE=0: countries-land-10m's biggest features
        # exceed GDAL's default limit for one GeoJSON object (200 MB in memory).
        env = dict(os.environ, PG_USE_COPY="YES", PGAPPNAME=OGR_APPNAME, OGR_GEOJSON_MAX_OBJ_SIZE="0")
        sampler = Sampler(find=find)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        sampler.start()
        start = time.perf_counter()
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=self.args.cap)
        except subprocess.TimeoutExpired:
            sampler.finish()
            monitor.close()
            raise Capped(sampler.pid, 0.0, "client killed")
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        sampler.finish()
        monitor.close()
        if done.returncode != 0:
            raise RuntimeError("ogr2ogr failed (%d): %s\n%s" % (done.returncode, " ".join(map(shlex.quote, command)),
                                                                done.stderr[-2000:]))
        client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.ogr_command = "PG_USE_COPY=YES OGR_GEOJSON_MAX_OBJ_SIZE=0 " + " ".join(shlex.quote(a) for a in command)
        return elapsed, sampler, {}, client_cpu

    def stored_rows(self, contender):
        if contender in PAYLOAD_ONLY:
            return None
        table = "public.geo_features" if contender.startswith("import_geojson") else TABLES[contender]
        return int(self.admin.execute("SELECT count(*) FROM %s" % table)[0][0])

    def invalid_rows(self, contender):
        table = "public.geo_features" if contender.startswith("import_geojson") else TABLES[contender]
        return int(self.admin.execute("SELECT count(*) FROM %s WHERE NOT public.ST_IsValid(geom)" % table)[0][0])

    def wait_exit(self, pid, limit=150):
        """After a capped run: waits for its backend process to exit (it must
        not run on beside the next contender; import_geojson's waits for a
        GEOS step its producer thread was left to finish), killing it past
        `limit` seconds. Returns the seconds waited and whether it was killed."""
        start = time.perf_counter()
        while os.path.exists("/proc/%d" % pid):
            if time.perf_counter() - start > limit:
                signal_backend(pid, signal.SIGKILL)
                return time.perf_counter() - start, True
            time.sleep(0.1)
        return time.perf_counter() - start, False

    def ensure_admin(self):
        """Reconnects the harness's own session after a killed backend made
        the cluster restart (which ends every session)."""
        try:
            self.admin.execute("SELECT 1")
            return
        except pq.Error:
            self.admin.close()
        deadline = time.time() + 120
        while True:
            try:
                self.admin = self.connect()
                return
            except pq.Error:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)

    def measure(self, workload, contender, round_no, body, payload):
        label, path, features, polygons = WORKLOADS[workload]
        self.ensure_admin()
        self.reset(contender)
        if contender == "import_geojson_cold":
            # The run before it warmed the memory: wait until the host has
            # taken those pages back.
            time.sleep(COLD_WAIT_S)
        else:
            warm_memory(warm_bytes(self.args.warm_memory, os.path.getsize(WORKLOADS[workload][1])))
        try:
            if contender == "ogr2ogr":
                elapsed, sampler, result, client_cpu = self.run_ogr2ogr(workload, path, polygons)
            else:
                elapsed, sampler, result, client_cpu = self.run_sql_contender(contender, workload, body, payload)
        except Capped as capped:
            exit_seconds, killed = self.wait_exit(capped.pid) if capped.pid else (0.0, False)
            how = "kill" if killed else capped.how
            self.ensure_admin()
            run = {"workload": workload, "contender": contender, "round": round_no, "capped": True,
                   "stopped_by": how, "stop_seconds": capped.stop_seconds,
                   "exit_seconds": capped.stop_seconds + exit_seconds, "loadavg": os.getloadavg()[0]}
            self.results.append(run)
            log("%-15s %-27s round %d: over the %d s cap, stopped by %s: statement ended %.1f s later, "
                "backend gone %.1f s later" % (workload, contender, round_no, self.args.cap, how,
                                               run["stop_seconds"], run["exit_seconds"]))
            return run
        rows = self.stored_rows(contender)
        run = {
            "workload": workload,
            "contender": contender,
            "round": round_no,
            "seconds": elapsed,
            "backend_cpu_s": sampler.cpu_s - (sampler.cpu_start_s or 0.0),
            "client_cpu_s": client_cpu,
            "vm_hwm_kb": sampler.vm_hwm_kb,
            "rss_anon_peak_kb": sampler.rss_anon_peak_kb,
            "rss_shmem_kb": sampler.rss_shmem_kb,
            "rows": rows,
            "result": result,
            "loadavg": os.getloadavg()[0],
        }
        if polygons and round_no == 1 and contender not in PAYLOAD_ONLY:
            run["invalid_rows"] = self.invalid_rows(contender)
        self.results.append(run)
        log("%-15s %-27s round %d: %8.2f s  %7.1f MB peak  %s rows%s" % (
            workload, contender, round_no, elapsed, sampler.vm_hwm_kb / 1024, "–" if rows is None else rows,
            "  (%d invalid)" % run["invalid_rows"] if "invalid_rows" in run else ""))
        if contender in ("import_geojson", "set_based", "plpgsql_loop") and workload not in self.copy_files:
            # The finished rows, once, for the binary COPY floor: import_geojson's,
            # or (when it did not finish) the first anchor's that did.
            table = "public.geo_features" if contender == "import_geojson" else TABLES[contender]
            path = os.path.join(self.args.cache, "rows-%s.copy" % workload)
            self.admin.copy_out("COPY (SELECT * FROM %s ORDER BY id) TO STDOUT (FORMAT binary)" % table, path)
            self.copy_files[workload] = path
            self.copy_sources[workload] = contender
        return run

    def run_workload(self, workload, main):
        label, path, features, polygons = WORKLOADS[workload]
        with open(path, "rb") as f:
            payload = f.read()
        body = b'{"file_id":"' + FILE_ID.encode() + b'","payload":' + payload + b"}"
        contenders = ["import_geojson"] + (VARIANTS if main else []) + ANCHORS + (DIAGNOSTICS if main else [])
        contenders += [c for c, twin in PAYLOAD_ONLY.items() if twin in contenders]
        if self.args.contenders:
            contenders = [c for c in contenders if c in self.args.contenders]
        log("workload %s: %s, %.1f MB, %d rounds of %s" % (workload, label, len(payload) / 1e6, self.args.runs,
                                                          ", ".join(contenders)))
        capped = set()
        slow = set()
        for round_no in range(1, self.args.runs + 1):
            for contender in contenders:
                if contender in capped or contender in slow:
                    continue
                if contender.startswith("binary_copy") and workload not in self.copy_files:
                    log("%-15s %-27s skipped: no contender finished, so there are no finished rows" % (
                        workload, contender))
                    capped.add(contender)
                    continue
                run = self.measure(workload, contender, round_no, body, payload)
                if run.get("capped"):
                    capped.add(contender)
                elif run["seconds"] > self.args.repeat_limit:
                    slow.add(contender)  # one run is enough to say it is this slow
        for contender in contenders:  # leave nothing big behind between workloads
            if contender in TABLES:
                self.create_table(TABLES[contender])
        self.admin.execute("TRUNCATE public.geo_features, public.layers, public.feature_collections, "
                           "public.import_logs RESTART IDENTITY")
        del payload, body

    # --- report ----------------------------------------------------------------------------------------
    def summary(self):
        groups = {}
        self.capped = {}
        for run in self.results:
            if run.get("capped"):
                self.capped[(run["workload"], run["contender"])] = run
                continue
            groups.setdefault((run["workload"], run["contender"]), []).append(run)
        out = {}
        for (workload, contender), runs in groups.items():
            med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
            features = WORKLOADS[workload][2]
            out[(workload, contender)] = {
                "runs": len(runs),
                "seconds": med("seconds"),
                "all_seconds": [r["seconds"] for r in runs],
                "features_per_s": features / med("seconds"),
                "backend_cpu_s": med("backend_cpu_s"),
                "client_cpu_s": med("client_cpu_s"),
                "vm_hwm_kb": max(r["vm_hwm_kb"] for r in runs),
                "rss_anon_peak_kb": max(r["rss_anon_peak_kb"] for r in runs),
                "rss_shmem_kb": max(r["rss_shmem_kb"] for r in runs),
                "rows": runs[0]["rows"],
                "invalid_rows": runs[0].get("invalid_rows"),
                "result": runs[0]["result"],
            }
        return out

    def payload_bytes(self, workload, contender):
        if contender.startswith("binary_copy"):
            return os.path.getsize(self.copy_files[workload])
        return os.path.getsize(WORKLOADS[workload][1])

    def write_reports(self, workloads, main, final=True):
        s = self.summary()
        os.makedirs(self.args.out, exist_ok=True)
        with open(os.path.join(self.args.out, "results.json"), "w") as f:
            json.dump({"environment": self.meta, "runs": self.results,
                       "ogr2ogr_command": getattr(self, "ogr_command", None),
                       "copy_sources": self.copy_sources,
                       "settings": {"runs": self.args.runs, "cap": self.args.cap,
                                    "repeat_limit": self.args.repeat_limit, "quick": self.args.quick,
                                    "warm_memory": self.args.warm_memory}},
                      f, indent=1)
        self.write_chart_data(s, workloads)
        md = self.markdown(s, workloads, main)
        with open(os.path.join(self.args.out, "results.md"), "w") as f:
            f.write(md)
        if final:
            sys.stdout.write(md)

    # The chart's contenders, in its order, with their legend and colour.
    CHART = [("import_geojson", "import_geojson (PostgREST request)", "#1b9e77"),
             ("binary_copy", "binary COPY of the finished rows (floor)", "#7f7f7f"),
             ("ogr2ogr", "ogr2ogr (PG_USE_COPY=YES)", "#d95f02"),
             ("set_based", "set-based SQL", "#7570b3"),
             ("plpgsql_loop", "PL/pgSQL loop + EXCEPTION", "#e7298a")]

    def write_chart_data(self, s, workloads):
        """chart.dat and chart-memory.dat, one column per contender that has a
        result in some workload (gnuplot refuses a column with none), titles
        in the header line; chart-colors.gp names the columns' colours."""
        shown = [w for w in workloads if (w != "points-100k" or "points-1m" not in workloads)
                 and any((w, c) in s for c, _, _ in self.CHART)]
        chart = [entry for entry in self.CHART if any((w, entry[0]) in s for w in shown)]
        header = "workload " + " ".join('"%s"' % title for _, title, _ in chart)
        with open(os.path.join(self.args.out, "chart.dat"), "w") as f:
            f.write("# features per second, median\n" + header + "\n")
            for w in shown:
                values = ["%.1f" % s[(w, c)]["features_per_s"] if (w, c) in s else "NaN" for c, _, _ in chart]
                f.write('"%s" %s\n' % (w, " ".join(values)))
        with open(os.path.join(self.args.out, "chart-memory.dat"), "w") as f:
            f.write("# backend VmHWM in MB; the last column: 2.5 x payload, the target\n")
            f.write(header + ' "2.5 x payload (target)"\n')
            for w in shown:
                values = ["%.1f" % (s[(w, c)]["vm_hwm_kb"] / 1024) if (w, c) in s else "NaN" for c, _, _ in chart]
                values.append("%.1f" % (2.5 * self.payload_bytes(w, "import_geojson") / 2**20))
                f.write('"%s" %s\n' % (w, " ".join(values)))
        with open(os.path.join(self.args.out, "chart-colors.gp"), "w") as f:
            f.write('contenders = %d\ncolors = "%s"\n' % (len(chart), " ".join(color for _, _, color in chart)))

    def markdown(self, s, workloads, main):
        e = self.meta
        lines = []
        add = lines.append
        add("# geo_import benchmark results")
        add("")
        add("Generated by `bench/run.sh%s` on %s (commit %s)." % (" --quick" if self.args.quick else "", e["date"],
                                                                e["git"]))
        add("%s, %s GB; PostgreSQL %s (shared_buffers %s, fsync off, autovacuum off), PostGIS %s, GEOS %s, %s." % (
            e["cpu"], e["memory_gb"], e["postgres"], e["shared_buffers"], e["postgis"], e["geos"], e["gdal"]))
        add("Median of %d run(s) per contender, contenders interleaved round by round (a contender whose run "
            "took over %d s is run once; one still running at %d s is stopped and shown as not finished); each run into an "
            "empty table with the same indexes (primary key (layer_id, id), GiST on geom; import_geojson writes a "
            "large import into a partition of its own and builds its indexes when it attaches it). Time: wall clock "
            "of the request as the client sees it. Peak memory: the backend's VmHWM (includes the code pages and "
            "up to shared_buffers of shared memory it touched); private: the peak of its RssAnon. The machine is "
            "shared: compare ratios within this run, not absolute times. Load average during the runs: %.1f–%.1f "
            "on %d cores." % (
                self.args.runs, self.args.repeat_limit, self.args.cap, min(r["loadavg"] for r in self.results),
                max(r["loadavg"] for r in self.results), os.cpu_count() or 0))
        warm = self.args.warm_memory
        if warm == "0":
            add("No memory warm-up (`--warm-memory 0`): every contender met this VM's free memory as it came, "
                "pages the host had taken back costing a host fault on first touch.")
        else:
            add("Before each run the harness touched and freed %s of memory (`--warm-memory`): this VM hands "
                "freed pages back to its host (virtio-balloon free page reporting), and a page touched again "
                "costs a host fault, so without it each contender would pay in proportion to the memory it uses, "
                "which a database server's memory does not (the row *without the memory warm-up* shows the "
                "difference)." % ("1 GiB plus 16× the payload" if warm == "auto" else "%s GiB" % warm))
        add("")
        add("Contenders: `import_geojson` called exactly as PostgREST calls `supabase.rpc('import_geojson', "
            "{file_id, payload})` (the request body as one `json` bind parameter, `json_to_record`, named "
            "arguments); the set-based SQL and PL/pgSQL anchors are called the same way; `ogr2ogr` appends with "
            "COPY into a prepared table; binary COPY loads the rows import_geojson stored. Details: bench/README.md.")
        add("")
        for w in workloads:
            label, path, features, polygons = WORKLOADS[w]
            base = s.get((w, "import_geojson"))
            add("## %s — %s features, %.1f MiB" % (label, format(features, ","), os.path.getsize(path) / 2**20))
            add("")
            add("| contender | median s | features/s | time ÷ import_geojson | backend CPU s | peak MiB (VmHWM) "
                "| ÷ payload | private MiB (RssAnon) | rows | invalid stored | runs (s) |")
            add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
            order = ["import_geojson"] + VARIANTS + ANCHORS + DIAGNOSTICS + list(PAYLOAD_ONLY)
            for c in order:
                if (w, c) in self.capped:
                    k = self.capped[(w, c)]
                    add("| %s | > %d (stopped) | < %s | %s | | | | | | | %s at the cap: the statement ended %.1f s "
                        "later, the backend %.1f s later |" % (
                            CONTENDERS[c], self.args.cap, "%.3g" % (features / self.args.cap),
                            "> %.1f×" % (self.args.cap / base["seconds"]) if base else "–",
                            STOPPED_BY[k["stopped_by"]], k["stop_seconds"], k["exit_seconds"]))
                    continue
                if c == "binary_copy" and w not in self.copy_sources and any(r["workload"] == w for r in self.results):
                    add("| %s | not run: no contender finished, so there are no finished rows to load "
                        "| | | | | | | | | |" % CONTENDERS[c])
                    continue
                if (w, c) not in s:
                    continue
                r = s[(w, c)]
                cpu = "%.1f" % r["backend_cpu_s"]
                if c == "ogr2ogr":
                    cpu += " (+%.1f client)" % r["client_cpu_s"]
                add("| %s | %.2f | %s | %s | %s | %.0f | %.2f× | %.0f | %s | %s | %s |" % (
                    CONTENDERS[c], r["seconds"], format(round(r["features_per_s"]), ","),
                    "%.2f×" % (r["seconds"] / base["seconds"]) if base else
                    ("< %.2f×" % (r["seconds"] / self.args.cap) if (w, "import_geojson") in self.capped else "–"),
                    cpu, r["vm_hwm_kb"] / 1024,
                    r["vm_hwm_kb"] * 1024 / self.payload_bytes(w, c), r["rss_anon_peak_kb"] / 1024,
                    "–" if r["rows"] is None else format(r["rows"], ","),
                    "–" if r["invalid_rows"] is None else r["invalid_rows"],
                    ", ".join("%.2f" % x for x in r["all_seconds"])))
            if w in self.copy_sources and self.copy_sources[w] != "import_geojson":
                add("")
                add("import_geojson did not finish, so the binary COPY floor loads the rows %s produced." %
                    CONTENDERS[self.copy_sources[w]])
            if base and base["result"]:
                res = base["result"]
                add("")
                add("import_geojson reported: %s imported, %s repaired, %s failed of %s." % (
                    res.get("imported_count"), res.get("repaired_count"), res.get("failed_count"),
                    res.get("total_features")))
            for line in self.memory_shares(s, w):
                add("")
                add(line)
            add("")
        add(self.targets(s, workloads, main))
        return "\n".join(lines) + "\n"

    def memory_shares(self, s, w):
        """What part of import_geojson's peak is PostgreSQL's own handling of
        the request: the same call to a function that only reads the payload.
        Compared by private memory (RssAnon): VmHWM also counts the shared
        buffers the import touched."""
        lines = []
        payload = self.payload_bytes(w, "import_geojson")
        for baseline, twin in PAYLOAD_ONLY.items():
            if (w, baseline) not in s or (w, twin) not in s:
                continue
            b, i = s[(w, baseline)], s[(w, twin)]
            own = (i["rss_anon_peak_kb"] - b["rss_anon_peak_kb"]) * 1024
            if own > 0:
                share = "geo_import adds %.0f MiB (%.2f× the payload) to it" % (own / 2**20, own / payload)
            else:
                share = ("geo_import adds nothing to it (the peak is reached while PostgreSQL binds the parameter; "
                         "geo_import's memory fits in what PostgreSQL frees after that)")
            lines.append(
                "Memory, %s: the same call to a function that only reads the payload peaks at %.0f MiB (%.2f× the "
                "payload; private %.0f MiB): PostgreSQL's own copies of the request, made before the function runs. "
                "import_geojson's private peak is %.0f MiB: %s." % (
                    CONTENDERS[twin], b["vm_hwm_kb"] / 1024, b["vm_hwm_kb"] * 1024 / payload,
                    b["rss_anon_peak_kb"] / 1024, i["rss_anon_peak_kb"] / 1024, share))
        return lines

    def targets(self, s, workloads, main):
        lines = ["## Targets (SPEC §6)", "", "| target | measured | met |", "|---|---|---|"]

        def row(text, measured, ok):
            lines.append("| %s | %s | %s |" % (text, measured, "yes" if ok else "**no**"))

        def t(w, c):
            return s[(w, c)]["seconds"] if (w, c) in s else None

        p = main
        if t(p, "import_geojson") and t(p, "binary_copy"):
            x = t(p, "import_geojson") / t(p, "binary_copy")
            row("%s: import_geojson ≤ 1.5× the binary COPY floor" % p, "%.2f× the floor" % x, x <= 1.5)
        def cpu(w, c):
            r = s[(w, c)]
            return r["backend_cpu_s"] + r["client_cpu_s"]

        def faster(w, c):
            x = t(w, c) / t(w, "import_geojson")
            text = "%.2f× faster (CPU time: %.2f×)" % (x, cpu(w, c) / cpu(w, "import_geojson"))
            if t(w, "payload_only"):
                # What PostgreSQL spends on the PostgREST request itself; the
                # anchors called through PostgREST pay it too, ogr2ogr does not.
                request = t(w, "payload_only")
                theirs = t(w, c) - (request if c in ("set_based", "plpgsql_loop") else 0)
                text += "; %.2f× without PostgreSQL's own handling of the PostgREST request (%.2f s)" % (
                    theirs / (t(w, "import_geojson") - request), request)
            return x, text

        for c in ("ogr2ogr", "set_based"):
            if t(p, "import_geojson") and t(p, c):
                x, text = faster(p, c)
                row("%s: ≥ 3× faster than %s" % (p, CONTENDERS[c]), text, x >= 3)
        for w in workloads:
            if WORKLOADS[w][3] and t(w, "import_geojson") and t(w, "set_based"):
                x, text = faster(w, "set_based")
                row("%s: ≥ 3× faster than set-based SQL" % w, text, x >= 3)
            elif WORKLOADS[w][3] and t(w, "import_geojson") and (w, "set_based") in self.capped:
                # The anchor was stopped at the cap: the cap is a lower bound of its time.
                x = self.args.cap / t(w, "import_geojson")
                row("%s: ≥ 3× faster than set-based SQL" % w, "more than %.2f× faster: import_geojson took %.1f s, "
                    "set-based SQL did not finish within %d s" % (x, t(w, "import_geojson"), self.args.cap), x >= 3)
            elif WORKLOADS[w][3] and (w, "import_geojson") in self.capped:
                row("%s: ≥ 3× faster than set-based SQL" % w, "import_geojson did not finish within %d s; "
                    "set-based SQL %s" % (self.args.cap, "took %.1f s" % t(w, "set_based") if t(w, "set_based")
                                          else "did not either"), False)
        if t(p, "import_geojson") and t(p, "import_geojson_no_progress"):
            x = t(p, "import_geojson") / t(p, "import_geojson_no_progress") - 1
            row("%s: live progress costs ≤ 5%%" % p, "%+.1f%% (on %.2f s vs off %.2f s)" % (
                100 * x, t(p, "import_geojson"), t(p, "import_geojson_no_progress")), x <= 0.05)
        for w in workloads:
            for c in ("import_geojson", "import_geojson_direct", "import_geojson_direct_generic"):
                if (w, c) not in s or self.payload_bytes(w, c) < 10e6:
                    continue
                x = s[(w, c)]["vm_hwm_kb"] * 1024 / self.payload_bytes(w, c)
                measured = "%.2f× (%.0f MiB for %.0f MiB)" % (
                    x, s[(w, c)]["vm_hwm_kb"] / 1024, self.payload_bytes(w, c) / 2**20)
                baseline = {"import_geojson": "payload_only", "import_geojson_direct": "payload_only_direct"}.get(c)
                if (w, baseline) in s:
                    measured += "; the same call to a function that only reads the payload: %.2f×" % (
                        s[(w, baseline)]["vm_hwm_kb"] * 1024 / self.payload_bytes(w, c))
                row("%s: backend peak memory ≤ 2.5× payload, %s" % (w, CONTENDERS[c]), measured, x <= 2.5)
        lines.append("")
        lines.append("The memory target is checked on payloads of 10 MB and more: below that a backend's fixed "
                     "footprint (code pages, caches, the shared buffers it touched: 30–60 MB) dominates.")
        if t(p, "binary_copy") and t(p, "binary_copy_no_gist") and t(p, "binary_copy_no_indexes"):
            c, g, n = t(p, "binary_copy"), t(p, "binary_copy_no_gist"), t(p, "binary_copy_no_indexes")
            lines.append("")
            lines.append("The floor on %s: %.2f s, of which maintaining the GiST index is %.2f s (%.0f%%) and the "
                         "two btrees %.2f s (%.0f%%); the same COPY into a table without any index takes %.2f s. "
                         "Every contender but import_geojson pays that upkeep row by row; a large import "
                         "builds its layer's indexes once, when it attaches its table." % (
                             p, c, c - g, 100 * (c - g) / c, g - n, 100 * (g - n) / c, n))
        if "points-1m" in workloads and "points-100k" in workloads:
            lines += ["", "### Linearity: 100k vs 1M points", "",
                      "| contender | 100k s | 1M s | 1M ÷ 100k (linear: 10) | time per feature, 1M ÷ 100k |",
                      "|---|---:|---:|---:|---:|"]
            for c in ["import_geojson"] + ANCHORS:
                a, b = t("points-100k", c), t("points-1m", c)
                if a and b:
                    lines.append("| %s | %.2f | %.2f | %.1f | %.2f |" % (CONTENDERS[c], a, b, b / a, b / a / 10))
            a, b = t("points-100k", "import_geojson"), t("points-1m", "import_geojson")
            if a and b:
                lines.append("")
                lines.append("Target: import_geojson's time linear in features (per-feature time at 1M within "
                             "0.8–1.25× of that at 100k): %.2f× — %s." % (
                                 b / a / 10, "met" if 0.8 <= b / a / 10 <= 1.25 else "**not met**"))
        return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100k points, 10k polygons, countries-10km; 1 run")
    parser.add_argument("--runs", type=int, help="runs per contender (default 3, quick 1)")
    parser.add_argument("--workloads", help="comma-separated subset of: " + ", ".join(WORKLOADS))
    parser.add_argument("--contenders", help="comma-separated subset of: " + ", ".join(CONTENDERS)
                        + " (binary_copy needs import_geojson)")
    parser.add_argument("--cap", type=int, default=180,
                        help="seconds after which a run is stopped and reported as not finished (default 180; "
                             "see Watchdog); a contender capped once is not run again on that workload")
    parser.add_argument("--repeat-limit", type=float, default=120,
                        help="a contender whose run took longer than this (seconds, default 120) is not run again "
                             "on that workload: its one time is reported")
    parser.add_argument("--warm-memory", default="auto",
                        help="GiB of memory to touch and free before each run (see warm_memory): auto (default: "
                             "1 GiB + 16x the payload), 0 (off: the VM's cold pages as they come), or a number")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render results.md and the chart data from OUT/results.json, measuring nothing")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--cache", default=os.path.join(REPO, ".cache", "bench"))
    args = parser.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.contenders = args.contenders.split(",") if args.contenders else None
    workloads = args.workloads.split(",") if args.workloads else (QUICK if args.quick else FULL)
    for w in workloads:
        if w not in WORKLOADS:
            parser.error("unknown workload %s" % w)
        if not os.path.exists(os.path.join(REPO, WORKLOADS[w][1])):
            parser.error("%s is missing (bench/run.sh makes it)" % WORKLOADS[w][1])
    WORKLOADS.update({k: (v[0], os.path.join(REPO, v[1]), v[2], v[3]) for k, v in WORKLOADS.items()})
    main_workload = "points-1m" if "points-1m" in workloads else ("points-100k" if "points-100k" in workloads
                                                                  else workloads[0])
    os.makedirs(args.cache, exist_ok=True)
    bench = Bench(args)
    if args.report_only:
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        bench.meta, bench.results, bench.ogr_command = saved["environment"], saved["runs"], saved["ogr2ogr_command"]
        for key in ("runs", "cap", "repeat_limit", "quick"):
            if key in saved.get("settings", {}):
                setattr(args, key, saved["settings"][key])
        args.warm_memory = saved.get("settings", {}).get("warm_memory", "0")  # runs before it had none
        bench.copy_sources = saved.get("copy_sources", {})
        for w in bench.copy_sources:
            bench.copy_files[w] = os.path.join(args.cache, "rows-%s.copy" % w)
        workloads = [w for w in workloads if any(r["workload"] == w for r in bench.results)]
        bench.write_reports(workloads, main_workload)
        return
    started = time.time()
    bench.setup()
    done = []
    for w in workloads:
        bench.run_workload(w, main=(w == main_workload))
        done.append(w)
        bench.write_reports(done, main_workload, final=(len(done) == len(workloads)))
    log("done in %.0f s" % (time.time() - started))


if __name__ == "__main__":
    main()
