"""The OpenAPI 3.1 description of the API, built around the pack's own JSON Schemas.

OpenAPI 3.1 speaks JSON Schema 2020-12, so `triage schema answers` and
`triage schema result` go in whole: what a client validates against is exactly
what `triage` checks. Each schema's `$defs` become components of their own
(`Answers.term.paralysis`, `Entry.Result`, …) and its references point at them,
since OpenAPI tools resolve `#/…` against the whole document.
"""

from __future__ import annotations

from typing import Any

import triage
from triage.apps.web.problems import PROBLEM_SCHEMA, PROBLEM_TYPE
from triage.core.pack import Question, RulePack

FHIR_RESOURCE: dict[str, Any] = {
    "type": "object",
    "description": (
        "A FHIR R4 QuestionnaireResponse to /api/v1/questionnaire.fhir, or a Bundle of them "
        "(one entry each). See the README's FHIR section for how answers are coded."
    ),
    "properties": {"resourceType": {"enum": ["QuestionnaireResponse", "Bundle"]}},
    "required": ["resourceType"],
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problems(*statuses: int) -> dict[str, Any]:
    words = {
        400: "The body holds no answer records (not JSON, not UTF-8, an empty list); `errors` says why, "
        "with an `(urgency)` note when its text names a red flag.",
        413: "The body is larger than the limit.",
        415: "The body is not JSON.",
        422: "The one answer record sent is not valid; `errors` lists every problem.",
        501: "This server cannot give the FHIR Questionnaire (the FHIR extra is not installed).",
    }
    return {
        str(status): {"description": words[status], "content": {PROBLEM_TYPE: {"schema": _ref("Problem")}}}
        for status in statuses
    }


def _json(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {"content": {media_type: {"schema": schema}}}


def questionnaire_schema() -> dict[str, Any]:
    """The JSON Schema of GET /api/v1/questionnaire's answer."""
    question = Question.model_json_schema(by_alias=True, mode="serialization", ref_template="#/$defs/{model}")
    defs = question.pop("$defs", {})
    question["properties"]["asked"] = {
        "type": "string",
        "description": "When the question is asked, in words.",
    }
    defs["Question"] = question
    return {
        "type": "object",
        "properties": {
            "rulepack": {"type": "object"},
            "title": {"type": "string"},
            "disclaimer": {"type": "string"},
            "questions": {"type": "array", "items": {"$ref": "#/$defs/Question"}},
        },
        "required": ["rulepack", "title", "disclaimer", "questions"],
        "$defs": defs,
    }


def hoisted(name: str, schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A schema and its `$defs` as components: `name`, and `name.<def>` for each definition."""
    prefix = f"#/components/schemas/{name}."

    def moved(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: (prefix + value[len("#/$defs/") :])
                if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/")
                else moved(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [moved(item) for item in node]
        return node

    top = {k: v for k, v in schema.items() if k not in ("$defs", "$id", "$schema")}
    components = {name: moved(top)}
    for key, definition in schema.get("$defs", {}).items():
        components[f"{name}.{key}"] = moved(definition)
    return components


def openapi(pack: RulePack, schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI document for a pack; `schemas` holds its answers and result schemas."""
    entry_or_list = {"oneOf": [_ref("Entry"), {"type": "array", "items": _ref("Entry")}]}
    records = {"oneOf": [_ref("Answers"), {"type": "array", "items": _ref("Answers")}, _ref("FhirResource")]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{pack.document.title} API",
            "version": triage.__version__,
            "summary": f"Evaluate answers with the rule pack {pack.info.name} {pack.info.version}.",
            "description": pack.document.disclaimer,
        },
        "paths": {
            "/api/v1/evaluate": {
                "post": {
                    "summary": "Evaluate answer records",
                    "description": (
                        "One record (or one QuestionnaireResponse) gives its result, or a 422 problem "
                        "listing its errors. A list (or a Bundle) gives a list with one entry per record, "
                        "in order: the result, or the record's errors in its place. Each entry's "
                        "source says where its record was: body, body#2, body#entry[1]."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": records},
                            "application/fhir+json": {"schema": records},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The result, or one entry per record.",
                            **_json(entry_or_list),
                        },
                        **_problems(400, 413, 415, 422),
                    },
                }
            },
            "/api/v1/questionnaire": {
                "get": {
                    "summary": "The questions, as the rule pack writes them",
                    "responses": {
                        "200": {"description": "The questionnaire.", **_json(_ref("Questionnaire"))}
                    },
                }
            },
            "/api/v1/questionnaire.fhir": {
                "get": {
                    "summary": "The questionnaire as a FHIR R4 Questionnaire",
                    "responses": {
                        "200": {
                            "description": "The Questionnaire.",
                            **_json({"type": "object"}, "application/fhir+json"),
                        },
                        **_problems(501),
                    },
                }
            },
            "/api/v1/schema/answers": {
                "get": {
                    "summary": "The JSON Schema of an answer record",
                    "responses": {
                        "200": {
                            "description": "The schema.",
                            **_json({"type": "object"}, "application/schema+json"),
                        }
                    },
                }
            },
            "/api/v1/schema/result": {
                "get": {
                    "summary": "The JSON Schema of a result entry",
                    "responses": {
                        "200": {
                            "description": "The schema.",
                            **_json({"type": "object"}, "application/schema+json"),
                        }
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Whether the service is up, and its rule pack",
                    "responses": {"200": {"description": "Up.", **_json(_ref("Health"))}},
                }
            },
        },
        "components": {
            "schemas": {
                **hoisted("Answers", schemas["answers"]),
                **hoisted("Entry", schemas["result"]),
                "FhirResource": FHIR_RESOURCE,
                **hoisted("Questionnaire", questionnaire_schema()),
                "Health": {
                    "type": "object",
                    "properties": {"status": {"const": "ok"}, "rulepack": {"type": "object"}},
                    "required": ["status", "rulepack"],
                },
                "Problem": PROBLEM_SCHEMA,
            }
        },
    }
