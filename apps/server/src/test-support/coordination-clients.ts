import { LeaseService, LockService, NodeRegistry, createTypedClient, type TypedClient } from '@jobkeep/api';
import { afterEach } from 'vitest';

export interface CoordinationClients {
  leases: TypedClient<typeof LeaseService>;
  locks: TypedClient<typeof LockService>;
  nodes: TypedClient<typeof NodeRegistry>;
}

/** Typed clients of the coordination services of a test server, closed after each test. */
export function useCoordinationClients(): (address: string) => CoordinationClients {
  const open: CoordinationClients[] = [];
  afterEach(() => {
    for (const clients of open.splice(0)) for (const client of Object.values(clients)) client.close();
  });
  return (address) => {
    const options = { defaultDeadlineMs: 10_000 };
    const clients = {
      leases: createTypedClient(LeaseService, address, options),
      locks: createTypedClient(LockService, address, options),
      nodes: createTypedClient(NodeRegistry, address, options),
    };
    open.push(clients);
    return clients;
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; for changes made by timers in the server. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not true after ${timeoutMs} ms`);
    await sleep(50);
  }
}
