"""Stress testing: budgeted counterexample search over bounded perturbations of tool outputs.

Pure (no Django): the runner loop, the pure policy gate and the contracts engine. See search.py.
"""
