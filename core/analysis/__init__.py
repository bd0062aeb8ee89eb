"""Numbers from results: metrics, verdicts and their statistics, 2-D projections."""
