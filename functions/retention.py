"""The retention purge: a daily timer. Its schedule is the app setting MAILROOM_PURGE_SCHEDULE
(six-field NCRONTAB, UTC; "0 30 2 * * *" in local.settings.example.json), so an operator moves
it without a deployment. Only one instance runs a timer at a time (the host holds a lease); a
run stopped half-way is finished by the next one."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.bootstrap import services

log = logging.getLogger(__name__)
bp = func.Blueprint()


@bp.function_name("purge_history")
@bp.timer_trigger(arg_name="timer", schedule="%MAILROOM_PURGE_SCHEDULE%", run_on_startup=False)
async def purge_history(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("the retention purge is running late (the app was stopped at its time)")
    await services().retention.purge()
