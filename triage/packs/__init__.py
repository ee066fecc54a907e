"""Rule packs on disk: YAML read safely within limits, lines, verification, loading. May import core, fs."""
