"""How long ``flask --app portal demo --campaign-size 1000000`` takes on a fresh database.

    .venv/bin/python bench/demo_speed.py
"""

import os
import subprocess
import tempfile
import time
from pathlib import Path

import common


def main():
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PORTAL_DATABASE_URL": f"sqlite:///{Path(folder) / 'demo.db'}"}
        flask = [str(common.BIN / "flask"), "--app", "portal"]
        subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run([*flask, "demo", "--campaign-size", str(common.BIG)], env=env,
                       check=True, capture_output=True)
        print(f"demo --campaign-size {common.BIG:,}: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
