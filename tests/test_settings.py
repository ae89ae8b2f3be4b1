"""Settings precedence (file < environment < options) and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from widget_server.settings import SettingsError, load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(config_file=None, environ={})
    assert s.port == 8000 and str(s.kb_dir) == "kb" and s.allowed_origins == ()


def test_file_then_env_then_options(tmp_path: Path) -> None:
    config = tmp_path / "deskbell.toml"
    config.write_text('port = 7000\nsite_name = "From file"\nallowed_origins = ["https://a.example"]\n')
    s = load_settings(config_file=config, environ={})
    assert (s.port, s.site_name, s.allowed_origins) == (7000, "From file", ("https://a.example",))
    s = load_settings(config_file=config, environ={"DESKBELL_PORT": "7100"})
    assert s.port == 7100 and s.site_name == "From file"
    s = load_settings(overrides={"port": 7200}, config_file=config, environ={"DESKBELL_PORT": "7100"})
    assert s.port == 7200


def test_deskbell_table_is_accepted(tmp_path: Path) -> None:
    config = tmp_path / "deskbell.toml"
    config.write_text("[deskbell]\nport = 7001\n")
    assert load_settings(config_file=config, environ={}).port == 7001


def test_env_origins_are_comma_separated() -> None:
    s = load_settings(config_file=None,
                      environ={"DESKBELL_ALLOWED_ORIGINS": "https://A.example, http://b.example:8080"})
    assert s.allowed_origins == ("https://a.example", "http://b.example:8080")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DESKBELL_PORT": "eighty"}, "setting port (DESKBELL_PORT): expected a whole number"),
        ({"DESKBELL_PORT": "70000"}, "setting port (DESKBELL_PORT): must be between 1 and 65535"),
        ({"DESKBELL_ALLOWED_ORIGINS": "example.com"}, "setting allowed_origins"),
        ({"DESKBELL_SMTP_STARTTLS": "perhaps"}, "expected true or false"),
        ({"DESKBELL_NO_SUCH": "1"}, "unknown setting 'no_such' in DESKBELL_NO_SUCH"),
        ({"DESKBELL_PUBLIC_URL": "ftp://x"}, "expected an http:// or https:// URL"),
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config_file=None, environ=environ)


def test_broken_toml_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "deskbell.toml"
    config.write_text("port = = 1\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(config_file=config, environ={})
