"""VoiceRun handler-side helpers; ``primfunctions.completions`` is the LLM client."""
