"""Guide service: the Market Access Guide (articles per market and topic) and the finance link."""
