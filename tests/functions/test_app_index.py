"""The app indexes as the Functions host will see it."""

from tests.support.app_index import indexed_functions

EXPECTED = {
    "get_email_parameters": ("httpTrigger", "email/parameters", ["GET"]),
    "patch_email_parameters": ("httpTrigger", "email/parameters", ["PATCH"]),
    "put_smtp_password": ("httpTrigger", "email/parameters/smtp-password", ["PUT"]),
    "delete_smtp_password": ("httpTrigger", "email/parameters/smtp-password", ["DELETE"]),
    "send_test_email": ("httpTrigger", "email/test", ["POST"]),
    "get_user": ("httpTrigger", "users/{userId}", ["GET"]),
    "put_user": ("httpTrigger", "users/{userId}", ["PUT"]),
    "delete_user": ("httpTrigger", "users/{userId}", ["DELETE"]),
    "get_user_options": ("httpTrigger", "users/{userId}/options", ["GET"]),
    "patch_user_options": ("httpTrigger", "users/{userId}/options", ["PATCH"]),
    "send_email": ("httpTrigger", "emails", ["POST"]),
    "get_email": ("httpTrigger", "emails/{id}", ["GET"]),
    "list_emails": ("httpTrigger", "emails", ["GET"]),
    "get_batch_status": ("httpTrigger", "emails/status", ["GET"]),
    "resend_email": ("httpTrigger", "emails/{id}/resend", ["POST"]),
    "resend_emails": ("httpTrigger", "emails/resend", ["POST"]),
    "get_openapi": ("httpTrigger", "openapi.json", ["GET"]),
    "dispatch_interactive": ("queueTrigger", "email-interactive", None),
    "dispatch_batch": ("queueTrigger", "email-batch", None),
    "dispatch_batch_high": ("queueTrigger", "email-batch-high", None),
    "fail_poisoned_interactive": ("queueTrigger", "email-interactive-poison", None),
    "fail_poisoned_batch": ("queueTrigger", "email-batch-poison", None),
    "fail_poisoned_batch_high": ("queueTrigger", "email-batch-high-poison", None),
    "rebalance_throttle": ("timerTrigger", "%MAILROOM_REBALANCER_SCHEDULE%", None),
    "purge_history": ("timerTrigger", "%MAILROOM_PURGE_SCHEDULE%", None),
}


def test_the_app_indexes_the_expected_functions_with_unique_names() -> None:
    functions = indexed_functions()
    names = [f.get_function_name() for f in functions]
    assert len(names) == len(set(names))
    found = {}
    for function in functions:
        trigger = function.get_trigger()
        where = (
            getattr(trigger, "route", None)
            or getattr(trigger, "queue_name", None)
            or getattr(trigger, "schedule", None)
        )
        methods = [str(m.value) for m in trigger.methods] if getattr(trigger, "methods", None) else None
        found[function.get_function_name()] = (trigger.type, where, methods)
    assert found == EXPECTED


ANONYMOUS = {"get_openapi"}


def test_http_functions_need_a_function_key_and_queues_use_the_storage_setting() -> None:
    for function in indexed_functions():
        trigger = function.get_trigger()
        if trigger.type == "httpTrigger":
            expected = "anonymous" if function.get_function_name() in ANONYMOUS else "function"
            assert str(trigger.auth_level.value) == expected
        elif trigger.type == "queueTrigger":
            assert trigger.connection == "AzureWebJobsStorage"
        assert function.is_http_function() == (trigger.type == "httpTrigger")
