"""icmeta: in-context meta-learning circuits (Minegishi et al. 2025), reproducible and fast.

The package itself imports nothing: a workflow step that uses one module does not run, and so does
not depend on, the others (the workflow re-runs a step when a module it imports changes).

Layers, lowest first: the sub-packages (and the few top-level modules) in the order they may
import each other. A module imports only from lower layers and from its own package;
`tests/test_layers.py` holds the code to this table and to having no import cycles.

 1. errors, io, rng, layout, provenance -- the error type, atomic files, random streams, where each
    token of a sequence sits (masks, patterns), the workflow's code digests
 2. settings -- what a run and a grid are: settings declared once, the run configuration and its
    clamps, how training executes, the experiment blocks expanded into runs
 3. task -- the sequence generator and what it allows (1/T, the label-multiset bound)
 4. network -- the attention-only network, the circuit metrics of its maps, clamps switched in training
 5. training -- the step, the loop and its resumable state, evaluation, the recorded history
 6. analysis -- one run: its phases, its circuits by behaviour, its summary, its checkpoints' answers
 7. block -- a block's aggregated tables: runs pooled per cell, the runs page, the claims
 8. figures -- the figures, one module each
 9. probe -- the SST-2 probe of pretrained language models
10. steps, doctor -- what each workflow rule calls; the GPU self-check
11. job_hours -- how long each job ran, from the job logs (which carry the steps' attempt headers)
12. cli -- the command line
"""

__version__ = "0.1.0"
