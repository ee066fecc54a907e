"""Other systems' formats: JSON Schema and HL7 FHIR. Imports triage.core."""
