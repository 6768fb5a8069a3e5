"""Pure agents (no Django): scripted baselines, learners, the LLM client agent."""
