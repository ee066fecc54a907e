"""The HTTP API with the framework's test client: it gives what the library and `triage evaluate` give."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

pytest.importorskip("starlette", reason="needs the web extra")

from samples import FSHD, OTHER, PARALYSIS
from starlette.testclient import TestClient

import triage
from triage.apps.web.app import API_BODY_BYTES, create_app
from triage.core.answerspace import answer_space
from triage.core.errors import answers_record
from triage.fhir import questionnaire, response_from_record
from triage.interop.schema import answers_schema, result_schema

PROBLEM = "application/problem+json"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def client(pack: triage.RulePack) -> TestClient:
    return TestClient(create_app(pack))


def library(record: object, pack: triage.RulePack, source: str = "body") -> dict[str, Any]:
    """What the library gives for a record, as JSON, with the API's source."""
    result = triage.evaluate(record, rulepack=pack)  # type: ignore[arg-type]
    return result.model_copy(update={"source": source}).model_dump(mode="json")


def test_every_answer_set_evaluates_as_the_library_does(client: TestClient, pack: triage.RulePack) -> None:
    """The whole answer space in one list: one entry per record, in order, each the library's result."""
    records = [answers_record(values) for values in answer_space(pack)]
    response = client.post("/api/v1/evaluate", json=records)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [library(r, pack, f"body#{i}") for i, r in enumerate(records)]


@pytest.mark.parametrize("example", triage.load_rulepack().document.examples, ids=lambda e: e.name)
def test_the_packs_examples_one_record_each(client: TestClient, pack: triage.RulePack, example: Any) -> None:
    """Each example of the spec's tables, sent alone, gives the library's result and its expectations."""
    record = {"id": example.name, **answers_record(example.answers)}
    response = client.post("/api/v1/evaluate", json=record)
    assert response.status_code == 200
    body = response.json()
    assert body == library(record, pack)
    assert body["urgency"] == example.expect.urgency
    assert body["prognosis"]["category"] == example.expect.prognosis
    assert [s["id"] for s in body["suggestions"]] == list(example.expect.suggestions)


def test_the_api_equals_triage_evaluate(client: TestClient, pack: triage.RulePack, tmp_path: Path) -> None:
    """A mixed file — valid, invalid, not a record, a bad id with an alarm, a repeated key — gives the
    very entries `triage evaluate --format json` gives, in order, sources named after the body."""
    text = (
        '[{"id": "a", "red_flags": "none", "cause": "fshd", "severity": "mild"},'
        ' {"id": "b", "red_flags": "none", "cause": "fshd"},'
        " 7,"
        ' {"id": 1.5, "red_flags": ["stroke_signs"]},'
        ' {"id": "d", "red_flags": "none", "red_flags": ["sudden_onset"]},'
        ' {"id": "e", "red_flags": [], "cause": "other", "severity": "mild", "worsening": "no",'
        ' "related_findings": [], "treated_early": "yes", "colour": "red"}]'
    )
    answers = tmp_path / "mix.json"
    answers.write_text(text, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", str(answers), "--format", "json"],
        capture_output=True,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    cli = json.loads(run.stdout.decode().replace(str(answers), "body"))
    response = client.post("/api/v1/evaluate", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json() == cli
    assert len(cli) == 6


def test_one_invalid_record_is_a_problem_carrying_its_error_entry(client: TestClient) -> None:
    """One record in, one out: invalid, it is a 422 problem whose id, source and errors are the entry's."""
    response = client.post("/api/v1/evaluate", json={"id": "r9", "red_flags": "none", "cause": "fshd"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:triage:problem:invalid-answers"
    assert body["status"] == 422
    assert body["id"] == "r9"
    assert body["source"] == "body"
    assert body["errors"] == [
        {
            "field": "severity",
            "message": "this question was asked, so it needs an answer. Allowed: mild, moderate, severe.",
        }
    ]


def test_a_list_of_one_is_a_list(client: TestClient, pack: triage.RulePack) -> None:
    """A list gives a list, even of one, even when that record is invalid (200, the error in place)."""
    response = client.post("/api/v1/evaluate", json=[{"red_flags": "none"}])
    assert response.status_code == 200
    [entry] = response.json()
    assert entry["source"] == "body#0"
    assert {e["field"] for e in entry["errors"]} == {"cause", "severity"}


def test_fhir_responses_and_bundles(client: TestClient, pack: triage.RulePack) -> None:
    """A QuestionnaireResponse gives its record's result; a Bundle one entry per response, in order."""
    responses = [
        response_from_record({"id": f"r{i}", **r}, pack) for i, r in enumerate((FSHD, PARALYSIS, OTHER))
    ]
    single = client.post(
        "/api/v1/evaluate", json=responses[0], headers={"content-type": "application/fhir+json"}
    )
    assert single.status_code == 200
    assert single.json() == library({"id": "r0", **FSHD}, pack)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in responses]}
    many = client.post("/api/v1/evaluate", json=bundle)
    assert many.status_code == 200
    assert many.json() == [
        library({"id": f"r{i}", **r}, pack, f"body#entry[{i}]")
        for i, r in enumerate((FSHD, PARALYSIS, OTHER))
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        (b"{nope", "application/json", 400, "body: line 1, column 2: not valid JSON"),
        (b"", "application/json", 400, "body"),
        (b"[]", "application/json", 400, "an empty list"),
        (b"\xff\xfe{}", "application/json", 400, "UTF-8"),
        (b'{"red_flags": "none"}', "text/plain", 415, "Content-Type application/json"),
        (b'{"red_flags": "none"}', "", 415, "Content-Type application/json"),
    ],
    ids=["malformed", "empty", "empty-list", "utf-16", "text", "no-type"],
)
def test_bodies_without_records_are_problems(
    client: TestClient, body: bytes, content_type: str, status: int, detail: str
) -> None:
    """A body that holds no records is an RFC 9457 problem saying why; never a traceback."""
    response = client.post("/api/v1/evaluate", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert detail in problem["detail"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"red_flags": ["stroke_signs"], "cause": "fshd",}',  # a trailing comma
        b'{"red_flags": ["stroke_signs"], "cause": "fshd"',  # cut short
        '{"red_flags": ["stroke_signs"]}'.encode("utf-16"),
        b'{"red_flags": ["stroke_signs"], "cause": "caf\xe9"}',  # Latin-1
    ],
    ids=["trailing-comma", "truncated", "utf-16", "latin-1"],
)
def test_a_body_that_cannot_be_read_still_says_the_red_flags_it_names(
    client: TestClient, pack: triage.RulePack, body: bytes
) -> None:
    """A body refused for its text is a 400 problem whose `errors` say why and, as `triage evaluate` says,
    what the red flag it names would call for: a stated stroke is never hidden behind a syntax error."""
    response = client.post("/api/v1/evaluate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    problem = response.json()
    first, note = problem["errors"]
    assert first["message"] == problem["detail"]
    assert note["field"] == "(urgency)"
    assert "stroke_signs" in note["message"]
    assert pack.levels["emergency"].label in note["message"]
    no_flag = client.post("/api/v1/evaluate", content=b"{nope", headers={"content-type": "application/json"})
    assert [p["field"] for p in no_flag.json()["errors"]] == ["(file)"]


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    """The limit holds whether the body says its length or not."""
    big = b"[" + b" " * API_BODY_BYTES + b"]"
    said = client.post("/api/v1/evaluate", content=big, headers={"content-type": "application/json"})
    assert said.status_code == 413
    assert said.headers["content-type"] == PROBLEM

    def chunks() -> Any:
        yield b"["
        for _ in range(API_BODY_BYTES // 65536 + 1):
            yield b" " * 65536
        yield b"]"

    streamed = client.post("/api/v1/evaluate", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_wrong_methods_and_paths_are_problems(client: TestClient) -> None:
    """405 says what is allowed; an unknown API path is a 404 problem."""
    response = client.get("/api/v1/evaluate")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == PROBLEM
    missing = client.get("/api/v2/evaluate")
    assert missing.status_code == 404
    assert missing.json()["title"] == "Not Found"


def test_the_questionnaire_schemas_and_health(client: TestClient, pack: triage.RulePack) -> None:
    """The questionnaire as the pack writes it, the FHIR Questionnaire, the schemas, and health."""
    body = client.get("/api/v1/questionnaire").json()
    assert [q["id"] for q in body["questions"]] == list(pack.questions)
    assert body["questions"][1]["asked_when"] == {"term": "no_red_flag"}
    assert body["disclaimer"] == pack.document.disclaimer
    fhir = client.get("/api/v1/questionnaire.fhir")
    assert fhir.headers["content-type"] == "application/fhir+json"
    assert fhir.json() == questionnaire(pack)
    answers = client.get("/api/v1/schema/answers")
    assert answers.headers["content-type"] == "application/schema+json"
    assert answers.json() == answers_schema(pack)
    assert client.get("/api/v1/schema/result").json() == result_schema(pack)
    health = client.get("/healthz").json()
    assert health == {"status": "ok", "rulepack": pack.info.model_dump(mode="json")}


def test_the_openapi_document_is_valid_and_its_schemas_are_the_packs(
    client: TestClient, pack: triage.RulePack
) -> None:
    """OpenAPI 3.1, valid; its components are the pack's schemas, and real answers fit them."""
    from openapi_spec_validator import validate

    document = client.get("/openapi.json").json()
    validate(document)

    def component(name: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        )

    answers = component("Answers")
    records = [answers_record(v) for v in answer_space(pack)]
    wrong = [{"red_flags": "none"}, {"red_flags": "nope"}, {**FSHD, "severity": "huge"}, {**FSHD, "x": 1}, []]
    for record in [*records, *wrong]:
        assert answers.is_valid(record) == jsonschema.Draft202012Validator(answers_schema(pack)).is_valid(
            record
        )
    assert sum(answers.is_valid(r) for r in wrong) == 0
    entries = client.post("/api/v1/evaluate", json=[FSHD, {"red_flags": "none"}]).json()
    for entry in entries:
        component("Entry").validate(entry)
    component("Questionnaire").validate(client.get("/api/v1/questionnaire").json())
    problem = client.post("/api/v1/evaluate", json={"red_flags": "none"}).json()
    component("Problem").validate(problem)
    component("Entry").validate(problem)  # the problem is also an error entry
    assert not component("Entry").is_valid({"urgency": "whenever"})
    assert client.get("/docs").status_code == 404  # no docs page loading a UI from elsewhere


def test_another_pack_is_served_as_it_is(tmp_path: Path) -> None:
    """A small pack of other questions: its questionnaire and results, from its own rules."""
    other = triage.load_rulepack(DATA / "packs" / "valid")
    client = TestClient(create_app(other))
    assert [q["id"] for q in client.get("/api/v1/questionnaire").json()["questions"]] == list(other.questions)
    records = [answers_record(values) for values in answer_space(other)]
    entries = client.post("/api/v1/evaluate", json=records).json()
    assert entries == [library(r, other, f"body#{i}") for i, r in enumerate(records)]
