"""Whether the sensors and schedules start running: yes, as soon as a daemon runs the code location (`dev`
included), unless VEHICLE_PIPELINE_AUTOMATION=stopped starts them all stopped (to turn on one by one in the
UI). The one place this is decided; a status set in the UI is kept by the instance and beats the default."""

import os

import dagster as dg

AUTOMATION_ENV = "VEHICLE_PIPELINE_AUTOMATION"
_RUNNING = ("", "running", "on")
_STOPPED = ("stopped", "off")


def automation_running() -> bool:
    value = os.environ.get(AUTOMATION_ENV, "").strip().lower()
    if value in _RUNNING:
        return True
    if value in _STOPPED:
        return False
    raise ValueError(f"{AUTOMATION_ENV}={os.environ[AUTOMATION_ENV]!r}: use 'running' (the default) or 'stopped'")


SENSOR_STATUS = dg.DefaultSensorStatus.RUNNING if automation_running() else dg.DefaultSensorStatus.STOPPED
SCHEDULE_STATUS = dg.DefaultScheduleStatus.RUNNING if automation_running() else dg.DefaultScheduleStatus.STOPPED
