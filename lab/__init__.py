"""The lab: `TradingEnv` on the backtest engine, PPO training, bundles, evaluation.

Importing `lab` registers the environment with gymnasium as `Velocitas/Trading-v0`
(`gymnasium.make("Velocitas/Trading-v0", bars=...)`); see docs/lab.md.
"""

import gymnasium

ENV_ID = "Velocitas/Trading-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="lab.env:TradingEnv")
