"""icmeta: in-context meta-learning circuits (Minegishi et al. 2025), reproducible and fast.

The package itself imports nothing: a workflow step that uses one module does not run, and so does
not depend on, the others (the workflow re-runs a step when a module it imports changes).

Layers, lowest first. A module imports only from lower layers, and inside a subpackage also from its
own package; `tests/test_layers.py` holds the code to this table and to having no import cycles.

 1. errors, io, rng, layout, provenance, run_rows, behaviour -- no icmeta imports: the error type,
    atomic files, random streams, where each token sits (masks, patterns), the workflow's code digests,
    one run's rows in any aggregated table, circuits named by what the answers depend on
 2. spec, interventions, device, circuits, cells -- settings declared once (default, range,
    meaning), clamp specifications, the training device, circuit metrics, a grid block's runs pooled
    per cell
 3. config, execution -- one validated run configuration (its clamps are interventions); how
    training executes
 4. data, experiments -- the task generator; config.yaml's grids expanded into runs
 5. model, theory -- the network; plateau predictions from the generator
 6. schedule, phases, evaluation, history -- clamps switched during training, phase detection,
    evaluation on the fixed sets, a run's recorded history and outputs
 7. train -- the step, the CUDA graph, the loop and its resumable state
 8. analysis, answers, bench, progress, report, claims, detector_sweep -- a finished run's phases
    and summary; what its checkpoints answer; the speed benchmark; what runs still training have
    reached; a block's runs and phases as Markdown; the paper's claims measured on published tables;
    a block's phases re-detected under neighbouring detector settings
 9. figures -- the figures, one module each
10. probe -- the SST-2 probe of pretrained language models
11. steps, doctor -- what each workflow rule calls; the GPU self-check
12. job_hours -- how long each job ran, from the job logs (which carry the steps' attempt headers)
13. cli -- the command line
"""

__version__ = "0.1.0"
