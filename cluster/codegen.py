"""Generate the Python code for proto/ with the pinned grpcio-tools, and check that it is fresh.

Generated modules (`*_pb2.py`, `*_pb2.pyi`, `*_pb2_grpc.py`) are written next to their `.proto`
files, so `proto/raykube/...` imports as the `raykube` package without any import rewriting.
They are never checked in or edited by hand: setup runs `python -m cluster.codegen`, and
`python -m cluster.codegen --check` (also run by the test suite) fails when they are stale.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent.parent / "proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files(root: Path = PROTO_ROOT) -> list[Path]:
    """All .proto sources, relative to the proto root (the import root)."""
    return sorted(p.relative_to(root) for p in root.rglob("*.proto"))


def generated_files(root: Path) -> list[Path]:
    """Every generated module under `root`, relative to it."""
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.name.endswith(GENERATED_SUFFIXES))


def generate(out_dir: Path, root: Path = PROTO_ROOT) -> None:
    """Run protoc (from grpcio-tools) over every .proto under `root`, writing into `out_dir`."""
    import grpc_tools
    from grpc_tools import protoc  # imported lazily: only setup and the freshness check need it

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{root}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(p) for p in proto_files(root)),
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {root}")


def stale_files(root: Path = PROTO_ROOT) -> list[str]:
    """Generated files that differ from a fresh generation (missing, extra or changed)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh, root)
        want, have = set(generated_files(fresh)), set(generated_files(root))
        problems = [f"missing: {p}" for p in sorted(want - have)]
        problems += [f"not generated from any .proto: {p}" for p in sorted(have - want)]
        problems += [
            f"stale: {p}" for p in sorted(want & have) if not filecmp.cmp(fresh / p, root / p, shallow=False)
        ]
        return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the generated code is stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files()
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("generated protobuf code is stale: run `python -m cluster.codegen`", file=sys.stderr)
        return 1 if problems else 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        wanted = set(generated_files(fresh))
        for rel in wanted:  # replace file by file, so a concurrent import never sees a gap
            (fresh / rel).replace(PROTO_ROOT / rel)
        for rel in set(generated_files(PROTO_ROOT)) - wanted:
            (PROTO_ROOT / rel).unlink()
    print(f"generated {len(generated_files(PROTO_ROOT))} modules from {len(proto_files())} .proto files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
