"""Trading sessions: a replayed (later, live) market traded through an OMS and a paper broker,
with the backtest's own engine deciding at each bar's close (docs/sessions.md)."""
