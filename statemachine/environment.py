"""The project's own environment for every run of a verification: built once per declaration
(or found), with the fallbacks when it does not build as declared, each said in the console."""

from __future__ import annotations

from pve.events import Fanout
from pve.models import Session, VerifyRequest
from sandbox.backend import StagedProject
from sandbox.declarations import fallback_plans, plan_install
from sandbox.environments import DependencyError
from statemachine.services import Services


async def build_environment(req: VerifyRequest, svc: Services, session: Session, staged: StagedProject,
                            events: Fanout) -> tuple[str, ...]:
    """The project's own dependencies, built once per declaration (or found), for every run;
    returns the files that declare them. Raises ``DependencyError`` when nothing builds."""
    if session.snippet:
        return ()
    plan = plan_install(staged.files, staged.read_text, config=req.install)
    if not plan.needed() and svc.settings.sandbox.environments.given is None:  # (given: the caller's own)
        return ()
    try:
        info = await svc.sandbox.environment(staged, plan)
    except DependencyError as failed:
        if req.install:  # the repository said how to build it: its words stand, no guessing
            raise
        # As declared it does not build today: the next declaration source, saying each step.
        for fallback, why in fallback_plans(plan, staged.files, staged.read_text, failed.reason):
            events.emit("environment", f"Environment: {plan.kind} did not build ({first_line(failed.reason)})",
                        "FALLING BACK", detail=why)
            session.notes.append(f"environment: {plan.kind} did not build ({first_line(failed.reason)}); {why}")
            try:
                info = await svc.sandbox.environment(staged, fallback)
            except DependencyError as again:
                plan, failed = fallback, again
                continue
            plan = fallback
            break
        else:
            raise failed from None
    if info is None:
        return ()
    session.environment = info
    how = "reused" if info.reused else f"built in {info.build_ms / 1000:.1f} s"
    events.emit("environment", f"Environment: {plan.kind}, {len(info.packages)} packages, Python {info.python.split()[0]} "
                               f"({how})", "READY")
    return tuple(plan.files)


def first_line(text: str, limit: int = 160) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"
