import { aborted, failedPrecondition } from '@jobkeep/errors';
import type { CoordinationDatabase } from './coordination-database.js';
import type { Job, JobState } from './job-model.js';
import type { ClaimProof } from './job-store.js';
import { selectLiveLeaseInTx } from './lease-writes.js';

/** What anyone may do to a claimed job without its claim: an operator's cancel or hold. */
const WITHOUT_CLAIM: readonly JobState[] = ['CANCELLED', 'HELD'];

/**
 * Fences a state change by the claim ClaimJob gave out. A claimed job is finished, failed,
 * retried or moved on only by a request that shows its claim, and only while the claim's lease
 * lives: a claimer whose lease ran out has lost the job even before the sweeper hands it back.
 * A claim that is not the job's is ABORTED (the claimer lost it, as with a stale fencing token).
 * Like lock guards, coordination.db is read outside the caller's transaction, which is safe
 * because every store call and every lease change of this server run on one thread.
 */
export function checkClaimInTx(
  coordination: CoordinationDatabase,
  job: Job,
  proof: ClaimProof | undefined,
  newState: JobState,
  now: number,
): void {
  const claim = job.claim;
  if (proof === undefined) {
    if (claim === undefined || WITHOUT_CLAIM.includes(newState)) return;
    throw failedPrecondition(
      `job ${job.id} is claimed under lease ${claim.leaseId} (token ${claim.token}); moving it to ${newState} needs that claim`,
    );
  }
  if (claim === undefined) {
    throw aborted(`job ${job.id} is ${job.state} at revision ${job.revision} and no longer claimed: claim ${proof.token} under lease ${proof.leaseId} has ended`);
  }
  if (claim.leaseId !== proof.leaseId || claim.token !== proof.token) {
    throw aborted(
      `job ${job.id} is claimed under lease ${claim.leaseId} with token ${claim.token}, not lease ${proof.leaseId} token ${proof.token}`,
    );
  }
  if (selectLiveLeaseInTx(coordination, claim.leaseId, now) === undefined) {
    throw aborted(`job ${job.id} was claimed under lease ${claim.leaseId}, which has ended; the job goes back to its queue`);
  }
}
