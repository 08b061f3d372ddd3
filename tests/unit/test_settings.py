from pathlib import Path

import pytest

from airflow_compose.errors import ProjectError
from airflow_compose.stack import settings


def test_parses_env_lines_comments_quotes_and_export():
    text = ("# c\n\nAFC_PORT=1\nexport AFC_HOST = two\nAFC_ARCH='x y'\nAFC_EXECUTOR=\"q\"\n"
            "AFC_WORKERS=v # trailing\nAFC_FLOWER=\nMINE='as written'\n")
    assert settings.parse_env_text(text) == {"AFC_PORT": "1", "AFC_HOST": "two", "AFC_ARCH": "x y", "AFC_EXECUTOR": "q",
                                             "AFC_WORKERS": "v", "AFC_FLOWER": "", "MINE": "'as written'"}


def test_garbage_line_names_its_number():
    with pytest.raises(ProjectError) as caught:
        settings.parse_env_text("A=1\n# ok\nthis is garbage\n", ".env")
    assert "line 3" in caught.value.message and "fix or delete line 3" in caught.value.hint


def test_precedence_flags_over_environment_over_file_over_defaults():
    file_values = {"AFC_WORKERS": "2", "AFC_PORT": "9000"}
    environ = {"AFC_WORKERS": "3", "AFC_FERNET_KEY": "from-shell-is-ignored"}
    merged = settings.effective(file_values, environ, {"AFC_PORT": "9100", "AFC_ARCH": None})
    assert merged["AFC_WORKERS"] == "3"
    assert merged["AFC_PORT"] == "9100"
    assert merged["AFC_ARCH"] == "auto"
    assert "AFC_FERNET_KEY" not in merged


def test_generated_secrets_are_random_and_fernet_shaped():
    import base64
    key = settings.generate_secret("AFC_FERNET_KEY")
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert settings.generate_secret("AFC_JWT_SECRET") != settings.generate_secret("AFC_JWT_SECRET")
    assert "$" not in settings.generate_secret("_AIRFLOW_WWW_USER_PASSWORD")


def test_format_env_round_trips():
    values = {s.name: (s.default or "x") for s in settings.SETTINGS}
    values["MY_OWN"] = "kept"
    assert settings.parse_env_text(settings.format_env(values)) == values


def test_env_example_documents_every_variable_and_is_current():
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    assert example == settings.format_env_example(), "regenerate with: python -m airflow_compose.stack.settings > .env.example"
    for setting in settings.SETTINGS:
        assert f"\n{setting.name}=" in example


def test_secret_names_say_what_they_are():
    assert any("FERNET" in name for name in settings.SECRET_NAMES)
    assert any("JWT" in name for name in settings.SECRET_NAMES)
    assert any("PASSWORD" in name for name in settings.SECRET_NAMES)
