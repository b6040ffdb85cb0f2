// redis-cli 7.0 builds its help and its typing hints from the server's COMMAND DOCS (it falls
// back to a table of its own when the server has none). Against a data node it must show what it
// shows against Redis 7.0.15 for Redis's commands, and the node's own docs for BOREALIS, which
// its own table cannot know: proof that the hints come from the node's argument docs.
//
// Hints appear only in an interactive session, so redis-cli runs in a pseudo-terminal (script(1));
// each keystroke is sent once the output shows the state before it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { runTool } from '../support/clients.js';
import { type RunningDataNode, startDataNode } from '../support/data-nodes.js';
import { type StorageFleet, startStorageFleet } from '../support/storage-fleet.js';

const TOOL_TIMEOUT_MS = 30_000;
/** How redis-cli colours a hint (grey) and ends the colour. */
const HINT_START = '\u001b[0;90;49m';
const HINT_END = '\u001b[0m';
/** The hint redis-cli 7.0.15 shows after `SET k v ` against Redis 7.0.15. */
const SET_HINT =
  '[NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]';
/** What `redis-cli help hset` prints against Redis 7.0.15 (bold name, grey arguments). */
const HSET_HELP = [
  '',
  '  \u001b[1mHSET\u001b[0m \u001b[90mkey field value [field value ...]\u001b[0m',
  '  \u001b[33msummary:\u001b[0m Set the string value of a hash field',
  '  \u001b[33msince:\u001b[0m 2.0.0',
  '  \u001b[33mgroup:\u001b[0m hash',
  '',
  '',
].join('\n');

let fleet: StorageFleet | undefined;
let node: RunningDataNode | undefined;
const tools = new Set<ChildProcess>();

function port(): number {
  assert.ok(node, 'the data node is running');
  return node.respPort;
}

/**
 * Types `typed` at an interactive redis-cli (after its prompt) and answers the grey hint it then
 * shows, or null when the line is echoed with none.
 */
function hintFor(respPort: number, typed: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    // A terminal width, or linenoise asks the terminal for one and waits for an answer.
    const child = spawn('script', ['-qfec', `stty cols 300 rows 40; redis-cli -p ${respPort}`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    tools.add(child);
    let output = '';
    let typedAll = false;
    let hint: string | null = null;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-cli showed no line for ${JSON.stringify(typed)}:\n${JSON.stringify(output)}`));
    }, TOOL_TIMEOUT_MS);
    child.stdout.setEncoding('latin1').on('data', (chunk: string) => {
      output += chunk;
      if (!typedAll && output.includes('> ')) {
        typedAll = true;
        child.stdin.write(typed);
        return;
      }
      // The line is redrawn after each keystroke: the last redraw of the whole input tells.
      const redraw = output.lastIndexOf(`> ${typed}`);
      if (typedAll && redraw >= 0 && output.indexOf('\r', redraw) >= 0 && hint === null) {
        const after = output.slice(redraw + 2 + typed.length, output.indexOf('\r', redraw));
        hint =
          after.startsWith(HINT_START) && after.endsWith(HINT_END)
            ? after.slice(HINT_START.length, -HINT_END.length)
            : '';
        // Ctrl-U clears the line, then QUIT ends the session.
        child.stdin.write('\u0015quit\r');
      }
    });
    child.once('error', reject);
    child.once('close', () => {
      clearTimeout(timer);
      tools.delete(child);
      resolve(hint === '' ? null : hint);
    });
  });
}

describe('redis-cli against a data node', () => {
  before(async () => {
    fleet = await startStorageFleet();
    node = await startDataNode({ id: 'hints-d1', storage: fleet.nodes, coordinatorId: 7, cluster: 'hints' });
  });

  after(async () => {
    for (const child of tools) child.kill('SIGKILL');
    await node?.stop();
    await fleet?.stop();
  });

  it('prints the help Redis 7.0 gives, built from the argument docs', async () => {
    const result = await runTool(
      'redis-cli',
      ['-p', String(port()), 'help', 'hset'],
      '',
      TOOL_TIMEOUT_MS,
      tools,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.replaceAll('\r', ''), HSET_HELP);
    const own = await runTool(
      'redis-cli',
      ['-p', String(port()), 'help', 'borealis', 'consistency'],
      '',
      TOOL_TIMEOUT_MS,
      tools,
    );
    assert.ok(
      own.stdout.includes('BOREALIS CONSISTENCY\u001b[0m \u001b[90m[INSTANCE|CLUSTER|DEFAULT]'),
      JSON.stringify(own.stdout),
    );
  });

  it('shows the typing hints of Redis 7.0, and those of the node own command', async () => {
    assert.equal(await hintFor(port(), 'SET k v '), SET_HINT);
    assert.equal(await hintFor(port(), 'HSET h '), 'field value [field value ...]');
    assert.equal(await hintFor(port(), 'BOREALIS CONSISTENCY '), '[INSTANCE|CLUSTER|DEFAULT]');
  });
});
