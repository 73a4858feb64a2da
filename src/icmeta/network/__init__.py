"""The attention-only network (`model`), the circuit metrics of its attention maps (`circuits`), and
the clamps switched on and off while it trains (`schedule`)."""
