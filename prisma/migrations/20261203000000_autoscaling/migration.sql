-- Autoscaling: per-cluster writer size limit and scale-down window, and scaling events say what kind
-- of change they were, when it was decided and when it took effect.
ALTER TABLE "Cluster" ADD COLUMN     "cuPerWriterMax" DOUBLE PRECISION,
ADD COLUMN     "scaleDownWindowSeconds" INTEGER;

-- Serverless clusters made before autoscaling get its defaults.
UPDATE "Cluster" SET "cuPerWriterMax" = 8, "scaleDownWindowSeconds" = 30 WHERE "mode" = 'serverless';

ALTER TABLE "ScalingEvent" ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'resize',
ADD COLUMN     "decidedAt" TIMESTAMPTZ(3),
ADD COLUMN     "effectiveAt" TIMESTAMPTZ(3);

UPDATE "ScalingEvent" SET "effectiveAt" = "createdAt", "decidedAt" = "createdAt" - COALESCE("durationMs", 0) * INTERVAL '1 millisecond';
