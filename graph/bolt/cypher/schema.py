"""Constraints and indexes: idempotent, run at start-up (``IF NOT EXISTS``)."""

from typing import LiteralString

CONSTRAINT_ASSET_ID: LiteralString = (
    "CREATE CONSTRAINT asset_id IF NOT EXISTS FOR (n:Asset) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_SENSOR_ID: LiteralString = (
    "CREATE CONSTRAINT sensor_id IF NOT EXISTS FOR (n:Sensor) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_ACTUATOR_ID: LiteralString = (
    "CREATE CONSTRAINT actuator_id IF NOT EXISTS FOR (n:Actuator) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_DATASOURCE_ID: LiteralString = (
    "CREATE CONSTRAINT datasource_id IF NOT EXISTS FOR (n:DataSource) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_MAINTENANCE_ID: LiteralString = (
    "CREATE CONSTRAINT maintenance_id IF NOT EXISTS FOR (n:MaintenanceEvent) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_WORKORDER_ID: LiteralString = (
    "CREATE CONSTRAINT workorder_id IF NOT EXISTS FOR (n:WorkOrder) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_SETPOINT_ID: LiteralString = (
    "CREATE CONSTRAINT setpoint_id IF NOT EXISTS FOR (n:SetpointCommand) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_SIMRUN_ID: LiteralString = (
    "CREATE CONSTRAINT simrun_id IF NOT EXISTS FOR (n:SimulationRun) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_JOB_ID: LiteralString = (
    "CREATE CONSTRAINT job_id IF NOT EXISTS FOR (n:Job) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_HEALTH_ID: LiteralString = (
    "CREATE CONSTRAINT health_id IF NOT EXISTS FOR (n:HealthAssessment) REQUIRE n.id IS UNIQUE"
)
CONSTRAINT_ANOMALY_MODEL_ID: LiteralString = (
    "CREATE CONSTRAINT anomaly_model_id IF NOT EXISTS FOR (n:AnomalyModel) REQUIRE n.id IS UNIQUE"
)
INDEX_HEALTH_AS_OF: LiteralString = (
    "CREATE INDEX health_as_of IF NOT EXISTS FOR (n:HealthAssessment) ON (n.asOf)"
)
CONSTRAINT_ALERT_ID: LiteralString = (
    "CREATE CONSTRAINT alert_id IF NOT EXISTS FOR (n:Alert) REQUIRE n.id IS UNIQUE"
)
INDEX_ASSET_NAME: LiteralString = "CREATE INDEX asset_name IF NOT EXISTS FOR (n:Asset) ON (n.name)"
INDEX_ASSET_TYPE: LiteralString = "CREATE INDEX asset_type IF NOT EXISTS FOR (n:Asset) ON (n.type)"
INDEX_ALERT_RAISED_AT: LiteralString = (
    "CREATE INDEX alert_raised_at IF NOT EXISTS FOR (n:Alert) ON (n.raisedAt)"
)
INDEX_MAINTENANCE_AT: LiteralString = (
    "CREATE INDEX maintenance_at IF NOT EXISTS FOR (n:MaintenanceEvent) ON (n.at)"
)

ALL: tuple[LiteralString, ...] = (
    CONSTRAINT_ASSET_ID,
    CONSTRAINT_SENSOR_ID,
    CONSTRAINT_ACTUATOR_ID,
    CONSTRAINT_DATASOURCE_ID,
    CONSTRAINT_MAINTENANCE_ID,
    CONSTRAINT_WORKORDER_ID,
    CONSTRAINT_SETPOINT_ID,
    CONSTRAINT_SIMRUN_ID,
    CONSTRAINT_JOB_ID,
    CONSTRAINT_HEALTH_ID,
    CONSTRAINT_ALERT_ID,
    CONSTRAINT_ANOMALY_MODEL_ID,
    INDEX_ASSET_NAME,
    INDEX_ASSET_TYPE,
    INDEX_MAINTENANCE_AT,
    INDEX_ALERT_RAISED_AT,
    INDEX_HEALTH_AS_OF,
)
