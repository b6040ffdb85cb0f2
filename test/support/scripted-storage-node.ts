// A TCP listener that stands in for a storage node in tests of the storage client: it welcomes
// every hello (a storage node does, and only then does a link count as up), records each frame
// it receives after that as the list of message types it carried, and answers only what
// `answer` returns for a message (nothing by default), so that calls stay in flight for as long
// as a test needs.
import { createServer, type Server, type Socket } from 'node:net';
import { encodeFrames, FrameDecoder } from '../../libs/wire/src/frames.js';

/** Writer timing under which a client neither resends, recovers nor gives up while a test runs. */
export const QUIET_TIMING = {
  retransmitMs: 120_000,
  retransmitMsMax: 120_000,
  commitRecoveryAfterMs: 120_000,
  commitDeadlineMs: 120_000,
  pendingTimeoutMs: 120_000,
  readDeadlineMs: 120_000,
};

export interface ScriptedStorageNode {
  id: string;
  port: number;
  /** Each frame received after the hello: the types of the messages it carried, in order. */
  frames: string[][];
  /** Sends `message` to every client connected now. */
  tellClients(message: unknown): void;
  close(): Promise<void>;
}

/** `answer` returns the reply to one received message, or null for none. */
export async function startScriptedStorageNode(
  id: string,
  answer: (message: { type: string } & Record<string, unknown>) => unknown | null = () => null,
): Promise<ScriptedStorageNode> {
  const frames: string[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        const messages = (Array.isArray(frame) ? frame : [frame]) as ({ type: string } & Record<
          string,
          unknown
        >)[];
        if (messages[0]?.type === 'hello') {
          socket.write(encodeFrames([{ type: 'welcome' }]));
          continue;
        }
        frames.push(messages.map((message) => message.type));
        for (const message of messages) {
          const reply = answer(message);
          if (reply !== null) socket.write(encodeFrames([reply]));
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    id,
    port: (server.address() as { port: number }).port,
    frames,
    tellClients: (message) => {
      for (const socket of sockets) socket.write(encodeFrames([message]));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
