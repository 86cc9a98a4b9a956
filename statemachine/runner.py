"""The local runner: one verification on one machine, its phases in order, in one process.

The phases and what they share are ``statemachine.verification.Verification``; this driver only
calls them. (The AWS engine's driver, ``statemachine/stepfunctions/steps.py``, calls the same
phases from separate Lambda functions.)
"""

from __future__ import annotations

from pve.models import Session, VerifyRequest
from statemachine.services import Services
from statemachine.verification import Verification, new_session_id

__all__ = ["new_session_id", "verify"]


async def verify(req: VerifyRequest, svc: Services) -> Session:
    """Run the whole flow. Raises BadInput for unusable input; otherwise returns a finished session."""
    v = Verification.admit(req, svc)
    v.stage()
    try:
        try:
            if await v.prepare() and await v.reproduce():
                if req.judge is not None:
                    await v.judge()
                else:
                    await v.search()
                await v.settle_baseline()
        finally:
            await v.stop_baseline()
        v.decide()
        return v.prove()
    finally:
        await v.close()
