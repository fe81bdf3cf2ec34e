"""The pure core: (state, signals, live facts, now) -> decisions. No I/O, no clock reads."""
