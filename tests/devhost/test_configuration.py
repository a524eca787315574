"""local.settings.json, %SETTING% expressions, connection settings and host.json, read as
Core Tools and the runtime read them."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from devhost.host_config import HostConfig, HostConfigError, QueueOptions
from devhost.settings import (
    SettingError,
    connection_string,
    expand_setting_expressions,
    load_local_settings,
)
from devhost.storage import AZURITE_CONNECTION_STRING, expand_development_storage
from devhost.timespan import parse_timespan


def test_local_settings_fill_the_environment_but_existing_variables_win(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {"MAILROOM_APP_KEY": "from-file", "MAILROOM_MAX_ATTEMPTS": 6, "FLAG": True},
                "Host": {"LocalHttpPort": 7072},
            }
        )
    )
    environ = {"MAILROOM_APP_KEY": "from-environment"}
    loaded = load_local_settings(tmp_path, environ)
    assert environ == {"MAILROOM_APP_KEY": "from-environment", "MAILROOM_MAX_ATTEMPTS": "6", "FLAG": "true"}
    assert loaded.overridden == ("MAILROOM_APP_KEY",)
    assert loaded.http_port == 7072


def test_missing_local_settings_changes_nothing(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert load_local_settings(tmp_path, environ).applied == ()
    assert environ == {}


def test_setting_expressions_are_replaced_and_missing_ones_named() -> None:
    environ = {"QUEUE_PREFIX": "mailroom"}
    assert expand_setting_expressions("%QUEUE_PREFIX%-batch", environ=environ) == "mailroom-batch"
    with pytest.raises(SettingError, match="'NOPE' used by function 'x'"):
        expand_setting_expressions("%NOPE%", environ=environ, usage="function 'x'")


def test_connection_setting_lookup_follows_the_runtime() -> None:
    assert connection_string("", environ={"AzureWebJobsStorage": "A"}) == "A"
    assert connection_string("Mail", environ={"AzureWebJobsMail": "B"}) == "B"
    with pytest.raises(SettingError, match="identity-based"):
        connection_string("Mail", environ={"Mail__queueServiceUri": "https://x"})
    with pytest.raises(SettingError, match="'Mail' is not set"):
        connection_string("Mail", environ={})


def test_development_storage_means_azurite_on_default_ports() -> None:
    assert expand_development_storage("UseDevelopmentStorage=true") == AZURITE_CONNECTION_STRING
    assert "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1" in AZURITE_CONNECTION_STRING
    assert expand_development_storage("AccountName=x;AccountKey=y") == "AccountName=x;AccountKey=y"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:02", timedelta(seconds=2)),
        ("00:00:00.500", timedelta(milliseconds=500)),
        ("01:30", timedelta(hours=1, minutes=30)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("2", timedelta(days=2)),
    ],
)
def test_timespans_read_as_dotnet_reads_them(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


@pytest.mark.parametrize("text", ["2s", "00:60:00", "24:00:00", ""])
def test_malformed_timespans_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timespan(text)


def test_host_json_defaults_match_the_runtime() -> None:
    config = HostConfig.from_document({"version": "2.0"})
    assert config.route_prefix == "api"
    assert config.queues == QueueOptions(
        batch_size=16,
        new_batch_threshold=8,
        max_polling_interval=timedelta(minutes=1),
        visibility_timeout=timedelta(0),
        max_dequeue_count=5,
        message_encoding="base64",
    )
    assert config.function_timeout == timedelta(minutes=30)


def test_host_json_file_is_read_from_the_app_folder(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "functionTimeout": "00:10:00",
                "logging": {"logLevel": {"default": "Warning"}},
                "extensions": {"queues": {"maxPollingInterval": "00:00:02", "visibilityTimeout": "00:00:10"}},
            }
        )
    )
    config = HostConfig.read(tmp_path)
    assert config.queues.max_polling_interval == timedelta(seconds=2)
    assert config.queues.visibility_timeout == timedelta(seconds=10)
    assert config.function_timeout == timedelta(minutes=10)
    assert config.log_level == logging.WARNING


def test_host_json_keys_ignore_case_and_threshold_follows_batch_size() -> None:
    config = HostConfig.from_document(
        {
            "Extensions": {"Queues": {"BatchSize": 4, "MessageEncoding": "None"}, "HTTP": {"RoutePrefix": "/v2/"}},
            "functionTimeout": "-1",
        }
    )
    assert (config.queues.batch_size, config.queues.new_batch_threshold) == (4, 2)
    assert config.queues.message_encoding == "none"
    assert config.route_prefix == "v2"
    assert config.function_timeout is None


@pytest.mark.parametrize(
    ("queues", "complaint"),
    [
        ({"maxPollingInterval": 2000}, "TimeSpan string"),
        ({"maxPollingInterval": "00:00:00.050"}, "at least"),
        ({"batchSize": 64}, "between 1 and 32"),
        ({"messageEncoding": "utf8"}, "messageEncoding"),
        ({"maxDequeueCount": 0}, "at least 1"),
    ],
)
def test_values_the_runtime_would_refuse_stop_the_start(queues: dict[str, object], complaint: str) -> None:
    with pytest.raises(HostConfigError, match=complaint):
        HostConfig.from_document({"extensions": {"queues": queues}})
