-- TLS on client endpoints (docs/adr/0012): each cluster says whether its endpoint requires TLS,
-- accepts TLS and plain RESP on the same port, or plain only. Existing clusters get `optional`:
-- their plain clients go on working, and TLS clients can connect.

-- CreateEnum
CREATE TYPE "TlsPolicy" AS ENUM ('required', 'optional', 'off');

-- AlterTable
ALTER TABLE "Cluster" ADD COLUMN     "tls" "TlsPolicy" NOT NULL DEFAULT 'optional';
