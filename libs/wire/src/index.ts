export {
  encodeFrame,
  encodeFrames,
  FRAME_BYTES_MAX_DEFAULT,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
} from './frames.js';
