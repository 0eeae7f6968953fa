"""The one worker process: ``python -m scheduler`` (APScheduler 3.x, UTC, fixed jobs)."""
