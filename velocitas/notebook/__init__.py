"""The notebook API: `Backtest(df, strategy, **options)` on a pandas DataFrame.

- `backtest`: `Backtest` (`run`, `trades`, `equity`, `plot`, `optimize`) and `Optimization`;
- `frames`: DataFrame rows to `BarArrays`, and trades, equity and statistics back to pandas.

The top layer of `velocitas`: it runs the engine, the research sweep and the report's chart.
Needs pandas (and plotly for `plot`): `pip install 'velocitas[notebook]'`. See docs/notebook.md.
"""

from velocitas.notebook.backtest import Backtest, Optimization

__all__ = ["Backtest", "Optimization"]
