"""HL7 FHIR R4 for programs: `from triage.fhir import records_from_fhir, response_from_record`.

The answers in and out are `triage.interop.fhir`; the exported Questionnaire,
validated with the optional `fhir.resources`, is `triage.interop.fhir_questionnaire`.
"""

from triage.interop.fhir import (
    INSTALL_HINT,
    FhirExportError,
    FhirUnavailable,
    enable_when,
    is_fhir_resource,
    option_system,
    questionnaire_url,
    records_from_fhir,
    response_from_record,
    response_id,
)
from triage.interop.fhir_questionnaire import questionnaire, questionnaire_json

__all__ = [
    "INSTALL_HINT",
    "FhirExportError",
    "FhirUnavailable",
    "enable_when",
    "is_fhir_resource",
    "option_system",
    "questionnaire",
    "questionnaire_json",
    "questionnaire_url",
    "records_from_fhir",
    "response_from_record",
    "response_id",
]
