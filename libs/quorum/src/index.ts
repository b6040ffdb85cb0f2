// The quorum protocol: pure state machines shared by storage nodes, writers and the simulator.
export * from './messages.js';
export * from './quorum-table.js';
export * from './recovery.js';
export * from './repair.js';
export * from './replica.js';
export * from './validate.js';
export * from './writer.js';
