"""A minimal libpq binding (ctypes over Debian's libpq5) for the benchmark.

Why not psycopg2: it interpolates parameters into the SQL text on the client,
so a 140 MB payload would reach the server as a string literal in the query
and go through the SQL scanner. PostgREST sends the request body as a real
bind parameter of the extended protocol (hasql: Parse/Bind/Execute, the body
as a `json` value in binary format), and so does this binding, through
PQexecParams. It also streams binary COPY with PQputCopyData.
"""
import ctypes
import ctypes.util

_lib = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")

_lib.PQconnectdb.restype = ctypes.c_void_p
_lib.PQconnectdb.argtypes = [ctypes.c_char_p]
_lib.PQstatus.argtypes = [ctypes.c_void_p]
_lib.PQerrorMessage.restype = ctypes.c_char_p
_lib.PQerrorMessage.argtypes = [ctypes.c_void_p]
_lib.PQfinish.argtypes = [ctypes.c_void_p]
_lib.PQbackendPID.argtypes = [ctypes.c_void_p]
_lib.PQexec.restype = ctypes.c_void_p
_lib.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.PQexecParams.restype = ctypes.c_void_p
_lib.PQexecParams.argtypes = [
    ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
    ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_char_p),
    ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int), ctypes.c_int,
]
_lib.PQresultStatus.argtypes = [ctypes.c_void_p]
_lib.PQresultErrorMessage.restype = ctypes.c_char_p
_lib.PQresultErrorMessage.argtypes = [ctypes.c_void_p]
_lib.PQntuples.argtypes = [ctypes.c_void_p]
_lib.PQnfields.argtypes = [ctypes.c_void_p]
_lib.PQfname.restype = ctypes.c_char_p
_lib.PQfname.argtypes = [ctypes.c_void_p, ctypes.c_int]
_lib.PQgetvalue.restype = ctypes.c_char_p
_lib.PQgetvalue.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
_lib.PQgetisnull.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
_lib.PQclear.argtypes = [ctypes.c_void_p]
_lib.PQgetResult.restype = ctypes.c_void_p
_lib.PQgetResult.argtypes = [ctypes.c_void_p]
_lib.PQputCopyData.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
_lib.PQputCopyEnd.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.PQgetCopyData.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
_lib.PQfreemem.argtypes = [ctypes.c_void_p]
_NOTICE_PROCESSOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
_lib.PQsetNoticeProcessor.restype = ctypes.c_void_p
_lib.PQsetNoticeProcessor.argtypes = [ctypes.c_void_p, _NOTICE_PROCESSOR, ctypes.c_void_p]

CONNECTION_OK = 0
PGRES_COMMAND_OK = 1
PGRES_TUPLES_OK = 2
PGRES_COPY_OUT = 3
PGRES_COPY_IN = 4

JSONOID = 114
UUIDOID = 2950


class Error(Exception):
    pass


def _quiet(_arg, _message):
    pass


_quiet_processor = _NOTICE_PROCESSOR(_quiet)


class Connection:
    def __init__(self, conninfo=""):
        self._conn = _lib.PQconnectdb(conninfo.encode())
        if _lib.PQstatus(self._conn) != CONNECTION_OK:
            message = _lib.PQerrorMessage(self._conn).decode(errors="replace")
            _lib.PQfinish(self._conn)
            self._conn = None
            raise Error("connection failed: " + message.strip())
        # NOTICEs (e.g. ST_IsValid's "Self-intersection at ...") are dropped.
        _lib.PQsetNoticeProcessor(self._conn, _quiet_processor, None)

    @property
    def pid(self):
        return _lib.PQbackendPID(self._conn)

    def close(self):
        if self._conn:
            _lib.PQfinish(self._conn)
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _rows(res):
        rows = []
        for r in range(_lib.PQntuples(res)):
            rows.append(tuple(
                None if _lib.PQgetisnull(res, r, c) else _lib.PQgetvalue(res, r, c).decode()
                for c in range(_lib.PQnfields(res))))
        return rows

    def _finish(self, res, sql):
        try:
            status = _lib.PQresultStatus(res)
            if status not in (PGRES_COMMAND_OK, PGRES_TUPLES_OK):
                message = (_lib.PQresultErrorMessage(res) if res else _lib.PQerrorMessage(self._conn))
                raise Error("%s\n  in: %s" % (message.decode(errors="replace").strip(), sql[:200]))
            return self._rows(res)
        finally:
            if res:
                _lib.PQclear(res)

    def execute(self, sql):
        """Runs SQL (simple protocol, may hold several statements); rows of the last."""
        return self._finish(_lib.PQexec(self._conn, sql.encode()), sql)

    def execute_params(self, sql, params, types=None, binary=None):
        """Runs one statement with bind parameters (extended protocol).

        params: bytes or str values (None for NULL); types: their type OIDs
        (0: let the server infer); binary: which ones go in binary format.
        libpq reads a text-format value up to its first NUL byte.
        """
        n = len(params)
        values = (ctypes.c_char_p * n)()
        lengths = (ctypes.c_int * n)()
        formats = (ctypes.c_int * n)()
        oids = (ctypes.c_uint * n)()
        keep = []
        for i, value in enumerate(params):
            if value is None:
                values[i] = None
                continue
            data = value.encode() if isinstance(value, str) else value
            keep.append(data)
            values[i] = ctypes.c_char_p(data)  # points into `data`, no copy
            lengths[i] = len(data)
            formats[i] = 1 if binary and binary[i] else 0
            oids[i] = types[i] if types else 0
        res = _lib.PQexecParams(self._conn, sql.encode(), n, oids, values, lengths, formats, 0)
        return self._finish(res, sql)

    def copy_in(self, sql, path, chunk=1 << 20):
        """Runs COPY ... FROM STDIN and streams the file at `path` into it."""
        res = _lib.PQexec(self._conn, sql.encode())
        if _lib.PQresultStatus(res) != PGRES_COPY_IN:
            self._finish(res, sql)
            raise Error("not a COPY FROM STDIN: " + sql)
        _lib.PQclear(res)
        with open(path, "rb") as f:
            while True:
                data = f.read(chunk)
                if not data:
                    break
                if _lib.PQputCopyData(self._conn, data, len(data)) != 1:
                    raise Error(_lib.PQerrorMessage(self._conn).decode(errors="replace"))
        if _lib.PQputCopyEnd(self._conn, None) != 1:
            raise Error(_lib.PQerrorMessage(self._conn).decode(errors="replace"))
        return self._drain(sql)

    def copy_out(self, sql, path):
        """Runs COPY ... TO STDOUT and writes what it sends to `path`."""
        res = _lib.PQexec(self._conn, sql.encode())
        if _lib.PQresultStatus(res) != PGRES_COPY_OUT:
            self._finish(res, sql)
            raise Error("not a COPY TO STDOUT: " + sql)
        _lib.PQclear(res)
        buf = ctypes.c_void_p()
        with open(path, "wb") as f:
            while True:
                n = _lib.PQgetCopyData(self._conn, ctypes.byref(buf), 0)
                if n > 0:
                    f.write(ctypes.string_at(buf, n))
                    _lib.PQfreemem(buf)
                elif n == -1:
                    break
                else:
                    raise Error(_lib.PQerrorMessage(self._conn).decode(errors="replace"))
        return self._drain(sql)

    def _drain(self, sql):
        rows = []
        while True:
            res = _lib.PQgetResult(self._conn)
            if not res:
                return rows
            rows = self._finish(res, sql)
