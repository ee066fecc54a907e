"""Pure: vocabulary, models, errors, pack model, answers, engine, flow. Imports pydantic and stdlib only."""
