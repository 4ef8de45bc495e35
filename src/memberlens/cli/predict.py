"""``memberlens predict churn|response|next-product|anomalies``: the prediction models on the workspace."""

from __future__ import annotations

import typer

from memberlens.cli._common import MemberlensGroup
from memberlens.cli.predict_anomalies import anomalies_command
from memberlens.cli.predict_churn import churn_command
from memberlens.cli.predict_next_product import next_product_command
from memberlens.cli.predict_response import response_command

predict_app = typer.Typer(
    name="predict",
    cls=MemberlensGroup,
    help="Prediction models: churn, marketing response, next product, anomalies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
predict_app.command("churn")(churn_command)
predict_app.command("response")(response_command)
predict_app.command("next-product")(next_product_command)
predict_app.command("anomalies")(anomalies_command)
