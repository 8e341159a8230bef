"""`make bench`: run every bench/<name>.py that defines main(), each in its own process
(each sets up Django with its own database), and make sure bench/results/<name>.json exists.

    .venv/bin/python -m bench.run_all [name ...]
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
SKIP = {"__init__", "run_all"}

# In the child: run main(); if it returned a dict and wrote nothing itself, save that.
CHILD = """
import json, sys
from pathlib import Path
import importlib
name, out = sys.argv[1], Path(sys.argv[2])
before = out.stat().st_mtime if out.exists() else None
sys.argv = [f"bench/{name}.py"]  # a main() that parses sys.argv gets its defaults
result = importlib.import_module(f"bench.{name}").main()
after = out.stat().st_mtime if out.exists() else None
if isinstance(result, dict) and after == before:
    out.write_text(json.dumps(result, indent=2, default=str) + "\\n")
"""


def has_main(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def modules(names: list[str]) -> list[str]:
    found = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in SKIP and has_main(p))
    return [n for n in found if n in names] if names else found


def main(argv: list[str] | None = None) -> int:
    RESULTS.mkdir(exist_ok=True)
    summary = {}
    for name in modules(argv if argv is not None else sys.argv[1:]):
        out = RESULTS / f"{name}.json"
        print(f"== bench {name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-c", CHILD, name, str(out)], cwd=ROOT)
        summary[name] = {"exit_code": code, "seconds": round(time.perf_counter() - started, 1),
                         "results": str(out.relative_to(ROOT)) if out.exists() else None}
    print(json.dumps(summary, indent=2))
    return 1 if any(item["exit_code"] for item in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
