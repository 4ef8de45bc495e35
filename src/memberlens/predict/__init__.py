"""Prediction beside CLV (member operations): churn, marketing response, next product,
anomalies. Each lives in its own module; import from the module (``memberlens.predict.churn``).
Every model keeps one fit/score/save/load contract (:mod:`memberlens.predict._base`)."""
