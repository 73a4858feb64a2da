"""The in-context meta-learning task: the sequence generator and its fixed evaluation sets (`data`),
and what the generator allows a circuit to reach (`theory`: 1/T, the label-multiset bound)."""
