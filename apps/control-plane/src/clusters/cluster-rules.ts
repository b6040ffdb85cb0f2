// The rules a cluster's capacity settings obey, as pure functions: the REST layer
// checks each field's type and range (DTOs); these check what depends on the mode
// and on the other fields, for a new cluster and for a change to an existing one.
import { CU_PER_WRITER_MAX, CU_STEP } from '../../../../libs/limits/src/index.js';
import type { FieldProblem } from '../common/error-body.js';

export type ClusterMode = 'provisioned' | 'serverless';
export type ReadConsistency = 'instance' | 'cluster';
/** What the endpoint accepts (docs/adr/0012); `optional` serves TLS and plain RESP on one port. */
export type TlsPolicy = 'required' | 'optional' | 'off';
export const tlsPolicies: readonly TlsPolicy[] = ['required', 'optional', 'off'];
export const tlsDefault: TlsPolicy = 'optional';

export const capacityLimits = {
  /** Capacity is set in steps of half a capacity unit (libs/limits, shared with the data node). */
  stepCu: CU_STEP,
  minCu: 0,
  maxCu: 256,
  /**
   * One writer process holds at most this much; above it a cluster runs more writers. From
   * libs/limits: the data node refuses an attach or resize above the same number.
   */
  cuPerWriterMax: CU_PER_WRITER_MAX,
  writerCountMax: 16,
  autoPauseSecondsMin: 1,
  autoPauseSecondsMax: 86_400,
  scaleDownWindowSecondsMin: 1,
  scaleDownWindowSecondsMax: 3_600,
} as const;

export const serverlessDefaults = {
  minCu: 0,
  maxCu: 4,
  autoPauseSeconds: 300,
  /** Above this much capacity per writer a serverless cluster runs more writers (DESIGN §5). */
  cuPerWriterMax: CU_PER_WRITER_MAX,
  /** Scale-down goes to the highest capacity needed within this window (DESIGN §5). */
  scaleDownWindowSeconds: 30,
} as const;
export const provisionedDefaults = { writerCount: 1, cuPerWriter: 2 } as const;

export interface ClusterSettings {
  mode: ClusterMode;
  /** Serverless only. */
  minCu: number | null;
  maxCu: number | null;
  /** Serverless with minCu 0 only; null means the cluster never pauses. */
  autoPauseSeconds: number | null;
  /** Serverless only: the largest writer; above it the cluster runs more writers. */
  cuPerWriterMax: number | null;
  /** Serverless only: scale-down waits for the peak of this many seconds to pass. */
  scaleDownWindowSeconds: number | null;
  /** Provisioned only. */
  writerCount: number | null;
  cuPerWriter: number | null;
  readConsistency: ReadConsistency;
  tls: TlsPolicy;
}

/** What a request may set; a missing field keeps its current (or default) value. */
export interface SettingsInput {
  minCu?: number;
  maxCu?: number;
  autoPauseSeconds?: number | null;
  cuPerWriterMax?: number;
  scaleDownWindowSeconds?: number;
  writerCount?: number;
  cuPerWriter?: number;
  readConsistency?: ReadConsistency;
  tls?: TlsPolicy;
}

export type SettingsResult =
  | { ok: true; settings: ClusterSettings }
  | { ok: false; problems: FieldProblem[] };

const serverlessFields = [
  'minCu',
  'maxCu',
  'autoPauseSeconds',
  'cuPerWriterMax',
  'scaleDownWindowSeconds',
] as const;
const provisionedFields = ['writerCount', 'cuPerWriter'] as const;
export const settingsFields = [...serverlessFields, ...provisionedFields, 'readConsistency', 'tls'] as const;

export function isMultipleOfStep(value: number): boolean {
  return Number.isFinite(value) && Number.isInteger(value / capacityLimits.stepCu);
}

function fieldsOfOtherMode(mode: ClusterMode, input: SettingsInput): FieldProblem[] {
  const foreign = mode === 'serverless' ? provisionedFields : serverlessFields;
  const explanation =
    mode === 'serverless'
      ? 'serverless clusters scale between minCu and maxCu'
      : 'provisioned clusters run writerCount writers of cuPerWriter capacity units each';
  return foreign
    .filter((field) => input[field] !== undefined)
    .map((field) => ({ field, problems: [`${field} does not apply to ${mode} clusters: ${explanation}`] }));
}

function resolveServerless(base: Partial<ClusterSettings>, input: SettingsInput): ClusterSettings {
  const minCu = input.minCu ?? base.minCu ?? serverlessDefaults.minCu;
  const maxCu = input.maxCu ?? base.maxCu ?? Math.max(serverlessDefaults.maxCu, minCu);
  let autoPauseSeconds: number | null;
  if (input.autoPauseSeconds !== undefined) autoPauseSeconds = input.autoPauseSeconds;
  else if (minCu === 0) autoPauseSeconds = base.autoPauseSeconds ?? serverlessDefaults.autoPauseSeconds;
  else autoPauseSeconds = null; // A cluster that never drops below minCu > 0 never pauses.
  return {
    mode: 'serverless',
    minCu,
    maxCu,
    autoPauseSeconds,
    cuPerWriterMax: input.cuPerWriterMax ?? base.cuPerWriterMax ?? serverlessDefaults.cuPerWriterMax,
    scaleDownWindowSeconds:
      input.scaleDownWindowSeconds ??
      base.scaleDownWindowSeconds ??
      serverlessDefaults.scaleDownWindowSeconds,
    writerCount: null,
    cuPerWriter: null,
    readConsistency: input.readConsistency ?? base.readConsistency ?? 'instance',
    tls: input.tls ?? base.tls ?? tlsDefault,
  };
}

function resolveProvisioned(base: Partial<ClusterSettings>, input: SettingsInput): ClusterSettings {
  return {
    mode: 'provisioned',
    minCu: null,
    maxCu: null,
    autoPauseSeconds: null,
    cuPerWriterMax: null,
    scaleDownWindowSeconds: null,
    writerCount: input.writerCount ?? base.writerCount ?? provisionedDefaults.writerCount,
    cuPerWriter: input.cuPerWriter ?? base.cuPerWriter ?? provisionedDefaults.cuPerWriter,
    readConsistency: input.readConsistency ?? base.readConsistency ?? 'instance',
    tls: input.tls ?? base.tls ?? tlsDefault,
  };
}

function crossFieldProblems(settings: ClusterSettings): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const { minCu, maxCu, autoPauseSeconds, writerCount, cuPerWriter } = settings;
  if (settings.mode === 'serverless' && minCu !== null && maxCu !== null) {
    if (maxCu < capacityLimits.stepCu) {
      problems.push({
        field: 'maxCu',
        problems: [`maxCu must be at least ${capacityLimits.stepCu}: a cluster needs capacity to run`],
      });
    }
    if (minCu > maxCu) {
      problems.push({ field: 'minCu', problems: [`minCu (${minCu}) must not be above maxCu (${maxCu})`] });
    }
    if (minCu === 0 && autoPauseSeconds === null) {
      problems.push({
        field: 'autoPauseSeconds',
        problems: [
          'autoPauseSeconds cannot be null while minCu is 0 (at 0 CU a cluster is paused): set minCu to 0.5 or more to never pause',
        ],
      });
    }
    if (minCu > 0 && autoPauseSeconds !== null) {
      problems.push({
        field: 'autoPauseSeconds',
        problems: [
          `autoPauseSeconds applies only when minCu is 0; with minCu ${minCu} the cluster never pauses`,
        ],
      });
    }
  }
  if (settings.mode === 'provisioned' && writerCount !== null && cuPerWriter !== null) {
    if (writerCount * cuPerWriter > capacityLimits.maxCu) {
      problems.push({
        field: 'writerCount',
        problems: [
          `writerCount × cuPerWriter (${writerCount * cuPerWriter}) must not exceed ${capacityLimits.maxCu} capacity units`,
        ],
      });
    }
  }
  return problems;
}

function resolve(mode: ClusterMode, base: Partial<ClusterSettings>, input: SettingsInput): SettingsResult {
  const foreign = fieldsOfOtherMode(mode, input);
  if (foreign.length > 0) return { ok: false, problems: foreign };
  const settings = mode === 'serverless' ? resolveServerless(base, input) : resolveProvisioned(base, input);
  const problems = crossFieldProblems(settings);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, settings };
}

/** Settings of a new cluster: the input over the mode's defaults. */
export function settingsForNewCluster(mode: ClusterMode, input: SettingsInput): SettingsResult {
  return resolve(mode, {}, input);
}

/** Settings after a change: the input over the current settings; an empty change is refused. */
export function settingsAfterChange(current: ClusterSettings, change: SettingsInput): SettingsResult {
  if (settingsFields.every((field) => change[field] === undefined)) {
    return {
      ok: false,
      problems: [{ field: '(body)', problems: [`send at least one of: ${settingsFields.join(', ')}`] }],
    };
  }
  return resolve(current.mode, current, change);
}

/** The lowest port of [min, max] that no cluster uses, or null when all are taken. */
export function lowestFreePort(used: Iterable<number>, min: number, max: number): number | null {
  const taken = new Set(used);
  for (let port = min; port <= max; port += 1) if (!taken.has(port)) return port;
  return null;
}
