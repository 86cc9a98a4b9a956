"""The parts every composition shares, each cheap to import: the store the settings name, the
proof key, the webhook edge. ``bootstrap`` (the local runtime: bubblewrap, SQLite, the workers)
and the AWS functions' own compositions (``aws_web``, ``aws_steps``) both build on these, so a
Lambda function's artifact holds what its handler uses and not the local engine
(``infra/functions.py`` follows the imports)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pve.settings import GitHubAppSettings, Settings
from statemachine.proof.signing import ProofSigner
from store.base import Store

if TYPE_CHECKING:
    from fastapi import FastAPI


def make_store(env: Mapping[str, str]) -> Store:
    """SQLite under ``PVE_HOME``; DynamoDB (``PVE_TABLE``) and S3 (``PVE_BUCKET``) when the
    table is named, as the AWS stack does: one store every instance of every function shares."""
    if env.get("PVE_TABLE"):
        from pve.errors import BadInput
        from store.dynamo import DynamoStore

        if not env.get("PVE_BUCKET"):
            raise BadInput("PVE_TABLE is set but PVE_BUCKET is not: the DynamoDB store keeps proofs and large "
                           "items in S3", code="bad-setting")
        return DynamoStore.from_env(env)
    from store.sqlite import SQLiteStore

    return SQLiteStore(Settings.from_config(env).home)


def proof_signer(settings: Settings, env: Mapping[str, str]) -> ProofSigner:
    """The proof key under ``settings.home``; with ``PVE_PROOF_KEY`` (an Ed25519 private key in
    PEM, from Secrets Manager on AWS), that key: every function instance signs with the one
    key whose public half people check proofs against, not a key of its own."""
    signer = ProofSigner(settings.home)
    pem = env.get("PVE_PROOF_KEY")
    if pem and not signer.key_path.exists():
        signer.install(pem.encode())
    return signer


def webhook_edge(env: Mapping[str, str], sfn: Any = None, store: Store | None = None) -> FastAPI:
    """The webhook app alone (signature, dedup, queue), as the Lambda handler serves it. With
    ``PVE_STATE_MACHINE`` (the AWS stack sets it), each queued job starts its execution, named
    for the delivery: a delivery GitHub sends again cannot start a second one."""
    from webhooks.app import create_app

    github = GitHubAppSettings.from_config(env)
    machine = env.get("PVE_STATE_MACHINE")
    on_queued = None
    if machine:
        import json
        import re

        import boto3

        client = sfn or boto3.client("stepfunctions")

        def on_queued(job: int, delivery: str) -> None:
            name = re.sub(r"[^A-Za-z0-9_-]", "-", delivery)[:80] or f"job-{job}"
            client.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"job": job}))
    return create_app(github.webhook_secret, store or make_store(env), on_queued=on_queued)
