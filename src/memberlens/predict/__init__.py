"""Prediction beside CLV (seed 002 §1.5, §2, §3.4–§3.6): churn, marketing response, next product,
anomalies. Each lives in its own module; import from the module (``memberlens.predict.churn``)."""
