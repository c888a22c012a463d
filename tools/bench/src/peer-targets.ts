import type { LoadMeasurement } from './load-runner.js';
import type { PeerSystem } from './load-case.js';

/** A measurement of one system's operation at one in-flight count. */
export interface PeerResult extends LoadMeasurement {
  system: PeerSystem;
  operation: string;
}

/** A target of issue 9 and how this run stands against it. */
export interface TargetCheck {
  target: string;
  /** The measured figure, or the ratio of two measured figures, as the target states it. */
  measured: number | undefined;
  required: string;
  /** Undefined when a figure it needs was not measured (no etcd installed, a case not run). */
  met: boolean | undefined;
}

/**
 * The targets for the side-by-side run, each computed from this run's rows only: figures
 * of different runs are never compared.
 */
export function checkTargets(results: PeerResult[]): TargetCheck[] {
  const find = (system: PeerSystem, operation: string, concurrency: number) =>
    results.find((r) => r.system === system && r.operation === operation && r.concurrency === concurrency);
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
  const atLeast = (target: string, measured: number | undefined, floor: number, required: string): TargetCheck => ({
    target,
    measured,
    required,
    met: measured === undefined ? undefined : measured >= floor,
  });

  const create64 = find('jobkeep', 'CreateJob', 64);
  const put64 = find('etcd', 'put', 64);
  const cpuRatio = ratio(create64?.serverCpuUsPerOp, put64?.serverCpuUsPerOp);
  const bestBatch = Math.max(...results.filter((r) => r.operation === 'CreateBatch').map((r) => r.opsPerSecond * (r.itemsPerOp ?? 1)));
  const checks: TargetCheck[] = [
    atLeast('CreateJob ops/s ÷ etcd put ops/s, 64 in flight', ratio(create64?.opsPerSecond, put64?.opsPerSecond), 1, '≥ 1'),
    atLeast('CreateJob ops/s ÷ echo CreateJob ops/s, 64 in flight', ratio(create64?.opsPerSecond, find('echo', 'CreateJob', 64)?.opsPerSecond), 0.8, '≥ 0.8'),
    {
      target: 'server CPU per CreateJob ÷ etcd server CPU per put, 64 in flight',
      measured: cpuRatio,
      required: '≤ 1',
      met: cpuRatio === undefined ? undefined : cpuRatio <= 1,
    },
    atLeast('CreateBatch jobs/s, durable (best in-flight count)', Number.isFinite(bestBatch) ? bestBatch : undefined, 50_000, '≥ 50,000'),
  ];
  // Two references for "etcd's lock" (see etcd-npm-lock-cases.ts): etcd's Lock service, which
  // waits in line inside etcd, and the etcd3 npm client's Lock, which the issue measured.
  for (const [peer, prefix] of [
    ['etcd Lock service', ''],
    ['etcd3 npm client Lock', 'npm '],
  ] as const) {
    checks.push(
      atLeast(
        `contended lock+release ops/s ÷ ${peer}, 64 waiters`,
        ratio(find('jobkeep', 'lock contended', 64)?.opsPerSecond, find('etcd', `${prefix}lock contended`, 64)?.opsPerSecond),
        10,
        '≥ 10',
      ),
    );
    for (const concurrency of [1, 16, 64]) {
      checks.push(
        atLeast(
          `uncontended lock+release ops/s ÷ ${peer}, distinct names, ${concurrency} in flight`,
          ratio(find('jobkeep', 'lock distinct', concurrency)?.opsPerSecond, find('etcd', `${prefix}lock distinct`, concurrency)?.opsPerSecond),
          3,
          '≥ 3',
        ),
      );
    }
  }
  return checks;
}

export function targetsTable(checks: TargetCheck[]): string {
  const rows = checks.map((check) => {
    const measured = check.measured === undefined ? 'not measured' : check.measured >= 100 ? Math.round(check.measured).toLocaleString('en') : check.measured.toFixed(2);
    const met = check.met === undefined ? '–' : check.met ? 'yes' : 'no';
    return `| ${check.target} | ${measured} | ${check.required} | ${met} |`;
  });
  return ['| target | measured | required | met |', '| --- | ---: | --- | --- |', ...rows].join('\n');
}
