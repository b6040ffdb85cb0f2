export { readFleetSecretsFile, watchFleetSecretsFile, writeFleetSecretsFile } from './fleet-secrets-file.js';
export {
  encodeBatchFrame,
  encodeBatchFrames,
  encodeFrame,
  encodeFrames,
  encodeMessage,
  FRAME_BYTES_MAX_DEFAULT,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  flattenBatches,
} from './frames.js';
export {
  type AuthenticatedHello,
  type ChallengeMessage,
  type FleetSecret,
  fleetSecret,
  formatFleetSecrets,
  type HelloVerdict,
  isChallenge,
  mintWriterCredential,
  newFleetSecretKey,
  newNonce,
  parseFleetSecrets,
  peerHello,
  verifyHello,
  type WriterClaims,
  type WriterCredential,
  writerHello,
} from './link-auth.js';
export { DEFAULT_FLEET, formatFleet, type NodeAddress, parseFleet } from './node-addresses.js';
