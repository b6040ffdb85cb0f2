export { NoticeStreams, STREAM_SILENT_MS } from './notice-streams.js';
export * from './quorum-client.js';
