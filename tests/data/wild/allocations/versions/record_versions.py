"""Re-record the per-version snapshots: each CPython that pyenv has runs plant.py here.

    python tests/data/wild/allocations/versions/record_versions.py
"""

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS = ("3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")

for version in VERSIONS:
    python = Path("/root/.pyenv/versions") / version / "bin" / "python"
    if python.exists():
        subprocess.run([str(python), "plant.py", "."], cwd=HERE, check=True, timeout=60)
