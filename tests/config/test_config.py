from pathlib import Path

import pytest

from receiver.config import ConfigError, ReceiverConfig, load_config


def test_defaults_are_valid() -> None:
    assert ReceiverConfig().validate() == []
    assert load_config(environ={}) == ReceiverConfig()


def test_layers_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "receiver.yaml"
    path.write_text(
        "server: {port: 9000, bulkdata_paths: [/a, /b]}\n"
        "batch: {max_points: 100}\nexport: {endpoint: 'c:1'}\n"
    )
    config = load_config(
        str(path),
        environ={"RECEIVER_BATCH__MAX_POINTS": "200", "RECEIVER_EXPORT__ENDPOINT": "e:2", "OTHER": "x"},
        overrides={"export.endpoint": "flag:3", "server.host": None},
    )
    assert config.server.port == 9000
    assert config.server.bulkdata_paths == ("/a", "/b")
    assert config.batch.max_points == 200
    assert config.export.endpoint == "flag:3"
    assert config.server.host == "127.0.0.1"


def test_every_problem_is_reported_with_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            environ={
                "RECEIVER_SERVER__PORT": "70000",
                "RECEIVER_SERVER__WORKERS": "0",
                "RECEIVER_SPOOL__COMMIT_WINDOW_S": "-1",
                "RECEIVER_BATCH__MAX_AGE_S": "soon",
                "RECEIVER_MQTT__BATCH_MAX_AGE_S": "0",
                "RECEIVER_SERVER__GC_FREEZE_INTERVAL_S": "-1",
                "RECEIVER_SPOOL__FSYNC_INLINE_MAX_S": "-0.5",
                "RECEIVER_EXPORT__ENDPOINT": "nohost",
                "RECEIVER_EXPORT__COMPRESSION": "brotli",
                "RECEIVER_SERVER__PROT": "1",
                "RECEIVER_NOPE__X": "1",
                "RECEIVER_MAPPING__RULES_FILE": "/nonexistent/rules.yaml",
            }
        )
    problems = "\n".join(caught.value.problems)
    for expected in (
        "server.port must be 1..65535",
        "server.workers must be 1..64",
        "spool.commit_window_s must be >= 0",
        "batch.max_age_s: expected a number",
        "mqtt.batch_max_age_s must be > 0, got 0",
        "server.gc_freeze_interval_s must be >= 0, got -1",
        "spool.fsync_inline_max_s must be >= 0, got -0.5",
        "export.endpoint must be HOST:PORT",
        "export.compression must be 'none' or 'gzip'",
        "unknown key server.prot",
        "unknown section 'nope'",
        "mapping.rules_file: no such file",
    ):
        assert expected in problems


def test_cli_exits_2_with_the_problems_before_binding(capsys: pytest.CaptureFixture[str]) -> None:
    from receiver.__main__ import main

    assert main(["serve", "--port", "0", "--otlp-endpoint", "bad"]) == 2
    err = capsys.readouterr().err
    assert "server.port must be 1..65535, got 0" in err and "export.endpoint must be HOST:PORT" in err
