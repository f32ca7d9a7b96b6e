"""Privacy: what the hub keeps, for how long, and what each reader may see of it."""
