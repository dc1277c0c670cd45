-- Reverses 0009_mosaics.up.sql.
DROP TABLE mosaic_dispatch_pauses;
DROP TABLE mosaic_qa;
DROP TABLE mosaics;
DROP TABLE mosaic_attempts;
DROP TABLE mosaic_plan_inputs;
DROP TABLE mosaic_plans;
