"""The agent: what a trained policy sees and does, and its actor run with numpy alone.

- `velocitas.agent.contract`: the observation (feature row + position), the action codes, the
  action -> target side mapping and VecNormalize's observation transform, shared by the lab's
  environment, the oracle and the policy strategy;
- `velocitas.agent.policy`: a bundle's actor rebuilt in numpy (`PolicyModel`, `read_policy`)
  and its decisions over a whole series of bars (`policy_signals`).

The strategy that back-tests a registered policy is `velocitas.strategies.policy`.
"""
