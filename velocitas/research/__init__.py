"""Research: the one home of parameter sweeps and walk-forward analysis, above the engine.

- `grid`: ranges as text, a strategy's bounds, the full grid or a seeded random draw of it;
- `objectives`: the `Objective` (metric, direction, constraints) and the one ranking order;
- `runs`: measuring every combination (the numba fast path or a backtest each);
- `sweeps`: the `SweepSpec` of sweep jobs, `expand`, `rank`, and `run_sweep` on one machine;
- `heatmap`: the objective over two parameters, and as an HTML file;
- `walk_forward`: folds, each fold's in-sample optimisation, the stitched out-of-sample account;
- `walk_forward_spec`: the `WalkForwardSpec` of walk-forward jobs and the steps a worker runs;
- `overfitting`: the deflated Sharpe ratio and the probability of backtest overfitting (CSCV);
- `tournament_spec`, `tournament`: strategies x symbols walked forward, ranked out of sample;
- `recommendations`, `regime_evidence`: a tournament's advice and its evidence by regime.

Research imports the engine, never storage: the workers load bars and record results.
"""
