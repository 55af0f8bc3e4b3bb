"""Development and test tooling: the embedded mailbox (an idempotent SMTP receiver) and a whole
network of regions on one machine for the federation tests and benchmarks."""
