"""Guardrails: limits and checks on what signed-in callers, machines and agents may do."""
