"""The bundled rule pack: citations, examples, identity; loading refuses broken packs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import triage
from triage.core.models import ArticleCitation
from triage.packs.loading import default_pack_path

SOURCE = default_pack_path() / "source.txt"


def _paragraphs() -> list[str]:
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines[2:] if line.strip()]


def _citations(pack: triage.RulePack) -> list[tuple[str, ArticleCitation]]:
    doc = pack.document
    owners = [*doc.urgency.levels, *doc.prognosis.categories, *doc.suggestions]
    return [(o.id, c) for o in owners for c in o.citations if isinstance(c, ArticleCitation)]


def test_article_has_the_seven_paragraphs_of_the_spec() -> None:
    """Paragraph numbering follows SPEC §2: seven content paragraphs after breadcrumb and title."""
    paragraphs = _paragraphs()
    assert len(paragraphs) == 7
    assert paragraphs[0].startswith("Whether facial atrophy can be recovered")
    assert paragraphs[3].startswith("1, facial muscle atrophy caused by central")
    assert paragraphs[6].startswith("Daily patients should pay attention")


def test_every_citation_occurs_verbatim_in_its_paragraph(pack: triage.RulePack) -> None:
    """Each quote is found word for word in the paragraph it cites."""
    paragraphs = _paragraphs()
    citations = _citations(pack)
    assert len(citations) >= 20
    for owner, citation in citations:
        assert citation.quote in paragraphs[citation.paragraph - 1], (owner, citation)


def test_every_text_has_a_citation(pack: triage.RulePack) -> None:
    """Every urgency level, prognosis category and suggestion cites its source."""
    doc = pack.document
    for owner in [*doc.urgency.levels, *doc.prognosis.categories, *doc.suggestions]:
        assert owner.citations, owner.id


def test_the_article_slips_are_corrected_in_texts(pack: triage.RulePack) -> None:
    """Texts for people say what the machine translation means, not its slips."""
    doc = pack.document
    texts = " ".join(o.text for o in [*doc.urgency.levels, *doc.prognosis.categories, *doc.suggestions])
    texts += " ".join(opt.label + opt.description for q in doc.questions for opt in q.options)
    for slip in ["2030", "Eye-Smoke", "ophthalmopharyngeal", "Facial-Shoulder-Brachial", "warm work"]:
        assert slip.lower() not in texts.lower()
    assert "20 to 30 minutes" in texts


def test_parameters_say_where_their_number_comes_from(pack: triage.RulePack) -> None:
    """long_standing_months and recent_months are parameters with a stated basis."""
    params = pack.document.parameters
    assert params["long_standing_months"].value == 6
    assert params["recent_months"].value == 1
    assert "no number" in params["long_standing_months"].basis


@pytest.mark.parametrize("example", triage.load_rulepack().document.examples, ids=lambda e: e.name)
def test_pack_example(example: triage.core.pack.Example) -> None:
    """The pack's own example gives its expected urgency, prognosis and suggestions."""
    result = triage.evaluate(example.answers)
    assert result.urgency == example.expect.urgency
    assert result.prognosis.category == example.expect.prognosis
    assert tuple(s.id for s in result.suggestions) == example.expect.suggestions


def test_examples_cover_every_table_row(pack: triage.RulePack) -> None:
    """Between them, the examples make every urgency and prognosis rule and every suggestion fire."""
    fired = set()
    for example in pack.document.examples:
        fired.update(e.rule for e in triage.evaluate(example.answers).explanation)
    every = [
        r.id
        for r in (*pack.document.urgency.rules, *pack.document.prognosis.rules, *pack.document.suggestions)
    ]
    assert set(every) <= fired


def test_sha256_changes_with_the_content(tmp_path: Path, pack: triage.RulePack) -> None:
    """A pack whose content differs by one character has another sha256."""
    copy = tmp_path / "pack"
    copy.mkdir()
    text = (default_pack_path() / "pack.yaml").read_text(encoding="utf-8")
    (copy / "pack.yaml").write_text(text.replace('version: "2.0.0"', 'version: "2.0.1"'), encoding="utf-8")
    (copy / "source.txt").write_bytes(SOURCE.read_bytes())
    edited = triage.load_rulepack(copy)
    assert edited.info.sha256 != pack.info.sha256
    assert edited.info.version == "2.0.1"


def _broken(tmp_path: Path, old: str, new: str) -> triage.RulePackError:
    copy = tmp_path / "pack"
    copy.mkdir(exist_ok=True)
    text = (default_pack_path() / "pack.yaml").read_text(encoding="utf-8")
    assert old in text
    (copy / "pack.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    (copy / "source.txt").write_bytes(SOURCE.read_bytes())
    with pytest.raises(triage.RulePackError) as caught:
        triage.load_rulepack(copy)
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ("      then: routine", "      then: relaxed", "urgency.rules[U8].then", "'relaxed' is not defined"),
        (
            "quote: gradually worsen",
            "quote: gradually improve",
            "urgency.levels[soon].citations[1].quote",
            "does not occur verbatim",
        ),
        (
            "includes: stroke_signs}",
            "matches: stroke_signs}",
            "terms.emergency_flag",
            "exactly one operator",
        ),
        (
            "{term: hereditary}",
            "{term: inherited}",
            "prognosis.rules[P1].when",
            "term 'inherited' is not defined",
        ),
        ("format: 1\n", "format: 1\nformat: 2\n", "line 11", "duplicate key 'format'"),
        ("title: Facial atrophy triage", "title: !!python/object:os.system x", "line", "python/object"),
        (
            "      then: routine",
            "      then: routine\n      priority: 1",
            "urgency.rules[U8].priority",
            "unknown field",
        ),
        (
            "below: {param: recent_months}",
            "below: {param: recent_month}",
            "terms.recent",
            "'recent_month' is not defined",
        ),
    ],
)
def test_broken_pack_is_refused_with_its_location(
    tmp_path: Path, old: str, new: str, where: str, message: str
) -> None:
    """A broken pack is refused, and the problem names where it is and what is wrong."""
    error = _broken(tmp_path, old, new)
    assert any(where in str(p) and message in str(p) for p in error.problems), error.problems


def test_a_gap_in_the_prognosis_table_is_refused(tmp_path: Path) -> None:
    """Removing a prognosis rule leaves answers with no prognosis: the pack is refused."""
    error = _broken(
        tmp_path,
        "    - id: P9\n",
        "    - id: P9\n      # removed\n      when: {always: true}\n      then: uncertain\n      reason: x\n    - id: P10\n",
    )
    assert any("all match" in str(p) for p in error.problems)


def _patient_texts(pack: triage.RulePack) -> dict[str, str]:
    doc = pack.document
    texts = {"disclaimer": doc.disclaimer}
    for owner in (*doc.urgency.levels, *doc.prognosis.categories):
        texts[f"{owner.id}.label"] = owner.label
    for owner in (*doc.urgency.levels, *doc.prognosis.categories, *doc.suggestions):
        texts[f"{owner.id}.text"] = owner.text
    for level in doc.urgency.levels:
        texts[f"{level.id}.safety_net"] = level.safety_net or ""
    for rule in (*doc.urgency.rules, *doc.prognosis.rules, *doc.suggestions):
        texts[f"{rule.id}.reason"] = rule.reason
    return texts


def test_no_text_promises_more_than_the_source(pack: triage.RulePack) -> None:
    """Paragraph 1's "can be cured" is tempered by "depends on the patient's own factors": no text
    promises a cure or that treatment helps, and none says what the source does not (SPEC §4, texts v2)."""
    texts = _patient_texts(pack)
    for where, text in texts.items():
        lowered = " ".join(text.lower().split())
        for claim in ("can often be cured", "treatment can still help", "manage the symptoms", "pull your jaw"):
            assert claim not in lowered, (where, claim)
        for found in re.finditer(r"\bcur(e|ed|es)\b", lowered):
            assert lowered[: found.start()].endswith("no "), (where, text)  # only "no cure"
    assert pack.categories["recoverable"].label == "May recover well"
    assert "may recover well" in pack.categories["recoverable"].text


def test_external_citations_name_the_organisation_and_the_document(pack: triage.RulePack) -> None:
    """Every external citation names a document by its title in quotes; the four external rules and the
    external sentences of article-based texts carry one."""
    doc = pack.document
    owners = {o.id: o for o in (*doc.urgency.levels, *doc.prognosis.categories, *doc.suggestions)}
    external = {
        owner_id: [c.external for c in owner.citations if isinstance(c, triage.ExternalCitation)]
        for owner_id, owner in owners.items()
    }
    for owner_id, citations in external.items():
        for citation in citations:
            assert re.search(r'[A-Z][\w-]+[^"]*, "[^"]+"', citation), (owner_id, citation)
    for rule in ("emergency_call", "same_day_care", "eye_care", "gentle_start"):
        assert external[rule], rule
        assert not any(isinstance(c, ArticleCitation) for c in owners[rule].citations), rule
    assert any("GeneReviews" in c for c in external["hereditary_management"])
    assert any("GeneReviews" in c for c in external["doctor_evaluation"])
    assert any("FAST" in c for c in external["emergency"])
    for level in doc.urgency.levels[1:]:
        assert any("FAST" in c for c in external[level.id]), level.id  # the safety net's basis
