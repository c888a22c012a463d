import fs from 'node:fs';
import path from 'node:path';
import { AdminService, createTypedClient, type TypedClient } from '@jobkeep/api';
import { afterEach } from 'vitest';
import type { ServerConfig } from '../server-config.js';
import { useTestServers, type TestServer } from './test-server.js';

export type AdminClient = TypedClient<typeof AdminService>;

/** Test servers (see useTestServers), each with an AdminService client closed after each test. */
export function useAdminServers(): { start: (settings?: Partial<ServerConfig>) => Promise<TestServer & { admin: AdminClient }> } {
  const servers = useTestServers();
  const clients: AdminClient[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  return {
    async start(settings) {
      const started = await servers.start(settings);
      const admin = createTypedClient(AdminService, started.server.address, { defaultDeadlineMs: 10_000 });
      clients.push(admin);
      return { ...started, admin };
    },
  };
}

export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const messages: T[] = [];
  for await (const message of stream) messages.push(message);
  return messages;
}

/** A streamed copy (`started`, then chunks) written to `file`; returns what `started` announced. */
export async function saveCopy(
  stream: AsyncIterable<{ part: { case: 'started'; value: { sourceBytes: bigint; copyBytes: bigint } } | { case: 'chunk'; value: Uint8Array } | { case: undefined; value?: undefined } }>,
  file: string,
): Promise<{ sourceBytes: bigint; copyBytes: bigint; chunks: number }> {
  const messages = await collect(stream);
  const [first, ...rest] = messages;
  if (first?.part.case !== 'started') throw new Error(`a copy starts with its sizes, not ${first?.part.case}`);
  const chunks = rest.map((message) => {
    if (message.part.case !== 'chunk') throw new Error(`a copy continues with chunks only, not ${message.part.case}`);
    return message.part.value;
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat(chunks));
  return { sourceBytes: first.part.value.sourceBytes, copyBytes: first.part.value.copyBytes, chunks: chunks.length };
}
