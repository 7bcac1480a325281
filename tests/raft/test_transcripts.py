"""Runs every transcript in testdata/ and compares it with the checked-in text.

RAYKUBE_REWRITE=1 rewrites the files with the actual output instead (review the diff before committing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from transcript import run_transcript, transcripts


@pytest.mark.parametrize("path", transcripts(), ids=lambda p: p.stem)
def test_transcript(path: Path) -> None:
    expected = path.read_text()
    actual = run_transcript(expected)
    if os.environ.get("RAYKUBE_REWRITE") == "1":
        path.write_text(actual)
        return
    assert actual == expected, f"{path.name} differs; rerun with RAYKUBE_REWRITE=1 and review the diff"
