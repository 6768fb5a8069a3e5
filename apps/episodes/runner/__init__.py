"""The runner: one loop for the worker and the tests, gates and recorders for running without Warden."""
