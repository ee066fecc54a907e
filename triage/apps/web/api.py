"""The HTTP API, version 1: evaluate answers, and describe the questionnaire, in JSON.

`POST /api/v1/evaluate` takes what an answer file holds — one record, a list
of records, a FHIR QuestionnaireResponse or a Bundle of them — and reads it
with the same reader as `triage evaluate` (`triage.io.readers.read_json`): every
record gets exactly one entry, in order, the result or the record's errors in
its place, as `triage.evaluate_many` gives them. Each entry's `source` names
where the record was in the body: `body`, `body#2` (a list's item),
`body#entry[1]` (a Bundle's entry).

One record in gives one entry out: its result (200), or, when it is invalid, a
problem (422) whose `id`, `source` and `errors` are those of the error entry.
A list or a Bundle gives a list (200), whatever its records hold. A body that
holds no records at all is a problem (400), whose `errors` say why and, when
its text names a red flag, what that would call for (an `(urgency)` note, as
`triage evaluate` gives).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import triage
from triage.apps.web.openapi import openapi
from triage.apps.web.problems import INVALID_ANSWERS, UNREADABLE_BODY, problem
from triage.core.models import Problem, RecordError, Result
from triage.core.pack import RulePack
from triage.interop.fhir import FhirExportError, FhirUnavailable
from triage.interop.fhir_questionnaire import questionnaire
from triage.interop.schema import answers_schema, result_schema
from triage.io.readers import Rejected, Unreadable, read_json
from triage.present.words import asked_when_words

SOURCE = "body"
"""The name the entries' sources give the request body."""
JSON_TYPES = ("application/json", "application/fhir+json")
SCHEMA_TYPE = "application/schema+json"
FHIR_TYPE = "application/fhir+json"
API_CACHE = "no-store"

Entry = Result | RecordError


def evaluate_body(body: bytes, pack: RulePack) -> list[tuple[str, Entry]] | Unreadable:
    """Every record of a JSON body with its entry, in order; or why the body holds no records."""
    items = list(read_json(body, SOURCE, pack))
    for _, record in items:
        if isinstance(record, Unreadable) and record.whole_file:
            return record
    records = [record for _, record in items if not isinstance(record, (Unreadable, Rejected))]
    results = iter(triage.evaluate_many(records, rulepack=pack))
    out: list[tuple[str, Entry]] = []
    for source, record in items:
        entry: Entry
        if isinstance(record, Unreadable):
            entry = RecordError(id=None, errors=_unreadable_errors(record))
        elif isinstance(record, Rejected):
            entry = RecordError(id=record.record_id, errors=record.problems)
        else:
            entry = next(results)
        out.append((source, entry.model_copy(update={"source": source})))
    return out


def _unreadable_errors(unreadable: Unreadable) -> tuple[Problem, ...]:
    """What could not be read, then the `(urgency)` note of the red flags its text names, if any."""
    return (Problem(field=unreadable.field, message=unreadable.message), *unreadable.notes)


def json_response(data: object, *, media_type: str = "application/json", status: int = 200) -> Response:
    """JSON, never cached (results are about a person's health)."""
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    return Response(body, status_code=status, media_type=media_type, headers={"Cache-Control": API_CACHE})


def questionnaire_json(pack: RulePack) -> dict[str, Any]:
    """The pack's questions as the pack writes them, each with when it is asked in words."""
    return {
        "rulepack": pack.info.model_dump(mode="json"),
        "title": pack.document.title,
        "disclaimer": pack.document.disclaimer,
        "questions": [
            {
                **question.model_dump(mode="json", by_alias=True, exclude_none=True),
                "asked": asked_when_words(question, pack),
            }
            for question in pack.document.questions
        ],
    }


class Api:
    """The API endpoints for one rule pack; the documents that never change are made once."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self.schemas = {"answers": answers_schema(pack), "result": result_schema(pack)}
        self.questionnaire = orjson.dumps(questionnaire_json(pack))
        self.openapi = orjson.dumps(openapi(pack, self.schemas))
        self.health = orjson.dumps({"status": "ok", "rulepack": pack.info.model_dump(mode="json")})
        self._fhir: bytes | None = None

    def routes(self) -> list[Route]:
        """The routes of the API."""
        return [
            Route("/api/v1/evaluate", self.evaluate, methods=["POST"]),
            Route("/api/v1/questionnaire", self.get_questionnaire, methods=["GET"]),
            Route("/api/v1/questionnaire.fhir", self.get_questionnaire_fhir, methods=["GET"]),
            Route("/api/v1/schema/answers", self.get_schema, methods=["GET"]),
            Route("/api/v1/schema/result", self.get_schema, methods=["GET"]),
            Route("/healthz", self.get_health, methods=["GET"]),
            Route("/openapi.json", self.get_openapi, methods=["GET"]),
        ]

    async def evaluate(self, request: Request) -> Response:
        """POST /api/v1/evaluate: one entry per record, in order (see the module's docstring)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in JSON_TYPES:
            return problem(415, f"Send the answers as JSON: Content-Type {' or '.join(JSON_TYPES)}.")
        evaluated = evaluate_body(await request.body(), self.pack)
        if isinstance(evaluated, Unreadable):
            return problem(
                400,
                evaluated.message,
                type_=UNREADABLE_BODY,
                title="The body holds no answer records",
                errors=[p.model_dump(mode="json") for p in _unreadable_errors(evaluated)],
            )
        if len(evaluated) == 1 and evaluated[0][0] == SOURCE:
            entry = evaluated[0][1]
            if isinstance(entry, RecordError):
                count = len(entry.errors)
                problems = f"{count} problem{'s' if count != 1 else ''}"
                return problem(
                    422,
                    f"The answer record is not valid: {problems}, listed in errors.",
                    type_=INVALID_ANSWERS,
                    title="The answers are not valid",
                    **entry.model_dump(mode="json"),
                )
            return json_response(entry.model_dump_json().encode())
        return json_response(b"[" + b",".join(e.model_dump_json().encode() for _, e in evaluated) + b"]")

    async def get_questionnaire(self, request: Request) -> Response:
        """GET /api/v1/questionnaire: the questions, options and when each is asked."""
        return json_response(self.questionnaire)

    async def get_questionnaire_fhir(self, request: Request) -> Response:
        """GET /api/v1/questionnaire.fhir: the questionnaire as a FHIR R4 Questionnaire."""
        if self._fhir is None:
            try:
                self._fhir = orjson.dumps(questionnaire(self.pack))
            except FhirUnavailable as exc:
                return problem(501, str(exc))
            except FhirExportError as exc:
                return problem(501, str(exc))
        return json_response(self._fhir, media_type=FHIR_TYPE)

    async def get_schema(self, request: Request) -> Response:
        """GET /api/v1/schema/answers and /result: the pack's JSON Schemas."""
        kind = request.url.path.rsplit("/", 1)[1]
        return json_response(self.schemas[kind], media_type=SCHEMA_TYPE)

    async def get_health(self, request: Request) -> Response:
        """GET /healthz: the service is up, and which pack it serves."""
        return json_response(self.health)

    async def get_openapi(self, request: Request) -> Response:
        """GET /openapi.json: the OpenAPI 3.1 description, with the pack's own schemas."""
        return json_response(self.openapi)
