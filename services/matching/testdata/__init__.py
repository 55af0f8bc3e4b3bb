"""Made-up data for the matching service's tests and benchmarks: a labelled relevance set for
partner search and generated brokerage events for the scheduler. Not part of the domain."""
