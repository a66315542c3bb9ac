"""Run by each CPython (see record_versions.py): trace, keep 40 x bytes(1000) and 7 x
bytearray(5000) at two known lines (one function called from another: 2 frames), dump the
snapshot gzip-compressed, and write the interpreter's own Snapshot.statistics as the truth."""

import gzip
import json
import sys
import tracemalloc
from pathlib import Path

KEPT = []


def keep_bytes():
    for _ in range(40):
        KEPT.append(bytes(1000))  # BYTES LINE


def keep_bytearrays():
    for _ in range(7):
        KEPT.append(bytearray(5000))  # BYTEARRAY LINE


def main(out):
    tracemalloc.start(2)
    keep_bytes()
    keep_bytearrays()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    tag = "py{}{}".format(*sys.version_info[:2])
    raw = Path(out) / (tag + ".pickle")
    snapshot.dump(str(raw))
    Path(str(raw) + ".gz").write_bytes(gzip.compress(raw.read_bytes(), 9))
    raw.unlink()
    truth = {}
    for key in ("lineno", "traceback"):
        truth[key] = [[[[f.filename, f.lineno] for f in reversed(s.traceback)], s.size, s.count]
                      for s in snapshot.statistics(key)]
    truth["python"] = sys.version.split()[0]
    truth["traceback_limit"] = snapshot.traceback_limit
    (Path(out) / (tag + ".truth.json")).write_text(json.dumps(truth, indent=0))


if __name__ == "__main__":
    main(sys.argv[1])
