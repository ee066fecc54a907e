"""Rule packs on disk: safe YAML, limits, lines, verification, loading. Imports triage.core and triage.fs."""
