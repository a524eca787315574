"""Mailroom's Functions app: a table of contents, one blueprint per concern. No I/O here."""

import azure.functions as func

from functions import dispatch, emails, history, openapi, parameters, retention, throttle, users

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

app.register_functions(parameters.bp)
app.register_functions(users.bp)
app.register_functions(emails.bp)
app.register_functions(history.bp)
app.register_functions(dispatch.bp)
app.register_functions(openapi.bp)
app.register_functions(throttle.bp)
app.register_functions(retention.bp)
