"""Configuration sources: environment over config file over AWS (Secrets Manager, SSM via moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from brain.models.providers import BrainConfig
from pve import config
from pve.errors import BadInput
from pve.settings import Settings


def test_config_file_fills_what_the_environment_does_not(tmp_path):
    path = tmp_path / "pve.toml"
    path.write_text('GEMINI_API_KEY = "from-file"\nPVE_SLOTS = 5\nDEEPSEEK_API_KEY = "file"\n')
    merged = config.load({"PVE_CONFIG": str(path), "DEEPSEEK_API_KEY": "from-env"})
    assert merged["GEMINI_API_KEY"] == "from-file" and merged["DEEPSEEK_API_KEY"] == "from-env"
    assert Settings.from_env({"PVE_CONFIG": str(path)}).slots == 5
    assert [p.api_key for p in BrainConfig.from_env(merged).generators] == ["from-file", "from-env"]


def test_home_config_is_found_without_pointer(tmp_path):
    (tmp_path / "config.toml").write_text('PVE_SLOTS = 2\n')
    assert config.load({"PVE_HOME": str(tmp_path)})["PVE_SLOTS"] == "2"


@pytest.mark.parametrize("text, why", [
    ("GEMINI_API_KEY = ", "not valid TOML"),
    ("gemini = 'x'\n", "not a setting name"),
    ("[section]\nA = 1\n", "not a setting name"),
    ("PVE_SLOTS = [1, 2]\n", "must be a string or a number"),
])
def test_broken_config_file_is_one_clear_line(tmp_path, text, why):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(BadInput, match=why):
        config.load({"PVE_CONFIG": str(path)})
    with pytest.raises(BadInput, match="does not exist"):
        config.load({"PVE_CONFIG": str(tmp_path / "missing.toml")})


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield


def test_secrets_manager_and_ssm_supply_keys_on_aws(aws):
    boto3.client("secretsmanager").create_secret(
        Name="pve/keys", SecretString=json.dumps({"GEMINI_API_KEY": "sm-gemini", "GROQ_API_KEY": "sm-groq"}))
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/pve/prod/DEEPSEEK_API_KEY", Value="ssm-deepseek", Type="SecureString")
    ssm.put_parameter(Name="/pve/prod/GEMINI_API_KEY", Value="ssm-gemini", Type="SecureString")
    merged = config.load({"PVE_AWS_SECRET_ID": "pve/keys", "PVE_SSM_PATH": "/pve/prod", "GROQ_API_KEY": "env-groq"})
    assert merged["DEEPSEEK_API_KEY"] == "ssm-deepseek"
    assert merged["GEMINI_API_KEY"] == "sm-gemini"  # the secret over SSM
    assert merged["GROQ_API_KEY"] == "env-groq"  # the environment over both


def test_aws_errors_are_clear(aws):
    with pytest.raises(BadInput, match="cannot read settings from AWS"):
        config.load({"PVE_AWS_SECRET_ID": "nope"})
    boto3.client("secretsmanager").create_secret(Name="bad", SecretString="not json")
    with pytest.raises(BadInput, match="not a JSON object"):
        config.load({"PVE_AWS_SECRET_ID": "bad"})
