// The autoscaler's decision for one cluster on one tick (DESIGN §5), as a pure function: the
// cluster, what it remembers, its latest load and the time go in; actions (scale, pause, wait),
// the new memory and an explanation for people come out. No I/O, no clock, no randomness: the
// control plane's loop feeds it, and tests drive it with a fake clock.
import { capacityLimits } from '../clusters/cluster-rules.js';
import { floorCu, writerLayout } from '../compute/writer-plan.js';
import {
  type AutoscalerAction,
  type AutoscalerMemory,
  type Capacity,
  type ClusterView,
  type Decision,
  type Explanation,
  type Holder,
  LOAD_REPORT_STALE_MS,
  type LoadSample,
} from './autoscaler-model.js';

const STEP = capacityLimits.stepCu;

export function emptyMemory(): AutoscalerMemory {
  return { window: [] };
}

/**
 * CU for `demandPerSecond` at the target utilization: rounded up to a step of 0.5, clamped to
 * the cluster's floor and maximum.
 */
export function desiredCu(
  demandPerSecond: number,
  settings: { minCu: number; maxCu: number; targetUtilization: number },
  cuCommandsPerSecond: number,
): number {
  const raw = Math.max(0, demandPerSecond) / (settings.targetUtilization * cuCommandsPerSecond);
  // A hair below a step boundary stays on it (floating point: 2.8/0.7 is 4.000000000000001).
  const steps = Math.ceil(raw / STEP - 1e-9);
  return Math.min(Math.max(steps * STEP, floorCu(settings)), Math.max(settings.maxCu, STEP));
}

/**
 * Commands/s that arrive for the cluster. At the endpoint the proxy counts each command once, as
 * it arrives, whether a writer then serves it at once or throttles it. Without endpoint traffic
 * (clients on the writers directly, or before the proxy's first report) the writers' served plus
 * throttled commands stand in. The writers' numbers are not added to the endpoint's: a throttled
 * command is counted by a writer twice (delayed, then served), and while a queue drains they
 * read as demand the clients never sent, which scaled a steady 200 commands/s to 8 writers.
 */
function demandOf(load: LoadSample): number {
  if (load.proxyCommandsPerSecond > 0) return load.proxyCommandsPerSecond;
  return load.commandsPerSecond + load.throttledPerSecond;
}

function writersFor(cu: number, cuPerWriterMax: number): number {
  return writerLayout(cu, cuPerWriterMax).length;
}

export function decide(
  view: ClusterView,
  memory: AutoscalerMemory,
  load: LoadSample | null,
  nowMs: number,
): Decision {
  const { settings, current } = view;
  if (view.mode === 'provisioned') {
    return still(view, memory, ['provisioned'], {
      summary: `A provisioned cluster runs a fixed ${describe(current)}; convert it to serverless to autoscale it.`,
    });
  }
  if (view.state !== 'available') {
    return still(view, emptyMemory(), ['not-available'], {
      summary: `The cluster is ${view.state}; the autoscaler acts only on an available cluster.`,
    });
  }
  const fresh = load !== null && nowMs - load.atMs <= LOAD_REPORT_STALE_MS ? load : null;
  const windowStart = nowMs - settings.scaleDownWindowMs;
  // First sight of the cluster: it keeps its size for a whole window before shrinking.
  const seeded = memory.window.length === 0 ? [{ atMs: nowMs, cu: current.cu }] : memory.window;
  const demand = fresh === null ? null : demandOf(fresh);
  const demandCu = demand === null ? null : desiredCu(demand, settings, view.cuCommandsPerSecond);
  const window = slide(seeded, demandCu === null ? null : { atMs: nowMs, cu: demandCu }, windowStart);
  const windowPeakCu = Math.max(floorCu(settings), window[0]?.cu ?? 0);
  const nextMemory: AutoscalerMemory = { window };
  const idleSinceMs = Math.max(fresh?.lastCommandAtMs ?? 0, view.availableSinceMs);
  const idleSeconds = fresh === null ? null : Math.max(0, (nowMs - idleSinceMs) / 1_000);

  if (fresh === null || demand === null || demandCu === null) {
    const holders: Holder[] = view.busy ? ['busy', 'no-load-report'] : ['no-load-report'];
    return {
      actions: [],
      memory: nextMemory,
      explanation: {
        current,
        desired: current,
        demandPerSecond: null,
        demandCu: null,
        windowPeakCu,
        idleSeconds: null,
        secondsToPause: null,
        holders,
        summary: `Runs ${describe(current)}. No fresh load report (none for ${LOAD_REPORT_STALE_MS / 1_000} s): it neither scales down nor pauses until one arrives.`,
      },
    };
  }

  const holders: Holder[] = [];
  const sentences = [`Runs ${describe(current)} for ${rate(demand)} commands/s.`];
  const perCu = view.cuCommandsPerSecond;
  const utilization = Math.round(settings.targetUtilization * 100);

  // Capacity: up at once, down to the window's peak.
  let target = current.cu;
  let reason = '';
  if (demandCu > current.cu) {
    target = demandCu;
    reason = `demand ${rate(demand)} commands/s needs ${demandCu} CU at ${utilization}% of ${rate(perCu)} commands/s per CU`;
  } else if (windowPeakCu < current.cu) {
    target = windowPeakCu;
    reason = `the most any moment of the last ${seconds(settings.scaleDownWindowMs)} s needed is ${windowPeakCu} CU (demand now ${rate(demand)} commands/s)`;
  }
  if (demand / (settings.targetUtilization * perCu) > settings.maxCu) {
    holders.push('maximum');
    sentences.push(`The demand wants more than its maximum of ${settings.maxCu} CU.`);
  }
  let waitUntilMs: number | null = null;
  let waitReason = '';
  if (target === current.cu && current.cu > floorCu(settings)) {
    if (demandCu >= current.cu) {
      holders.push('demand');
      sentences.push(`The demand needs all of it (${demandCu} CU).`);
    } else {
      holders.push('window');
      const expiry = peakExpiry(window, current.cu, settings.scaleDownWindowMs);
      sentences.push(
        `It would need ${demandCu} CU for the current demand, but ${windowPeakCu} CU was needed within the last ${seconds(settings.scaleDownWindowMs)} s, so it stays at ${current.cu} CU${expiry === null ? '' : ` for ${seconds(expiry - nowMs)} s more`}.`,
      );
      if (expiry !== null) {
        waitUntilMs = expiry;
        waitReason = 'the window peak expires';
      }
    }
  } else if (target <= floorCu(settings)) {
    holders.push('minimum');
    sentences.push(`${floorCu(settings)} CU is the least it runs while awake.`);
  }
  const targetWriters = writersFor(target, settings.cuPerWriterMax);

  // Pause: only at minimum 0, with auto-pause on, and no session inside MULTI or WATCH.
  let pause = false;
  let secondsToPause: number | null = null;
  if (settings.minCu > 0) {
    holders.push('minimum');
    sentences.push(`It does not pause: its minimum is ${settings.minCu} CU.`);
  } else if (settings.autoPauseSeconds === null) {
    holders.push('auto-pause-off');
    sentences.push('It does not pause: auto-pause is off.');
  } else if (fresh.sessionsInTransaction > 0) {
    holders.push('transaction');
    const sessions = fresh.sessionsInTransaction;
    sentences.push(
      `It is not paused: ${sessions} ${sessions === 1 ? 'session is' : 'sessions are'} inside MULTI or ${sessions === 1 ? 'holds' : 'hold'} a WATCH.`,
    );
  } else {
    const pauseAtMs = idleSinceMs + settings.autoPauseSeconds * 1_000;
    if (nowMs >= pauseAtMs) {
      pause = true;
      sentences.push(`No command for ${seconds(nowMs - idleSinceMs)} s: it pauses.`);
    } else {
      holders.push('recent-command');
      secondsToPause = Math.ceil((pauseAtMs - nowMs) / 1_000);
      sentences.push(`It pauses in ${secondsToPause} s if no command arrives.`);
      if (waitUntilMs === null || pauseAtMs < waitUntilMs) {
        waitUntilMs = pauseAtMs;
        waitReason = `${settings.autoPauseSeconds} s without a command`;
      }
    }
  }
  const uniqueHolders = [...new Set(view.busy ? (['busy', ...holders] as Holder[]) : holders)];
  if (view.busy) sentences.push('An earlier change is still being carried out.');

  const actions: AutoscalerAction[] = [];
  let desired: Capacity = current;
  if (!view.busy) {
    if (pause) {
      actions.push({
        kind: 'pause',
        reason: `no command for ${seconds(nowMs - idleSinceMs)} s (autoPauseSeconds ${settings.autoPauseSeconds}) and no session inside MULTI or holding a WATCH`,
      });
      desired = { cu: 0, writers: 0 };
    } else if (target !== current.cu || targetWriters !== current.writers) {
      actions.push({
        kind: 'scale',
        toCu: target,
        toWriters: targetWriters,
        reason:
          reason ||
          `${target} CU runs on ${targetWriters} writer(s) of at most ${settings.cuPerWriterMax} CU`,
      });
      desired = { cu: target, writers: targetWriters };
    } else if (waitUntilMs !== null) {
      actions.push({ kind: 'wait', untilMs: waitUntilMs, reason: waitReason });
    }
  }
  const explanation: Explanation = {
    current,
    desired,
    demandPerSecond: round(demand),
    demandCu,
    windowPeakCu,
    idleSeconds: idleSeconds === null ? null : round(idleSeconds),
    secondsToPause,
    holders: uniqueHolders,
    summary: sentences.join(' '),
  };
  return { actions, memory: nextMemory, explanation };
}

/**
 * The window after `sample`, as a sliding-window maximum: samples older than `windowStart` leave,
 * and so does every sample a newer one at least as high outlives. What stays falls from oldest to
 * newest, so the first is the window's peak, and the last sample at or above any level is still
 * there (its expiry is when the window stops needing that level). Usually one or two samples,
 * whatever the window's length: a tick stays cheap for a thousand clusters.
 */
function slide(
  window: AutoscalerMemory['window'],
  sample: { atMs: number; cu: number } | null,
  windowStart: number,
): { atMs: number; cu: number }[] {
  const kept = window.filter((entry) => entry.atMs >= windowStart);
  if (sample === null) return kept;
  while (kept.length > 0 && (kept[kept.length - 1] as { cu: number }).cu <= sample.cu) kept.pop();
  kept.push(sample);
  return kept;
}

/** When the window stops holding the cluster at `cu`: the last sample at or above it leaves. */
function peakExpiry(window: AutoscalerMemory['window'], cu: number, windowMs: number): number | null {
  let last: number | null = null;
  for (const sample of window) if (sample.cu >= cu) last = sample.atMs;
  return last === null ? null : last + windowMs;
}

function still(
  view: ClusterView,
  memory: AutoscalerMemory,
  holders: Holder[],
  text: { summary: string },
): Decision {
  return {
    actions: [],
    memory,
    explanation: {
      current: view.current,
      desired: view.current,
      demandPerSecond: null,
      demandCu: null,
      windowPeakCu: view.current.cu,
      idleSeconds: null,
      secondsToPause: null,
      holders,
      summary: text.summary,
    },
  };
}

function describe(capacity: Capacity): string {
  return `${capacity.cu} CU on ${capacity.writers} ${capacity.writers === 1 ? 'writer' : 'writers'}`;
}

/** A whole number with thousands separators (toLocaleString goes through ICU: ten times slower, on every tick). */
function rate(value: number): string {
  return String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function seconds(ms: number): string {
  return String(Math.max(0, Math.round(ms / 100) / 10));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
