"""Scheduled jobs shared by replicas: each occurrence runs on one of them only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_conflicts
from storage.models import JobRun


async def claim_job_run(
    *, session: AsyncSession, job: str, slot: dt.datetime, now: dt.datetime
) -> bool:
    """Claim the occurrence of ``job`` scheduled for ``slot``; False if it was claimed already."""
    # The primary key (job, slot) makes the claim atomic across replicas.
    result = await session.execute(
        insert_ignoring_conflicts(session, JobRun).values(job=job, slot=slot, started_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1
