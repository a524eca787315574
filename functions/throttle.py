"""The throttle rebalancer: a timer that plans each deferred backlog over the coming windows."""

from __future__ import annotations

import azure.functions as func

from shared.bootstrap import services

bp = func.Blueprint()


@bp.function_name("rebalance_throttle")
@bp.timer_trigger(arg_name="timer", schedule="%MAILROOM_REBALANCER_SCHEDULE%", run_on_startup=False)
async def rebalance_throttle(timer: func.TimerRequest) -> None:
    app = services()
    await app.throttling.rebalance(await app.configuration.parameters())
