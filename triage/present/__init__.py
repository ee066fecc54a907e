"""Words for people: escaping, conditions in words, pack review, results, problems. Imports core and packs."""
