"""The host reads functions from the app's own metadata and refuses what it cannot run."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import azure.functions as func
import pytest

from devhost.catalog import UnsupportedFunction, index_app, load_function_app
from tests.devhost import sample_app


def test_functions_are_indexed_by_trigger_in_function_name_order() -> None:
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule="0 0 3 * * *", run_on_startup=True)
    def retention_purge(timer: func.TimerRequest) -> None: ...

    @app.queue_trigger(arg_name="msg", queue_name="mail-batch", connection="AzureWebJobsStorage")
    async def dispatch_batch(msg: func.QueueMessage) -> None: ...

    @app.route(route="emails", methods=["POST"])
    def send_email(req: func.HttpRequest) -> func.HttpResponse: ...

    @app.function_name("Admin")
    @app.route(route="admin/{*path}", auth_level=func.AuthLevel.ANONYMOUS)
    def admin_pages(req: func.HttpRequest, context: func.Context) -> func.HttpResponse: ...

    catalog = index_app(app)
    assert [(f.name, f.route, f.auth_level, f.wants_context) for f in catalog.http] == [
        ("Admin", "admin/{*path}", "anonymous", True),
        ("send_email", "emails", "function", False),
    ]
    assert catalog.http[1].methods == {"POST"} and catalog.http[0].methods == frozenset()
    assert [(f.name, f.queue_name, f.connection) for f in catalog.queues] == [
        ("dispatch_batch", "mail-batch", "AzureWebJobsStorage")
    ]
    assert [(f.name, f.schedule, f.run_on_startup) for f in catalog.timers] == [
        ("retention_purge", "0 0 3 * * *", True)
    ]


def test_the_same_app_can_be_indexed_again() -> None:
    assert len(index_app(sample_app.app).http) == len(index_app(sample_app.app).http) > 0


def test_output_bindings_are_refused_rather_than_ignored() -> None:
    app = func.FunctionApp()

    @app.route(route="emails")
    @app.queue_output(arg_name="out", queue_name="mail", connection="AzureWebJobsStorage")
    def send(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse: ...

    with pytest.raises(UnsupportedFunction, match="queue binding 'out'"):
        index_app(app)


def test_other_trigger_kinds_are_refused() -> None:
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path="in/{name}", connection="AzureWebJobsStorage")
    def on_blob(blob: func.InputStream) -> None: ...

    with pytest.raises(UnsupportedFunction, match="blobTrigger"):
        index_app(app)


def test_app_is_imported_from_the_app_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [*sys.path])
    (tmp_path / "mailroom_app_for_test.py").write_text(
        textwrap.dedent("""
        import azure.functions as func
        app = func.FunctionApp()

        @app.route(route="ping", auth_level=func.AuthLevel.ANONYMOUS)
        def ping(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("pong")
    """)
    )
    app = load_function_app(tmp_path, "mailroom_app_for_test")
    monkeypatch.delitem(sys.modules, "mailroom_app_for_test")
    assert [f.name for f in index_app(app).http] == ["ping"]
