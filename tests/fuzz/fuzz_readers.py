"""Coverage-guided fuzzing of the answer-file readers with atheris (optional; not part of CI).

    pip install atheris
    python tests/fuzz/fuzz_readers.py -max_total_time=300          # all four formats in turn
    python tests/fuzz/fuzz_readers.py -max_total_time=300 corpus/  # keep and grow a corpus

The first byte of each input picks the format (.json, .jsonl, .yaml or .csv);
the rest is the file. Each input is checked by the same oracle as the CI fuzz
test (tests/answer_fuzz.py): any exception or broken invariant is a crash that
atheris reports with the input that caused it. Seed inputs may be taken from
tests/data/hostile-answers/.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    from answer_fuzz import FORMATS, check_answer_file

    import triage.io.readers  # noqa: F401 - instrumented for coverage
    from triage.packs.loading import load_rulepack

PACK = load_rulepack()
ORDER = sorted(FORMATS)
FOLDER = Path(tempfile.mkdtemp(prefix="triage-fuzz-"))


def test_one_input(data: bytes) -> None:
    if not data:
        return
    check_answer_file(data[1:], ORDER[data[0] % len(ORDER)], FOLDER, PACK)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
