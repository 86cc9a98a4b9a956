"""The live console's WebSocket connections on the AWS stack (``web/live.py``), in ``PVE_Main``.

A connection is written twice: under its session (``SESSION#<id>`` / ``CONN#<connection>``), so a
step finds every reader of the session it runs in one query, and under itself (``CONN#<id>`` /
``SESSION``), so ``$disconnect``, which names only the connection, finds its session. Both carry
``expires``: API Gateway closes a socket after two hours, and a ``$disconnect`` can be lost.
Only the AWS stack has connections; ``pve serve`` streams from its own process.
"""

from __future__ import annotations

from store.base import session_pk
from store.dynamo import DynamoStore


def _connection_pk(connection_id: str) -> str:
    return f"CONN#{connection_id}"


class ConsoleConnections:
    def __init__(self, store: DynamoStore) -> None:
        self.store = store

    def add_connection(self, session_id: str, connection_id: str, ttl_s: int) -> None:
        expires = int(self.store._now() + ttl_s)
        self.store._put_item({"pk": session_pk(session_id), "sk": _connection_pk(connection_id), "expires": expires})
        self.store._put_item({"pk": _connection_pk(connection_id), "sk": "SESSION", "session": session_id,
                              "expires": expires})

    def connections(self, session_id: str) -> list[str]:
        items = self.store._query(KeyConditionExpression="pk = :p AND begins_with(sk, :c)", ConsistentRead=True,
                                  ExpressionAttributeValues={":p": {"S": session_pk(session_id)},
                                                             ":c": {"S": "CONN#"}})
        return [str(i["sk"]).removeprefix("CONN#") for i in items]

    def connection_session(self, connection_id: str) -> str | None:
        item = self.store._get_item(_connection_pk(connection_id), "SESSION")
        return str(item["session"]) if item is not None else None

    def drop_connection(self, connection_id: str) -> None:
        session_id = self.connection_session(connection_id)
        self.store._delete(_connection_pk(connection_id), "SESSION")
        if session_id is not None:
            self.store._delete(session_pk(session_id), _connection_pk(connection_id))
