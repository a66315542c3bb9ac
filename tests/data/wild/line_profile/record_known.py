"""Profile known.py's functions with whichever line_profiler runs this script; write the .lprof
and, from outside perfkit, the profiler's own numbers (LineProfiler.get_stats()) as JSON.

    python record_known.py known_v5.lprof known_v5.truth.json
"""

import json
import sys
from pathlib import Path

import line_profiler
from line_profiler import LineProfiler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import known

out, truth = sys.argv[1], sys.argv[2]
profiler = LineProfiler()
squares, branchy, words = (profiler(f) for f in (known.squares, known.branchy, known.words))
for n in (10, 100, 1000):  # squares: 3 calls, its loop body 1110 times
    squares(n)
for n in (7, 8):  # branchy: 2 calls, evens 4 + 4, odds 3 + 4
    branchy(n)
words("a line of five words")  # words: 1 call
profiler.dump_stats(out)
stats = profiler.get_stats()
with open(truth, "w") as handle:
    json.dump(
        {
            "line_profiler": line_profiler.__version__,
            "python": sys.version.split()[0],
            "unit": stats.unit,
            "timings": [
                {
                    "file": f,
                    "first_line": first,
                    "function": name,
                    "lines": [list(map(int, row)) for row in rows],
                }
                for (f, first, name), rows in stats.timings.items()
            ],
        },
        handle,
        indent=1,
    )
