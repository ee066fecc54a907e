"""Files in and out: one registry of formats, inputs, decoders, encoders. Imports triage.interop and below."""
