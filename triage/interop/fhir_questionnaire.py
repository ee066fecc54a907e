"""The pack's questionnaire as an HL7 FHIR R4 Questionnaire, validated with `fhir.resources`.

`fhir.resources` is optional (`pip install 'triage[fhir]'`) and slow to import:
it is imported here, at the top, and this module only where a Questionnaire is
exported (`triage export fhir`, the web API, `triage.fhir`). Without it,
`questionnaire` raises `FhirUnavailable`, which says how to install it. The
Questionnaire itself is `triage.interop.fhir.questionnaire_document`.
"""

from __future__ import annotations

import json
from typing import Any

from triage.core.pack import RulePack
from triage.interop.fhir import FhirUnavailable, questionnaire_document

try:
    from fhir.resources.R4B.questionnaire import Questionnaire
except ImportError:  # the fhir extra is not installed: `questionnaire` says how to install it
    INSTALLED = False
else:
    INSTALLED = True


def questionnaire(pack: RulePack) -> dict[str, Any]:
    """The pack's questionnaire as an R4 Questionnaire, validated with `fhir.resources` R4B.

    Raises `FhirUnavailable` without the `fhir` extra, and `FhirExportError` for
    an asked_when condition that enableWhen cannot express.
    """
    document = questionnaire_document(pack)
    if not INSTALLED:
        raise FhirUnavailable("Exporting a FHIR Questionnaire")
    model = Questionnaire.model_validate(document)
    result: dict[str, Any] = json.loads(model.model_dump_json())
    return result


def questionnaire_json(pack: RulePack) -> str:
    """`questionnaire(pack)` as indented JSON text, ending with a newline."""
    return json.dumps(questionnaire(pack), indent=2, ensure_ascii=False) + "\n"
