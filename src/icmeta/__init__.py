"""icmeta: in-context meta-learning circuits (Minegishi et al. 2025), reproducible and fast.

The package itself imports nothing: a workflow step that uses one module does not run, and so does
not depend on, the others.
"""

__version__ = "0.1.0"
