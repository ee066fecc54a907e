"""HL7 FHIR R4 as the library documents it: `from triage.fhir import records_from_fhir, response_from_record`.

The code is in `triage.interop.fhir`; this module keeps its public names where programs import them.
"""

from triage.interop.fhir import (
    INSTALL_HINT,
    FhirExportError,
    FhirUnavailable,
    enable_when,
    is_fhir_resource,
    option_system,
    questionnaire,
    questionnaire_json,
    questionnaire_url,
    records_from_fhir,
    response_from_record,
    response_id,
)

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
