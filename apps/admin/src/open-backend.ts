import type { AdminBackend } from './admin-backend.js';
import type { AdminTarget } from './admin-target.js';

/**
 * The backend for a target: a server's AdminService, or the files themselves. Each is loaded
 * only when used, so that a command does not pay for starting gRPC and SQLite both.
 */
export async function openBackend(target: AdminTarget): Promise<AdminBackend> {
  if (target.mode === 'live') return (await import('./live-backend.js')).connectLiveBackend(target.server, target.security);
  return (await import('./offline-backend.js')).openOfflineBackend(target);
}
