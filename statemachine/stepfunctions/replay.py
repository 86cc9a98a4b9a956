"""Replaying a trigger's handler: how one handler's code spans several Lambda steps.

The GitHub handlers (``statemachine.github``) are one coroutine each: read the trigger, talk,
verify, publish. They are already safe to run again (a retried job finds the comment, check run,
branch and credit an earlier attempt made), so the AWS engine runs the handler from the top at
each step that needs it, with ``AppRuntime.verify`` replaced: a verification whose session is
already stored returns it, and the first one that is not stops the handler with
``NeedsVerification``, carrying the request, for the state machine to run. The GitHub reads
before it are repeated on each replay (a handler makes a handful); the writes find themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pve.models import Session, SessionStatus, VerifyRequest
from statemachine.services import Services
from store.base import SessionLog


class NeedsVerification(Exception):
    """The handler reached a verification that has not run yet."""

    def __init__(self, req: VerifyRequest, services: Services) -> None:
        super().__init__(f"verification {req.session_id} has not run yet")
        self.req = req
        self.services = services  # with the repository's settings applied (candidates, watchers)


class StepFailed(Exception):
    """A state failed (the Catch path): the handler's last attempt tells the user."""


def replay_verifier(sessions: SessionLog, failure: str | None = None
                    ) -> Callable[[VerifyRequest, Services], Awaitable[Session]]:
    async def verify(req: VerifyRequest, services: Services) -> Session:
        if req.session_id is None:
            raise ValueError("a replayed verification needs a session id (GitHub jobs derive one per delivery)")
        done = sessions.get_session(req.session_id)
        if done is not None and done.status is not SessionStatus.RUNNING:
            return done
        if failure is not None:
            raise StepFailed(failure)
        raise NeedsVerification(req, services)

    return verify
