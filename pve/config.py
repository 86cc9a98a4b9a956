"""Where configuration and secrets come from, in one place.

Every setting is a flat ``KEY = value`` (``PVE_SLOTS``, ``GEMINI_API_KEY``, ``PVE_GITHUB_APP_ID``,
...). Sources, strongest first:

1. the process environment;
2. a TOML config file with the same keys at top level: ``PVE_CONFIG``, else ``$PVE_HOME/config.toml``
   when it exists;
3. on AWS: a Secrets Manager secret whose string is a JSON object of the same keys
   (``PVE_AWS_SECRET_ID``) and/or the SSM parameters under a path (``PVE_SSM_PATH``, each
   parameter's last name component is the key; SecureStrings are decrypted).

So a key set in the environment always wins, and a Lambda needs only the two pointers in its
environment, never the secrets themselves.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pve.errors import BadInput

_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")


def load(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The merged configuration: environment over config file over AWS. Raises BadInput with one
    clear line when a source is named but unusable."""
    env = dict(os.environ if env is None else env)
    merged: dict[str, str] = {}
    if env.get("PVE_AWS_SECRET_ID") or env.get("PVE_SSM_PATH"):
        merged.update(_from_aws(env))
    merged.update(_from_file(env))
    merged.update({k: v for k, v in env.items() if v != ""})
    return merged


def home(env: Mapping[str, str]) -> Path:
    """PVE's data dir: ``PVE_HOME``, else ``$XDG_DATA_HOME/pve`` (``~/.local/share/pve``)."""
    if env.get("PVE_HOME"):
        return Path(env["PVE_HOME"]).expanduser()
    xdg = env.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "pve"


def config_file(env: Mapping[str, str]) -> Path:
    """Where the config file is (or would be written): ``PVE_CONFIG``, else the data dir's ``config.toml``."""
    return Path(env["PVE_CONFIG"]).expanduser() if env.get("PVE_CONFIG") else home(env) / "config.toml"


def config_path(env: Mapping[str, str]) -> Path | None:
    """The config file to read: ``PVE_CONFIG`` (which must exist), else the data dir's when it exists."""
    path = config_file(env)
    return path if env.get("PVE_CONFIG") or path.is_file() else None


def _from_file(env: Mapping[str, str]) -> dict[str, str]:
    path = config_path(env)
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"config file {path} does not exist (PVE_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"config file {path} is not valid TOML: {exc}") from None
    return _flat(data, f"config file {path}")


def _flat(data: Mapping[str, object], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if not _KEY.match(key):
            raise BadInput(f"{where}: {key!r} is not a setting name (use the environment variable names)")
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
        else:
            raise BadInput(f"{where}: {key} must be a string or a number")
    return out


def _from_aws(env: Mapping[str, str]) -> dict[str, str]:
    import boto3  # only on AWS: keeps start-up free of botocore elsewhere
    from botocore.exceptions import BotoCoreError, ClientError

    out: dict[str, str] = {}
    try:
        if env.get("PVE_SSM_PATH"):
            path = env["PVE_SSM_PATH"].rstrip("/") or "/"
            ssm = boto3.client("ssm")
            for page in ssm.get_paginator("get_parameters_by_path").paginate(
                    Path=path, Recursive=False, WithDecryption=True):
                for param in page["Parameters"]:
                    out[param["Name"].rsplit("/", 1)[-1]] = param["Value"]
        if env.get("PVE_AWS_SECRET_ID"):
            secret = boto3.client("secretsmanager").get_secret_value(SecretId=env["PVE_AWS_SECRET_ID"])
            try:
                data = json.loads(secret.get("SecretString") or "")
            except json.JSONDecodeError:
                raise BadInput(f"secret {env['PVE_AWS_SECRET_ID']} is not a JSON object of settings") from None
            if not isinstance(data, dict):
                raise BadInput(f"secret {env['PVE_AWS_SECRET_ID']} is not a JSON object of settings")
            out.update(_flat(data, f"secret {env['PVE_AWS_SECRET_ID']}"))
    except (BotoCoreError, ClientError) as exc:
        raise BadInput(f"cannot read settings from AWS: {exc}") from None
    return {k: v for k, v in out.items() if _KEY.match(k)}
