"""Words for people: escaping, conditions in words, pack review, results, problems. May import packs, core."""
