"""The AWS stack's web side, composed: the webhook function's app (the webhook edge and the web
view over DynamoDB + S3), and the live console's parts (``web/live.py``) for the console function
and for the steps, which post to a session's readers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from store.dynamo import DynamoStore
    from web.auth import Signer
    from web.live import Broadcast


def web_app(env: Mapping[str, str], sfn: Any = None) -> FastAPI:
    """The webhook function's app: ``/webhooks/github`` (the edge alone, as before) and the web
    view: permalinks and their proofs from S3, history, quota, sign-in with the App's OAuth
    client, the proof keys; with ``PVE_CONSOLE_URL``, ``/s/<id>/live`` for the live console.

    The playground is off here: it runs a snippet in the web process's own sandbox, which this
    function does not have (its page says so); ``pve serve`` has it."""
    from pathlib import Path

    from entrypoints.edge import make_store, proof_signer, webhook_edge
    from pve.settings import GitHubAppSettings, Settings, env_int
    from web import auth, live, site

    store = make_store(env)
    app = webhook_edge(env, sfn, store)
    github = GitHubAppSettings.from_config(env)
    settings = Settings.from_config(env)
    viewer = site.mount(app, store, secret=github.webhook_secret,
                        oauth=auth.OAuthApp.from_config(env, github.api_url),
                        daily_credits=env_int(env, "PVE_DAILY_VERIFICATIONS", 50, 0, 1_000_000),
                        playground=site.PlaygroundSetup(home=Path(settings.home)),
                        proof_keys=proof_signer(settings, env).published)
    socket_url = env.get("PVE_CONSOLE_URL")
    if socket_url:
        app.include_router(live.router(store, viewer, live.ticket_signer(github.webhook_secret), socket_url))
        live.allow_socket(app, socket_url)
    return app


def live_console(env: Mapping[str, str]) -> tuple[DynamoStore, Signer, Broadcast]:
    """The console function's parts: the store, the ticket signer, the broadcast."""
    from pve.settings import GitHubAppSettings
    from store.dynamo import DynamoStore
    from web import live

    store = DynamoStore.from_env(env)
    signer = live.ticket_signer(GitHubAppSettings.from_config(env).webhook_secret)
    return store, signer, broadcast(env, store)


def broadcast(env: Mapping[str, str], store: DynamoStore) -> Broadcast:
    """Posts to the session's readers through the console API's management endpoint
    (``PVE_CONSOLE_ENDPOINT``, ``https://<api>.execute-api.<region>.amazonaws.com/<stage>``)."""
    import boto3

    from store.connections import ConsoleConnections
    from web.live import Broadcast

    client = boto3.client("apigatewaymanagementapi", endpoint_url=env["PVE_CONSOLE_ENDPOINT"])
    return Broadcast(ConsoleConnections(store), client)
