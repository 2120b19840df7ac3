"""The benchmark rows: one module per row, each with run(h) taking a harness.Harness."""
