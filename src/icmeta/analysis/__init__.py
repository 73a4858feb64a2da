"""Analysis of one run: its phases (`phases`), its circuits named by what its answers depend on
(`behaviour`), its summary row (`run`), what its checkpoints answer (`answers`), and where runs
still training are (`progress`)."""
