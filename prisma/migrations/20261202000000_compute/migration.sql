-- CreateEnum
CREATE TYPE "StorageNodeState" AS ENUM ('starting', 'serving', 'down');

-- CreateEnum
CREATE TYPE "DataNodeState" AS ENUM ('starting', 'pool', 'attaching', 'attached', 'detaching', 'stopped', 'dead');

-- AlterTable
ALTER TABLE "Cluster" ADD COLUMN     "failureReason" TEXT,
ADD COLUMN     "routeVersion" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "settingsVersion" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "volume" TEXT,
ADD COLUMN     "writerPassword" TEXT;

-- Clusters created before compute existed: a volume named after the cluster, a fresh writer password.
UPDATE "Cluster" SET "volume" = 'v-' || "id"::text, "writerPassword" = md5(random()::text || clock_timestamp()::text) || md5(random()::text);
ALTER TABLE "Cluster" ALTER COLUMN "volume" SET NOT NULL, ALTER COLUMN "writerPassword" SET NOT NULL;

-- Coordinator ids of writers (recovery ballots, libs/quorum): from 7, never reused.
CREATE SEQUENCE "coordinator_id_seq" START 7 MINVALUE 7 MAXVALUE 1048575 NO CYCLE;

-- CreateTable
CREATE TABLE "StorageNode" (
    "id" TEXT NOT NULL,
    "az" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "port" INTEGER NOT NULL,
    "dataDir" TEXT NOT NULL,
    "state" "StorageNodeState" NOT NULL DEFAULT 'starting',
    "pid" INTEGER,
    "logBytes" BIGINT,
    "restarts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "lastSeenAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "StorageNode_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DataNode" (
    "id" TEXT NOT NULL,
    "coordinatorId" INTEGER NOT NULL,
    "state" "DataNodeState" NOT NULL DEFAULT 'starting',
    "clusterId" UUID,
    "cu" DOUBLE PRECISION,
    "host" TEXT NOT NULL DEFAULT '127.0.0.1',
    "respPort" INTEGER,
    "adminPort" INTEGER,
    "pid" INTEGER,
    "instanceId" TEXT,
    "attachedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "DataNode_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "FleetAction" (
    "id" UUID NOT NULL,
    "action" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "clusterId" UUID,
    "reason" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "error" TEXT,
    "durationMs" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "FleetAction_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "VolumeDeletion" (
    "volume" TEXT NOT NULL,
    "storageNodeId" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "VolumeDeletion_pkey" PRIMARY KEY ("volume","storageNodeId")
);

-- CreateIndex
CREATE UNIQUE INDEX "StorageNode_port_key" ON "StorageNode"("port");

-- CreateIndex
CREATE UNIQUE INDEX "DataNode_coordinatorId_key" ON "DataNode"("coordinatorId");

-- CreateIndex
CREATE INDEX "DataNode_clusterId_state_idx" ON "DataNode"("clusterId", "state");

-- CreateIndex
CREATE INDEX "DataNode_state_idx" ON "DataNode"("state");

-- CreateIndex
CREATE INDEX "FleetAction_createdAt_idx" ON "FleetAction"("createdAt");

-- CreateIndex
CREATE INDEX "FleetAction_clusterId_createdAt_idx" ON "FleetAction"("clusterId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Cluster_volume_key" ON "Cluster"("volume");

-- AddForeignKey
ALTER TABLE "DataNode" ADD CONSTRAINT "DataNode_clusterId_fkey" FOREIGN KEY ("clusterId") REFERENCES "Cluster"("id") ON DELETE SET NULL ON UPDATE CASCADE;

