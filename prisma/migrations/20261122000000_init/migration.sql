-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "ClusterMode" AS ENUM ('provisioned', 'serverless');

-- CreateEnum
CREATE TYPE "ClusterState" AS ENUM ('creating', 'available', 'modifying', 'pausing', 'paused', 'resuming', 'migrating', 'deleting', 'failed');

-- CreateEnum
CREATE TYPE "ReadConsistency" AS ENUM ('instance', 'cluster');

-- CreateEnum
CREATE TYPE "ApiKeyRole" AS ENUM ('admin', 'viewer');

-- CreateTable
CREATE TABLE "Cluster" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "mode" "ClusterMode" NOT NULL,
    "state" "ClusterState" NOT NULL DEFAULT 'creating',
    "minCu" DOUBLE PRECISION,
    "maxCu" DOUBLE PRECISION,
    "provisionedWriterCount" INTEGER,
    "cuPerWriter" DOUBLE PRECISION,
    "autoPauseSeconds" INTEGER,
    "readConsistency" "ReadConsistency" NOT NULL DEFAULT 'instance',
    "endpointPort" INTEGER NOT NULL,
    "dataPasswordHash" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Cluster_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" "ApiKeyRole" NOT NULL,
    "prefix" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "bootstrap" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScalingEvent" (
    "id" UUID NOT NULL,
    "clusterId" UUID NOT NULL,
    "fromCu" DOUBLE PRECISION NOT NULL,
    "toCu" DOUBLE PRECISION NOT NULL,
    "fromWriterCount" INTEGER NOT NULL,
    "toWriterCount" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "durationMs" INTEGER,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScalingEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Cluster_name_key" ON "Cluster"("name");

-- CreateIndex
CREATE UNIQUE INDEX "Cluster_endpointPort_key" ON "Cluster"("endpointPort");

-- CreateIndex
CREATE INDEX "Cluster_createdAt_id_idx" ON "Cluster"("createdAt", "id");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_prefix_key" ON "ApiKey"("prefix");

-- CreateIndex
CREATE INDEX "ScalingEvent_clusterId_createdAt_idx" ON "ScalingEvent"("clusterId", "createdAt");

-- AddForeignKey
ALTER TABLE "ScalingEvent" ADD CONSTRAINT "ScalingEvent_clusterId_fkey" FOREIGN KEY ("clusterId") REFERENCES "Cluster"("id") ON DELETE CASCADE ON UPDATE CASCADE;

