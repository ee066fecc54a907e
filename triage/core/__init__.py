"""Pure: condition vocabulary, models, errors, pack model, answers, engine, flow. May import pydantic only."""
