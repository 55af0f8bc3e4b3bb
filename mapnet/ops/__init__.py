"""Operators' tooling: the `mapnet` command, the supervisor behind `mapnet up`, the embedded
servers it starts, `mapnet status` and the contract export."""
