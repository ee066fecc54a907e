"""Shared fixtures: the bundled rule pack, loaded once."""

from __future__ import annotations

import pytest

import triage


@pytest.fixture(scope="session")
def pack() -> triage.RulePack:
    return triage.load_rulepack()
