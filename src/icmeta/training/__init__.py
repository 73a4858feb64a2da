"""Training: the step, the CUDA graph, the loop and its resumable state (`train`), evaluation on the
fixed sets (`evaluation`), a run's recorded history and outputs (`history`), the device (`device`)
and the speed benchmark (`bench`)."""
