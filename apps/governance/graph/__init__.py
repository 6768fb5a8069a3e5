"""The governance graph engine: manifest compiler + validator, predicates, interpreter, diagram.

Pure Python (PyYAML only); no Django import, so it can be tested and benchmarked alone.
"""

from apps.governance.graph.manifest import Graph, compile_graph
from apps.governance.graph.yamlsource import GraphError, Problem

__all__ = ["Graph", "GraphError", "Problem", "compile_graph"]
