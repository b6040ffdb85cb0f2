// Checks docker-compose.yml and the Dockerfile without Docker: the services users get
// with `docker compose up`, how they reach each other, and what the image runs.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

// dist/test/static/ → the repository root.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fromRoot = (path: string): string => join(repoRoot, path);

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fields(value: unknown, what: string): Fields {
  assert.ok(isFields(value), `${what} must be a mapping`);
  return value;
}

const compose = fields(parse(readFileSync(fromRoot('docker-compose.yml'), 'utf8')), 'docker-compose.yml');
const services = fields(compose.services, 'services');
const service = (name: string): Fields => fields(services[name], `service ${name}`);

/** `environment` as a mapping, from either the mapping or the list ("KEY=VALUE") form. */
function environmentOf(definition: Fields): Record<string, string> {
  const environment = definition.environment;
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const text = String(entry);
        const equals = text.indexOf('=');
        return equals < 0 ? [text, ''] : [text.slice(0, equals), text.slice(equals + 1)];
      }),
    );
  }
  if (environment === undefined || environment === null) return {};
  return Object.fromEntries(
    Object.entries(fields(environment, 'environment')).map(([key, value]) => [key, String(value ?? '')]),
  );
}

function portRange(text: string): number[] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  assert.ok(match, `${JSON.stringify(text)} is not a port or a port range`);
  const first = Number(match[1]);
  const last = Number(match[2] ?? match[1]);
  return Array.from({ length: last - first + 1 }, (_, offset) => first + offset);
}

interface Published {
  host: number[];
  container: number[];
}

/** Host and container ports of one `ports` entry, short ("[ip:]host:container[/proto]") or long syntax. */
function publishedPorts(entry: unknown): Published {
  if (isFields(entry)) {
    const container = portRange(String(entry.target));
    return { host: entry.published === undefined ? [] : portRange(String(entry.published)), container };
  }
  const text = String(entry).replace(/\/(tcp|udp|sctp)$/, '');
  // An IPv6 host address is written in brackets: [::1]:7400:7400.
  const parts = text.replace(/^\[[^\]]*\]:/, '').split(':');
  const container = portRange(parts.at(-1) ?? '');
  if (parts.length === 1) return { host: [], container }; // a random host port
  const host = parts.at(-2) ?? '';
  return { host: host === '' ? [] : portRange(host), container };
}

function portsOf(definition: Fields): Published[] {
  const ports = definition.ports ?? [];
  assert.ok(Array.isArray(ports), '`ports` must be a list');
  return ports.map(publishedPorts);
}

interface Mount {
  /** A volume name, a host path (bind mount), or '' for an anonymous volume. */
  source: string;
  target: string;
  named: boolean;
}

/** The `volumes` of a service, short ("source:target[:mode]") or long ({ type, source, target }) syntax. */
function mountsOf(definition: Fields): Mount[] {
  const volumes = definition.volumes ?? [];
  assert.ok(Array.isArray(volumes), '`volumes` must be a list');
  return volumes.map((volume) => {
    if (isFields(volume)) {
      const source = typeof volume.source === 'string' ? volume.source : '';
      return { source, target: String(volume.target), named: volume.type === 'volume' && source !== '' };
    }
    const parts = String(volume).split(':');
    if (parts.length === 1) return { source: '', target: parts[0] ?? '', named: false };
    const source = parts[0] ?? '';
    // Bind mounts name a host path; named volumes are plain names.
    return { source, target: parts[1] ?? '', named: !/^[./~$]/.test(source) };
  });
}

// --- the Dockerfile ----------------------------------------------------------------------

interface Instruction {
  keyword: string;
  argument: string;
}

function dockerfileInstructions(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  if (current.trim() !== '') logical.push(current.trim());
  return logical.map((line) => {
    const space = line.search(/\s/);
    return space < 0
      ? { keyword: line.toUpperCase(), argument: '' }
      : { keyword: line.slice(0, space).toUpperCase(), argument: line.slice(space).trim() };
  });
}

/** The words of an exec-form (JSON array) or shell-form command. */
function commandWords(argument: string): string[] {
  if (argument.startsWith('[')) {
    const words: unknown = JSON.parse(argument);
    assert.ok(
      Array.isArray(words) && words.every((word) => typeof word === 'string'),
      `bad exec form: ${argument}`,
    );
    return words;
  }
  return ['/bin/sh', '-c', argument];
}

describe('docker-compose.yml', () => {
  it('defines the postgres, redis and control-plane services', () => {
    for (const name of ['postgres', 'redis', 'control-plane'])
      assert.ok(isFields(services[name]), `service ${name} is missing`);
    assert.match(String(service('postgres').image), /^postgres:18\b/);
    assert.match(String(service('redis').image), /^redis:7\b/);
  });

  it('builds control-plane from a Dockerfile that exists', () => {
    const build = service('control-plane').build;
    assert.ok(build !== undefined, 'control-plane has no build');
    const context = typeof build === 'string' ? build : String(fields(build, 'build').context ?? '.');
    const dockerfile =
      typeof build === 'string' ? 'Dockerfile' : String(fields(build, 'build').dockerfile ?? 'Dockerfile');
    const path = posix.join(context, dockerfile);
    assert.ok(existsSync(fromRoot(path)), `${path} does not exist`);
  });

  it('points DATABASE_URL and REDIS_URL of control-plane at the postgres and redis services', () => {
    const environment = environmentOf(service('control-plane'));
    const database = new URL(environment.DATABASE_URL ?? 'missing:');
    assert.match(database.protocol, /^postgres(ql)?:$/, 'DATABASE_URL is not a PostgreSQL URL');
    assert.equal(database.hostname, 'postgres', 'DATABASE_URL must name the postgres service');
    const postgresEnvironment = environmentOf(service('postgres'));
    assert.equal(decodeURIComponent(database.username), postgresEnvironment.POSTGRES_USER);
    assert.equal(decodeURIComponent(database.password), postgresEnvironment.POSTGRES_PASSWORD);
    assert.equal(decodeURIComponent(database.pathname.slice(1)), postgresEnvironment.POSTGRES_DB);

    const redis = new URL(environment.REDIS_URL ?? 'missing:');
    assert.match(redis.protocol, /^rediss?:$/, 'REDIS_URL is not a Redis URL');
    assert.equal(redis.hostname, 'redis', 'REDIS_URL must name the redis service');
  });

  it('makes the control plane reachable from outside its container on 7400', () => {
    const environment = environmentOf(service('control-plane'));
    assert.ok(
      ['0.0.0.0', '::'].includes(environment.HOST ?? ''),
      `HOST is ${JSON.stringify(environment.HOST)}, not 0.0.0.0`,
    );
    assert.equal(environment.PORT, '7400');
    const api = portsOf(service('control-plane')).find((published) => published.container.includes(7400));
    assert.ok(api, 'container port 7400 is not published');
    assert.deepEqual(api.host, [7400]);
  });

  it('starts control-plane only once postgres and redis are healthy', () => {
    const dependsOn = fields(
      service('control-plane').depends_on,
      'control-plane depends_on (with conditions)',
    );
    for (const name of ['postgres', 'redis']) {
      assert.equal(
        fields(dependsOn[name], `depends_on.${name}`).condition,
        'service_healthy',
        `depends_on.${name}`,
      );
    }
  });

  it('publishes no control-plane host port that a local PostgreSQL or Redis uses', () => {
    const hostPorts = portsOf(service('control-plane')).flatMap((published) => published.host);
    for (const port of [5432, 6379])
      assert.ok(!hostPorts.includes(port), `control-plane publishes host port ${port}`);
  });

  it('does not publish the ports of postgres and redis', () => {
    for (const name of ['postgres', 'redis']) {
      assert.deepEqual(
        portsOf(service(name)),
        [],
        `${name} must not publish ports: only the other services use it`,
      );
    }
  });

  it('gives postgres and redis health checks and volumes declared at the top level', () => {
    const declared =
      compose.volumes === null || compose.volumes === undefined ? {} : fields(compose.volumes, 'volumes');
    for (const name of ['postgres', 'redis']) {
      const healthcheck = fields(service(name).healthcheck, `${name} healthcheck`);
      assert.ok(healthcheck.test, `${name} healthcheck has no test`);
      const volumes = mountsOf(service(name)).filter((mount) => mount.named);
      assert.ok(volumes.length > 0, `${name} mounts no named volume`);
      for (const { source } of volumes)
        assert.ok(Object.hasOwn(declared, source), `volume ${source} of ${name} is not declared`);
    }
    assert.match(JSON.stringify(service('postgres').healthcheck), /pg_isready/);
  });

  it('keeps Redis data in the volume (append-only file on)', () => {
    const command = service('redis').command;
    const words = Array.isArray(command) ? command.map(String) : String(command ?? '').split(/\s+/);
    const flag = words.indexOf('--appendonly');
    assert.ok(
      flag >= 0 && words[flag + 1] === 'yes',
      `redis command ${JSON.stringify(command)} does not turn appendonly on`,
    );
    assert.ok(
      mountsOf(service('redis')).some((mount) => mount.named && mount.target === '/data'),
      'redis must keep /data in a named volume',
    );
  });

  it('checks control-plane health with GET /health', () => {
    const healthcheck = fields(service('control-plane').healthcheck, 'control-plane healthcheck');
    assert.match(JSON.stringify(healthcheck.test), /127\.0\.0\.1:7400\/health/);
  });
});

describe('Dockerfile', () => {
  const build = service('control-plane').build;
  const context = typeof build === 'string' ? build : String((isFields(build) && build.context) || '.');
  const dockerfileName =
    isFields(build) && typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile';
  const dockerfilePath = fromRoot(posix.join(context, dockerfileName));

  it('starts from node:20-bookworm-slim, installs from the lock file and builds', () => {
    const instructions = dockerfileInstructions(readFileSync(dockerfilePath, 'utf8'));
    assert.match(
      instructions.find((instruction) => instruction.keyword === 'FROM')?.argument ?? '',
      /^node:20-bookworm-slim\b/,
    );
    const runs = instructions
      .filter((instruction) => instruction.keyword === 'RUN')
      .map((instruction) => instruction.argument);
    assert.ok(
      runs.some((run) => /\bnpm install\b/.test(run)),
      'no RUN npm install',
    );
    assert.ok(
      runs.some((run) => /\bnpm run build\b/.test(run)),
      'no RUN npm run build',
    );
  });

  it('runs scripts/start.mjs, a file of the repository', () => {
    const instructions = dockerfileInstructions(readFileSync(dockerfilePath, 'utf8'));
    const last = (keyword: string) =>
      instructions.filter((instruction) => instruction.keyword === keyword).at(-1);
    const entrypoint = last('ENTRYPOINT');
    const cmd = last('CMD');
    assert.ok(entrypoint || cmd, 'the Dockerfile has no CMD or ENTRYPOINT');
    const words = [
      ...(entrypoint ? commandWords(entrypoint.argument) : []),
      ...(cmd ? commandWords(cmd.argument) : []),
    ];
    const command = words.join(' ');
    assert.match(command, /\bnode\b/, `the image runs ${JSON.stringify(command)}, not node`);

    // The repository is copied into WORKDIR, so a path relative to it (or under it) is a repository path.
    const workdir = last('WORKDIR')?.argument ?? '/';
    const script = words
      .flatMap((word) => word.split(/\s+/))
      .find((word) => word.endsWith('scripts/start.mjs'));
    assert.ok(script, `the image runs ${JSON.stringify(command)}, not scripts/start.mjs`);
    const inRepository = posix.relative(workdir, posix.resolve(workdir, script));
    assert.equal(inRepository, 'scripts/start.mjs');
    assert.ok(
      existsSync(fromRoot(inRepository)),
      `${inRepository}, which the image runs, does not exist in the repository`,
    );
  });

  it('has a .dockerignore that keeps local build output and data out of the image', () => {
    const path = fromRoot(posix.join(context, '.dockerignore'));
    assert.ok(existsSync(path), '.dockerignore is missing');
    const entries = readFileSync(path, 'utf8')
      .split(/\r?\n/)
      .map((line) => line.trim().replace(/^\/|\/$/g, ''));
    for (const entry of ['node_modules', 'dist', 'generated', '.data', '.git']) {
      assert.ok(entries.includes(entry), `.dockerignore does not list ${entry}`);
    }
  });
});
