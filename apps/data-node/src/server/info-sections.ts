// Pure parts of INFO: which sections a request names, and the Memory and CPU sections from the
// process's own figures (Node's process.memoryUsage and process.cpuUsage), named as Redis names
// its fields so that monitoring tools find them.

export type InfoField = [string, string | number];

/** Redis 7's default sections (INFO, INFO default), plus Borealis's own. */
const DEFAULT_SECTIONS = [
  'server',
  'clients',
  'memory',
  'persistence',
  'stats',
  'replication',
  'cpu',
  'errorstats',
  'cluster',
  'keyspace',
  'borealis',
];

/** The lowercase sections INFO's arguments ask for (Redis 7 takes several at once). */
export function wantedSections(arguments_: readonly string[]): Set<string> {
  const wanted = new Set<string>();
  if (arguments_.length === 0) return new Set(DEFAULT_SECTIONS);
  for (const argument of arguments_) {
    const lower = argument.toLowerCase();
    if (lower === 'default') for (const each of DEFAULT_SECTIONS) wanted.add(each);
    else if (lower === 'all' || lower === 'everything') {
      for (const each of DEFAULT_SECTIONS) wanted.add(each);
      wanted.add('commandstats');
    } else wanted.add(lower);
  }
  return wanted;
}

/** Redis's bytesToHuman: `1023B`, `1.33K`, `6.94M`, `23.54G`. */
export function bytesToHuman(bytes: number): string {
  const units = ['K', 'M', 'G', 'T', 'P'];
  if (bytes < 1024) return `${bytes}B`;
  let value = bytes / 1024;
  for (const unit of units) {
    if (value < 1024 || unit === 'P') return `${value.toFixed(2)}${unit}`;
    value /= 1024;
  }
  return `${bytes}B`;
}

export interface MemoryFigures {
  usage: NodeJS.MemoryUsage;
  /** Highest used_memory seen so far. */
  peakBytes: number;
  /** used_memory when the process had started. */
  startupBytes: number;
  /** Bytes of Redis data this node holds: its cache of the volume's values. */
  datasetBytes: number;
  totalSystemBytes: number;
  maxmemory: string;
  maxmemoryPolicy: string;
}

/** What the process has allocated: V8's heap in use plus memory outside it (Buffers). */
export function usedMemory(usage: NodeJS.MemoryUsage): number {
  return usage.heapUsed + usage.external;
}

export function memoryFields(figures: MemoryFigures): InfoField[] {
  const used = usedMemory(figures.usage);
  const peak = Math.max(figures.peakBytes, used);
  const dataset = Math.min(figures.datasetBytes, used);
  const maxmemory = Number(figures.maxmemory);
  const percent = (part: number, whole: number): string =>
    `${whole === 0 ? '0.00' : ((part * 100) / whole).toFixed(2)}%`;
  return [
    ['used_memory', used],
    ['used_memory_human', bytesToHuman(used)],
    ['used_memory_rss', figures.usage.rss],
    ['used_memory_rss_human', bytesToHuman(figures.usage.rss)],
    ['used_memory_peak', peak],
    ['used_memory_peak_human', bytesToHuman(peak)],
    ['used_memory_peak_perc', percent(used, peak)],
    ['used_memory_overhead', used - dataset],
    ['used_memory_startup', figures.startupBytes],
    ['used_memory_dataset', dataset],
    [
      'used_memory_dataset_perc',
      percent(dataset, used - figures.startupBytes > 0 ? used - figures.startupBytes : used),
    ],
    ['total_system_memory', figures.totalSystemBytes],
    ['total_system_memory_human', bytesToHuman(figures.totalSystemBytes)],
    ['used_memory_lua', 0],
    ['used_memory_scripts', 0],
    ['maxmemory', maxmemory],
    ['maxmemory_human', bytesToHuman(maxmemory)],
    ['maxmemory_policy', figures.maxmemoryPolicy],
    ['mem_fragmentation_ratio', used === 0 ? '0.00' : (figures.usage.rss / used).toFixed(2)],
    ['mem_fragmentation_bytes', figures.usage.rss - used],
    ['mem_allocator', 'v8'],
    // Borealis: the V8 heap's own figures, for whoever wants to see where used_memory goes.
    ['heap_total', figures.usage.heapTotal],
    ['heap_used', figures.usage.heapUsed],
    ['external_memory', figures.usage.external],
  ];
}

/** process.cpuUsage() is in microseconds; Redis prints seconds with six decimals. */
export function cpuFields(usage: NodeJS.CpuUsage): InfoField[] {
  const seconds = (micros: number): string => (micros / 1e6).toFixed(6);
  return [
    ['used_cpu_sys', seconds(usage.system)],
    ['used_cpu_user', seconds(usage.user)],
    // A data node starts no child processes.
    ['used_cpu_sys_children', seconds(0)],
    ['used_cpu_user_children', seconds(0)],
  ];
}
