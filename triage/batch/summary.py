"""What a batch run found, and how far it has got: the counts of its summary, and its progress bar."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from triage.core.pack import RulePack


@dataclass
class Summary:
    """What a run read and found: counts for the summary line."""

    files: int = 0
    unreadable_files: int = 0
    records: int = 0
    valid: int = 0
    invalid: int = 0
    urgency: Counter[str] = field(default_factory=Counter)
    prognosis: Counter[str] = field(default_factory=Counter)

    def add(self, other: Summary) -> None:
        self.files += other.files
        self.unreadable_files += other.unreadable_files
        self.records += other.records
        self.valid += other.valid
        self.invalid += other.invalid
        self.urgency.update(other.urgency)
        self.prognosis.update(other.prognosis)

    def lines(self, pack: RulePack) -> list[str]:
        """The summary in words, urgencies and prognoses in the pack's order."""
        files = f"{self.files} file{'s' if self.files != 1 else ''}"
        if self.unreadable_files:
            files += f" ({self.unreadable_files} could not be read)"
        records = f"{self.records} record{'s' if self.records != 1 else ''}"
        out = [f"{files}, {records}: {self.valid} valid, {self.invalid} invalid."]
        out.append("  urgency:   " + ", ".join(f"{u} {self.urgency[u]}" for u in pack.levels))
        out.append("  prognosis: " + ", ".join(f"{p} {self.prognosis[p]}" for p in pack.categories))
        return out


class Progress:
    """A one-line progress report on stderr, refreshed a few times a second."""

    def __init__(self, total_bytes: int) -> None:
        self.total = max(total_bytes, 1)
        self.started = time.monotonic()
        self.shown = self.started
        self.visible = False

    def update(self, done_bytes: int, records: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.25 or now - self.started < 0.5:
            return
        self.shown = now
        rate = records / (now - self.started)
        share = min(done_bytes / self.total, 1.0)
        bar = "#" * int(share * 30)
        sys.stderr.write(f"\r[{bar:<30}] {share:4.0%}  {records:,} records  {rate:,.0f}/s ")
        sys.stderr.flush()
        self.visible = True

    def clear(self) -> None:
        if self.visible:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
