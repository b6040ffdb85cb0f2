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
export { DEFAULT_FLEET, formatFleet, type NodeAddress, parseFleet } from './node-addresses.js';
