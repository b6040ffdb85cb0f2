export * from './quorum-client.js';
