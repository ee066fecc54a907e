"""Other systems' formats: JSON Schema and HL7 FHIR. May import packs and below."""
